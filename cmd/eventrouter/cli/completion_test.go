package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// generated runs an eventrouter command that writes a generated file and
// returns the file in a temporary directory.
func generated(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), args, WithOutput(&stdout, &stderr)); code != 0 {
		t.Fatalf("eventrouter %s exited %d: %s", strings.Join(args, " "), code, &stderr)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommandDocs checks that the flags read from each command's usage
// are the flags it has: completions and the man page are made from them.
func TestCommandDocs(t *testing.T) {
	want := map[string][]string{
		"run":           {"admin-listen", "config", "listen"},
		"check":         {"config", "test"},
		"test":          {"run", "v"},
		"health":        {"admin", "config", "live", "timeout"},
		"hash-password": {"cost"},
	}
	for _, d := range (&app{}).commandDocs() {
		var got []string
		for _, f := range d.flags {
			got = append(got, f.name)
			if f.doc == "" {
				t.Errorf("%s -%s: no description", d.name, f.name)
			}
		}
		if !slices.Equal(got, want[d.name]) {
			t.Errorf("%s: flags %v, want %v", d.name, got, want[d.name])
		}
		if !strings.HasPrefix(d.usage, "Usage: eventrouter") {
			t.Errorf("%s: usage starts %q", d.name, firstLine(d.usage))
		}
	}
}

// TestBashCompletion sources the bash script and asks it to complete.
func TestBashCompletion(t *testing.T) {
	script := generated(t, "eventrouter.bash", "completion", "bash")
	cases := []struct {
		line string // what is typed; the last word is completed
		want []string
		not  []string
	}{
		{"eventrouter ch", []string{"check"}, []string{"test"}},
		{"eventrouter ", []string{"run", "check", "test", "health", "schema", "completion", "man", "version", "help"}, nil},
		{"eventrouter check --", []string{"--config", "--test"}, []string{"--listen"}},
		{"eventrouter --", []string{"--config", "--listen", "--admin-listen"}, nil},
		{"eventrouter test -", []string{"--run", "-v"}, []string{"--v"}},
		{"eventrouter completion ", []string{"bash", "zsh", "fish"}, nil},
		{"eventrouter help ch", []string{"check"}, nil},
		{"eventrouter check --config " + filepath.Join("testdata", "ty"), []string{filepath.Join("testdata", "typo.yaml")}, nil},
		{"eventrouter run --listen ", nil, []string{"testdata"}},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			words := strings.Split(c.line, " ")
			var quoted []string
			for _, w := range words {
				quoted = append(quoted, "'"+w+"'")
			}
			prog := ". " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
				strconv.Itoa(len(words)-1) + "; _eventrouter; printf '%s\\n' \"${COMPREPLY[@]}\""
			out, err := exec.Command("bash", "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			got := strings.Fields(string(out))
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("completions %v lack %s", got, w)
				}
			}
			for _, w := range c.not {
				if slices.Contains(got, w) {
					t.Errorf("completions %v hold %s", got, w)
				}
			}
		})
	}
}

// TestFishCompletion asks fish to complete with the fish script, where
// fish is installed.
func TestFishCompletion(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish is not installed (apt-get install fish): the fish completions are not tried")
	}
	script := generated(t, "eventrouter.fish", "completion", "fish")
	cases := []struct {
		line string
		want []string
	}{
		{"eventrouter ch", []string{"check"}},
		{"eventrouter check --", []string{"--config", "--test"}},
		{"eventrouter test -", []string{"-v", "--run"}},
		{"eventrouter completion ", []string{"bash", "zsh", "fish"}},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			out, err := exec.Command(fish, "--no-config", "-c", "source "+script+"; complete -C '"+c.line+"'").CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			var got []string
			for _, l := range strings.Split(string(out), "\n") {
				got = append(got, strings.Split(l, "\t")[0])
			}
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("completions %q lack %s", out, w)
				}
			}
		})
	}
}

// TestZshCompletion checks the zsh script parses, where zsh is installed.
func TestZshCompletion(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed (apt-get install zsh): the zsh completion is not parsed")
	}
	script := generated(t, "_eventrouter", "completion", "zsh")
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v: %s", err, out)
	}
	b, _ := os.ReadFile(script)
	if !strings.HasPrefix(string(b), "#compdef eventrouter\n") {
		t.Error("the zsh script does not start with #compdef eventrouter")
	}
}

// TestManPage checks the man page names every command and renders
// without a roff warning, where groff is installed.
func TestManPage(t *testing.T) {
	page := generated(t, "eventrouter.1", "man")
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range (&app{}).commands() {
		if !strings.Contains(string(b), ".SS "+roffText(c.name)+"\n") {
			t.Errorf("the man page has no section for %s", c.name)
		}
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff is not installed: the man page is not rendered")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("groff: %v: %s", err, &stderr)
	}
	for _, want := range []string{"EVENTROUTER(1)", "SYNOPSIS", "eventrouter check [--config FILE] [--test]", "/etc/eventrouter/config.yaml"} {
		if !strings.Contains(stripOverstrike(string(out)), want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
}

// stripOverstrike removes groff's bold and underline (x\bx, _\bx) and
// turns its hyphens back into ASCII.
func stripOverstrike(s string) string {
	r := []rune(s)
	var out []rune
	for i := 0; i < len(r); i++ {
		if i+1 < len(r) && r[i+1] == '\b' {
			i++
			continue
		}
		out = append(out, r[i])
	}
	return strings.NewReplacer("‐", "-", "−", "-").Replace(string(out))
}
