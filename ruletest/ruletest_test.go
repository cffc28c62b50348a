package ruletest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/eventrouter/eventrouter/ruletest"
	"go.yaml.in/yaml/v3"
)

// TestRepository runs every rule-test file of the repository, so that
// `go test ./...` runs them, and fails on any rule no case exercises.
func TestRepository(t *testing.T) {
	ruletest.RunAll(t, repoRoot(t))
}

// TestFixtures runs the runner's own passing fixture through the Go API.
func TestFixtures(t *testing.T) {
	ruletest.Run(t, "testdata/app_test.yaml")
}

// repoRoot is the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
}

// TestFailures checks that each case of failing_test.yaml fails, and
// fails for its own reason.
func TestFailures(t *testing.T) {
	rep := ruletest.RunFiles([]string{"testdata/failing_test.yaml"}, ruletest.Options{})
	got := map[string]string{}
	for _, r := range rep.Results {
		var f *ruletest.Failure
		if !errors.As(r.Err, &f) {
			t.Fatalf("%s: want a *Failure, got %v", r.ID(), r.Err)
		}
		got[r.Name] = strings.Join(f.Problems, "\n")
	}
	tests := []struct {
		name string
		want []string // lines or fragments the message must hold
	}{
		{"wrong event name", []string{
			"actions differ (-want +got):",
			`- {"kind":"emit","event":"welcome!","args":["hello",""]}`,
			`+ {"kind":"emit","event":"welcome","args":["hello",""]}`,
			`  {"kind":"join","rooms":["lobby"]}`,
			`action 1: event: want "welcome!", got "welcome"`,
		}},
		{"one action too many", []string{`+ {"kind":"join","rooms":["lobby"]}`}},
		{"one action missing", []string{
			`  {"kind":"set","key":"count","value":1}`,
			`- {"kind":"log","message":"said"}`,
		}},
		{"contains out of order", []string{
			"expected actions not found in order (- missing):",
			`  {"kind":"join"}`,
			`- {"kind":"emit"}`,
			`+ {"kind":"emit","event":"welcome","args":["hello",""]}`,
		}},
		{"no actions wanted", []string{"want no actions, got:", `+ {"kind":"reply","args":[2]}`}},
		{"unexpected rule error", []string{"unexpected rule error:", `rule "boom": do[0]: event "boom": invalid operation`}},
		{"missing rule error", []string{`want a rule error containing "cannot convert", got none`}},
		{"matched differs", []string{"matched rules differ:", `- "gate", "hello"`, `+ "hello"`}},
		{"rule given is compared", []string{`- {"kind":"join","rule":"gate"}`, `+ {"kind":"join","rule":"hello","rooms":["lobby"]}`}},
	}
	if len(got) != len(tests) {
		t.Errorf("ran %d cases, the table checks %d", len(got), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, ok := got[tt.name]
			if !ok {
				t.Fatalf("case did not run or passed")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
	if rep.Passed() != 0 || rep.Failed() != len(tests) || rep.Summary() != "0 passed, 9 failed" {
		t.Errorf("summary %q", rep.Summary())
	}
	if len(rep.Coverage) != 1 || !slices.Equal(rep.Coverage[0].Uncovered, []string{"gate", "user"}) {
		t.Errorf("coverage = %+v, want gate and user uncovered", rep.Coverage)
	}
}

// TestCoverageAcrossFiles checks that coverage adds up every file testing
// a config, and that selecting cases turns it off.
func TestCoverageAcrossFiles(t *testing.T) {
	files := []string{"testdata/failing_test.yaml", "testdata/app_test.yaml"}
	rep := ruletest.RunFiles(files, ruletest.Options{})
	if len(rep.Coverage) != 1 || len(rep.Coverage[0].Uncovered) != 0 || rep.Coverage[0].Rules != 6 {
		t.Errorf("coverage = %+v, want all 6 rules exercised", rep.Coverage)
	}
	if got := rep.Summary(); got != "11 passed, 9 failed" {
		t.Errorf("summary = %q", got)
	}
}

// TestBrokenFiles checks that a test file or config that cannot load is
// one failure naming the file, and counts as broken.
func TestBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bad.yaml", "rules:\n  - name: x\n    on: ev\n    do: [nope()]\n")
	write(t, dir, "bad_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n    expect: {no_actions: true}\n")
	write(t, dir, "typo_test.yaml", "config: ../config.yaml\ntests:\n  - name: a\n    evnt: {on: ev}\n")
	write(t, dir, "missing_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n    expect: {no_actions: true}\n")
	tests := []struct {
		file string
		want []string
	}{
		{"bad_test.yaml", []string{"load config " + filepath.Join(dir, "bad.yaml"), "1 problem(s)", "nope"}},
		{"typo_test.yaml", []string{"typo_test.yaml:4:", `tests[0]: unknown key evnt, did you mean event?`}},
		{"missing_test.yaml", []string{"load config", "missing.yaml", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep := ruletest.RunFiles([]string{filepath.Join(dir, tt.file)}, ruletest.Options{})
			if rep.Broken != 1 || rep.Failed() != 1 || len(rep.Results) != 1 {
				t.Fatalf("broken=%d failed=%d results=%d, want one broken file", rep.Broken, rep.Failed(), len(rep.Results))
			}
			msg := rep.Results[0].Err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestParseErrors is a table of invalid test files and the error each
// must produce, with its line.
func TestParseErrors(t *testing.T) {
	const ok = "    expect: {no_actions: true}\n"
	tests := []struct {
		name, path, src, want string
	}{
		{"invalid YAML", "x_test.yaml", "tests: [", "x_test.yaml: invalid YAML"},
		{"not a mapping", "x_test.yaml", "- a\n", "x_test.yaml:1: want a mapping"},
		{"no tests", "x_test.yaml", "config: c.yaml\n", "tests: want a list of cases"},
		{"no default config", "rules.yaml", "tests:\n  - name: a\n    event: {on: ev}\n" + ok, "config: required"},
		{"unknown top key", "x_test.yaml", "cases: []\n", `x_test.yaml:1: unknown key cases`},
		{"unknown nested key", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev, dta: 1}\n" + ok, `x_test.yaml:3: tests[0]: unknown key event.dta, did you mean data?`},
		{"unknown socket key", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n    socket: {handshake: {autth: {}}}\n" + ok, `unknown key socket.handshake.autth, did you mean auth?`},
		{"unknown action field", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n    expect: {actions: [{kind: emit, evnt: x}]}\n", `tests[0] "a": expect.actions[0]: unknown field "evnt", did you mean event?`},
		{"action without kind", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n    expect: {actions: [{event: x}]}\n", `expect.actions[0]: kind: required`},
		{"wrong type", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev, ack: maybe}\n" + ok, `x_test.yaml:2: tests[0]: line 3: cannot unmarshal`},
		{"no name", "x_test.yaml", "tests:\n  - event: {on: ev}\n" + ok, "name: every case needs a name"},
		{"duplicate name", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n" + ok + "  - name: a\n    event: {on: ev}\n" + ok, `x_test.yaml:5: tests[1] "a": duplicate case name, first used on line 2`},
		{"no trigger", "x_test.yaml", "tests:\n  - name: a\n    event: {data: 1}\n" + ok, "event.on: required"},
		{"connect is not a trigger", "x_test.yaml", "tests:\n  - name: a\n    event: {on: connect}\n" + ok, "joins with connection"},
		{"lower-case route", "x_test.yaml", "tests:\n  - name: a\n    event: {on: post /x}\n" + ok, `"post /x" is not a route`},
		{"data and args", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev, data: 1, args: [1]}\n" + ok, "give data or args, not both"},
		{"null data and args", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev, data: null, args: [1]}\n" + ok, "give data or args, not both"},
		{"body on a socket event", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev, body: {}}\n" + ok, "body and request are for HTTP routes"},
		{"data on a route", "x_test.yaml", "tests:\n  - name: a\n    event: {on: POST /x, data: 1}\n" + ok, "data, args and ack are for socket events"},
		{"socket on a route", "x_test.yaml", "tests:\n  - name: a\n    event: {on: POST /x}\n    socket: {id: s}\n" + ok, "a route has no socket"},
		{"reason outside disconnect", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev, reason: x}\n" + ok, "only a disconnect has a reason"},
		{"nothing expected", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n", "expect: nothing to check"},
		{"two expectations", "x_test.yaml", "tests:\n  - name: a\n    event: {on: ev}\n    expect: {no_actions: true, actions: []}\n", "exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ruletest.Parse(tt.path, []byte(tt.src))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestParseConfigPath checks how a file names its config.
func TestParseConfigPath(t *testing.T) {
	const body = "tests:\n  - name: a\n    event: {on: ev}\n    expect: {no_actions: true}\n"
	tests := []struct{ path, src, want string }{
		{"dir/config_test.yaml", body, filepath.FromSlash("dir/config.yaml")},
		{"dir/app_test.yml", body, filepath.FromSlash("dir/app.yml")},
		{"dir/x_test.yaml", "config: ../other.yaml\n" + body, "other.yaml"},
		{"dir/anything.yaml", "config: sub/c.yaml\n" + body, filepath.FromSlash("dir/sub/c.yaml")},
	}
	for _, tt := range tests {
		s, err := ruletest.Parse(tt.path, []byte(tt.src))
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if s.Config != tt.want {
			t.Errorf("%s: config = %q, want %q", tt.path, s.Config, tt.want)
		}
	}
}

// TestCheck is a table of Go cases against a config built in Go; it covers
// comparison details the YAML fixtures do not.
func TestCheck(t *testing.T) {
	cfg := rules.Defaults()
	cfg.Vars = map[string]any{"n": 1, "tag": "x"}
	cfg.Rules = []rules.RuleSpec{
		{Name: "echo", On: "echo", Do: []string{`emit("echo", spread(args))`}},
		{Name: "count", On: "count", Do: []string{`emit("count", len(args), vars.n, vars.tag)`}},
		{Name: "state", On: "st", Do: []string{`set("seen", socket.state.seen)`, `log_at("warn", socket.id, socket.rooms)`}},
		{Name: "hs", On: "connection", Do: []string{`emit("hs", socket.handshake.auth, socket.handshake.headers)`}},
		{Name: "bye", On: "disconnect", When: `reason == "ping timeout"`, Do: []string{`log(reason)`}},
		{Name: "post", On: "POST /items/{id...}", Do: []string{`respond(201, {"id": request.params.id, "n": 1, "ok": true})`}},
	}
	rs, err := rules.Compile(&cfg, builtin.Registry())
	if err != nil {
		t.Fatal(err)
	}
	type A = ruletest.Action
	tests := []struct {
		name    string
		c       ruletest.Case
		wantErr string // "" passes
	}{
		{"ints equal floats", ruletest.Case{Event: ruletest.Event{On: "echo", Args: []any{1, 2.5, int64(3)}},
			Expect: ruletest.Expect{Actions: []A{{"kind": "emit", "event": "echo", "args": []any{1.0, 2.5, 3}}}}}, ""},
		{"nested ints equal floats", ruletest.Case{Event: ruletest.Event{On: "echo", Data: map[string]any{"a": []any{1}}},
			Expect: ruletest.Expect{Actions: []A{{"kind": "emit", "event": "echo", "args": []any{map[string]any{"a": []any{1.0}}}}}}}, ""},
		{"an omitted field must be empty", ruletest.Case{Event: ruletest.Event{On: "echo", Data: "x"},
			Expect: ruletest.Expect{Actions: []A{{"kind": "emit", "event": "echo"}}}}, `args: want nothing, got ["x"]`},
		{"rule and level are ignored unless given", ruletest.Case{Event: ruletest.Event{On: "st"}, Socket: ruletest.Socket{ID: "s", State: map[string]any{"seen": true}},
			Expect: ruletest.Expect{Actions: []A{{"kind": "set", "key": "seen", "value": true}, {"kind": "log", "message": `s ["s"]`}}}}, ""},
		{"level is compared when given", ruletest.Case{Event: ruletest.Event{On: "st"},
			Expect: ruletest.Expect{Actions: []A{{"kind": "set", "key": "seen"}, {"kind": "log", "message": `socket-1 ["socket-1"]`, "level": "info"}}}}, `level: want "info", got "warn"`},
		{"vars merge over the config's", ruletest.Case{Event: ruletest.Event{On: "count", Args: []any{"a", "b"}}, Vars: map[string]any{"n": 5},
			Expect: ruletest.Expect{Actions: []A{{"kind": "emit", "event": "count", "args": []any{2, 5, "x"}}}}}, ""},
		{"without case vars the config's apply", ruletest.Case{Event: ruletest.Event{On: "count"},
			Expect: ruletest.Expect{Actions: []A{{"kind": "emit", "event": "count", "args": []any{0, 1, "x"}}}}}, ""},
		{"auth becomes JSON, headers lower-case", ruletest.Case{Event: ruletest.Event{On: "connection"}, Socket: ruletest.Socket{Handshake: rules.Handshake{Auth: map[string]any{"n": 1}, Headers: map[string]string{"X-Id": "7"}}},
			Expect: ruletest.Expect{Contains: []A{{"args": []any{map[string]any{"n": 1}, map[string]any{"x-id": "7"}}}}}}, ""},
		{"contains is a JSON subset", ruletest.Case{Event: ruletest.Event{On: "POST /items/a/b"},
			Expect: ruletest.Expect{Contains: []A{{"status": 201, "body": map[string]any{"id": "a/b"}}}}}, ""},
		{"contains fails on a wrong nested value", ruletest.Case{Event: ruletest.Event{On: "POST /items/a"},
			Expect: ruletest.Expect{Contains: []A{{"body": map[string]any{"ok": false}}}}}, `- {"body":{"ok":false}}`},
		{"contains needs list lengths to agree", ruletest.Case{Event: ruletest.Event{On: "echo", Args: []any{1, 2}},
			Expect: ruletest.Expect{Contains: []A{{"args": []any{1}}}}}, "expected actions not found"},
		{"a when that does not hold matches nothing", ruletest.Case{Event: ruletest.Event{On: "disconnect", Reason: "transport close"},
			Expect: ruletest.Expect{NoActions: true, Matched: []string{}}}, ""},
		{"a when that holds", ruletest.Case{Event: ruletest.Event{On: "disconnect", Reason: "ping timeout"},
			Expect: ruletest.Expect{Actions: []A{{"kind": "log", "message": "ping timeout"}}, Matched: []string{"bye"}}}, ""},
		{"an unknown route yields nothing", ruletest.Case{Event: ruletest.Event{On: "GET /items/a"},
			Expect: ruletest.Expect{NoActions: true}}, ""},
		{"a request method must agree with the trigger", ruletest.Case{Event: ruletest.Event{On: "POST /items/a", Request: ruletest.Request{Method: "GET"}}, Expect: ruletest.Expect{NoActions: true}}, `event.request.method: GET contradicts event.on "POST /items/a"`},
		{"an invalid case is an error", ruletest.Case{Event: ruletest.Event{On: "echo", Data: 1, Args: []any{2}}, Expect: ruletest.Expect{NoActions: true}}, "give data or args, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Name = tt.name
			err := ruletest.Check(rs, tt.c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected failure: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("passed, want a failure with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("failure:\n%v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestFind checks which directories discovery walks.
func TestFind(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"config_test.yaml", "config.yaml", "examples/rooms/rooms_test.yaml", "examples/auth_test.yml",
		"node_modules/x/y_test.yaml", ".git/z_test.yaml", "testdata/bad_test.yaml", "vendor/v_test.yaml",
		"_old/o_test.yaml", "examples/not_a_test.yaml.bak",
	} {
		write(t, root, p, "")
	}
	got, err := ruletest.Find(root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i], _ = filepath.Rel(root, got[i])
		got[i] = filepath.ToSlash(got[i])
	}
	want := []string{"config_test.yaml", "examples/auth_test.yml", "examples/rooms/rooms_test.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("Find = %q, want %q", got, want)
	}
	// A directory named on purpose is searched even when Find would skip it.
	got, err = ruletest.Find(filepath.Join(root, "testdata"))
	if err != nil || len(got) != 1 {
		t.Errorf("Find(testdata) = %q, %v; want its one file", got, err)
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// requireRuleTests makes a shipped config without rule tests fail
// TestShippedConfigsHaveRuleTests rather than only be logged. It is on:
// config.yaml and every examples/ config ship with their rule tests.
const requireRuleTests = true

// TestShippedConfigsHaveRuleTests wants a sibling *_test.yaml for
// config.yaml and for every config under examples/ (a YAML file with a
// top-level rules key), so a new example cannot ship untested.
func TestShippedConfigsHaveRuleTests(t *testing.T) {
	report := t.Logf
	if requireRuleTests {
		report = t.Errorf
	}
	root := repoRoot(t)
	configs := []string{filepath.Join(root, "config.yaml")}
	err := filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d os.DirEntry, err error) error {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return filepath.SkipAll
		case err != nil:
			return err
		case d.IsDir() && path != filepath.Join(root, "examples") && (d.Name() == "testdata" || d.Name() == "node_modules"):
			return filepath.SkipDir
		case d.IsDir() || ruletest.IsTestFile(d.Name()):
			return nil
		case strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml"):
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var top map[string]any
			if yaml.Unmarshal(src, &top) == nil && top["rules"] != nil {
				configs = append(configs, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		if _, err := os.Stat(ruletest.SiblingTest(c)); err != nil {
			rel, _ := filepath.Rel(root, c)
			report("%s has no rule tests: add %s covering every rule", rel, filepath.Base(ruletest.SiblingTest(c)))
		}
	}
}

// TestPluginsSkip checks that a test file whose plugins key names a plugin
// the registry lacks is skipped, saying which, and runs when it has it.
func TestPluginsSkip(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "config.yaml", "rules:\n  - name: loud\n    on: say\n    do:\n      - shout(data)\n")
	write(t, dir, "config_test.yaml", "plugins: [shout]\ntests:\n  - name: shouts\n    event: {on: say, data: hi}\n    expect:\n      actions:\n        - {kind: shout, args: [hi]}\n")
	file := filepath.Join(dir, "config_test.yaml")

	rep := ruletest.RunFiles([]string{file}, ruletest.Options{})
	if got, want := rep.Summary(), "0 passed, 0 failed, 1 skipped"; got != want {
		t.Errorf("without the plugin: %q, want %q", got, want)
	}
	if len(rep.Results) != 1 || !strings.Contains(rep.Results[0].Skipped, "needs plugin(s) shout") {
		t.Errorf("without the plugin: results %+v, want one skip naming shout", rep.Results)
	}

	withShout := func() *rules.Registry {
		reg := builtin.Registry()
		reg.MustRegister(rules.Plugin{
			Name: "shout",
			Functions: []rules.Function{{
				Name: "shout", Types: []any{new(func(any) rules.Action)},
				Build: func(args ...any) (any, error) { return rules.Action{Kind: "shout", Args: args}, nil },
			}},
			Kinds:    []string{"shout"},
			Executor: rules.ExecutorFunc(func(context.Context, rules.Effects, rules.Action) error { return nil }),
		})
		return reg
	}
	rep = ruletest.RunFiles([]string{file}, ruletest.Options{Registry: withShout})
	if got, want := rep.Summary(), "1 passed, 0 failed"; got != want {
		t.Errorf("with the plugin: %q, want %q (%+v)", got, want, rep.Results)
	}
}
