package eventrouter_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// TestDocsDocumentEverything keeps the references true: every config key
// must appear in docs/configuration.md, and every rule key and every
// function a rule can call in docs/rules.md.
func TestDocsDocumentEverything(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	configDoc, rulesDoc := read("docs/configuration.md"), read("docs/rules.md")
	for _, k := range configKeys("", reflect.TypeOf(rules.Config{})) {
		if k != "rules" && !strings.Contains(configDoc, "`"+k+"`") {
			t.Errorf("docs/configuration.md does not document config key %s", k)
		}
	}
	for _, p := range builtin.Registry().Plugins() {
		if p.Config == nil {
			continue
		}
		for _, k := range configKeys("plugins."+p.Name, reflect.TypeOf(p.Config).Elem()) {
			if !strings.Contains(configDoc, "`"+k+"`") {
				t.Errorf("docs/configuration.md does not document config key %s (plugin %s)", k, p.Name)
			}
		}
	}
	for _, k := range configKeys("", reflect.TypeOf(rules.RuleSpec{})) {
		if !strings.Contains(rulesDoc, "`"+k+"`") {
			t.Errorf("docs/rules.md does not document rule key %s", k)
		}
	}
	for _, p := range builtin.Registry().Plugins() {
		for _, f := range p.Functions {
			if !strings.Contains(rulesDoc, "`"+f.Name+"(") {
				t.Errorf("docs/rules.md does not document %s (plugin %s)", f.Usage, p.Name)
			}
		}
	}
	// The variables and read functions of the expression environment.
	env := reflect.TypeOf(rules.Env{})
	for i := 0; i < env.NumField(); i++ {
		name := env.Field(i).Tag.Get("expr")
		if strings.HasPrefix(name, "$") {
			continue // internal: only the compiler's rewrites read it ($budget)
		}
		want := "`" + name + "`"
		switch env.Field(i).Type.Kind() {
		case reflect.Func:
			want = "`" + name + "("
		case reflect.Struct:
			want = "`" + name + "."
		}
		if !strings.Contains(rulesDoc, want) {
			t.Errorf("docs/rules.md does not document the expression name %s", name)
		}
	}
}

// configKeys lists the dotted koanf keys of a config struct's leaves.
func configKeys(prefix string, typ reflect.Type) []string {
	var keys []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		key := f.Tag.Get("koanf")
		if prefix != "" {
			key = prefix + "." + key
		}
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, configKeys(key, f.Type)...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

// TestDocLinks checks that every relative link in README.md and docs/*.md
// points at a file that exists and, when it names an anchor in a markdown
// file, at a heading of that file.
func TestDocLinks(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"README.md"}, docs...)
	if len(docs) < 7 {
		t.Fatalf("found %v; want README.md and the docs/ pages", docs)
	}
	checked := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range markdownLinks(string(text)) {
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			checked++
			path, anchor, _ := strings.Cut(link, "#")
			target := doc
			if path != "" {
				target = filepath.Join(filepath.Dir(doc), path)
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: link %s: %v", doc, link, err)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			body, err := os.ReadFile(target)
			if err != nil {
				t.Errorf("%s: link %s: %v", doc, link, err)
				continue
			}
			if !headingAnchors(string(body))[anchor] {
				t.Errorf("%s: link %s: %s has no heading with anchor #%s", doc, link, target, anchor)
			}
		}
	}
	if checked == 0 {
		t.Error("no relative links found; is the link pattern broken?")
	}
}

// TestMarkdownLinkHelpers pins the link and anchor extraction the link
// test relies on.
func TestMarkdownLinkHelpers(t *testing.T) {
	text := "# Title\n\nSee [rules](docs/rules.md#rule-keys) and ![plot](bench/p.svg \"p\").\n\n" +
		"```sh\n[not](a-link.md)\n# not a heading\n```\n\n## Triggers (`on`)\n\n## Triggers (`on`)\n"
	links := markdownLinks(text)
	if want := []string{"docs/rules.md#rule-keys", "bench/p.svg"}; !reflect.DeepEqual(links, want) {
		t.Errorf("links %q, want %q", links, want)
	}
	anchors := headingAnchors(text)
	for _, a := range []string{"title", "triggers-on", "triggers-on-1"} {
		if !anchors[a] {
			t.Errorf("no anchor %s in %v", a, anchors)
		}
	}
	if anchors["not-a-heading"] {
		t.Error("a comment in a code block was taken for a heading")
	}
}

// markdownLinks returns the targets of the inline links and images
// outside code blocks.
func markdownLinks(text string) []string {
	mdLink := regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	var links []string
	for _, line := range proseLines(text) {
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			links = append(links, m[1])
		}
	}
	return links
}

// headingAnchors returns the anchors GitHub gives the headings of text:
// lower case, punctuation dropped, spaces as hyphens, and -1, -2… on
// repeats.
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(text) {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			seen[a]++
			a += "-" + strconv.Itoa(n)
		} else {
			seen[a] = 1
		}
		anchors[a] = true
	}
	return anchors
}

// proseLines returns the lines of text outside fenced code blocks.
func proseLines(text string) []string {
	var out []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, line)
		}
	}
	return out
}

// TestREADMEQuickStart keeps the front page's promise: on a fresh machine,
// exactly two commands, one that runs the daemon on the default config and
// one that runs the whole test suite, the script CI runs.
func TestREADMEQuickStart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Quick start\n")
	if !ok {
		t.Fatal("README.md has no Quick start section")
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the Quick start section has no sh block")
	}
	var cmds []string
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		cmds = append(cmds, strings.TrimSpace(cmd))
	}
	if want := []string{"go run ./cmd/eventrouter", "./test.sh"}; !reflect.DeepEqual(cmds, want) {
		t.Errorf("quick start commands %q, want %q", cmds, want)
	}
	if fi, err := os.Stat("test.sh"); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("test.sh must exist and be executable: %v", err)
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "\n./test.sh\n") {
		t.Error(".ci/run does not run ./test.sh, the suite the README promises")
	}
	if _, err := os.Stat("config.yaml"); err != nil {
		t.Errorf("the default config the first command runs: %v", err)
	}
}
