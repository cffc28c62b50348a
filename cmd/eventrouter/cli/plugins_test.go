package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/emit"
	"github.com/eventrouter/eventrouter/rules"
)

// shout is a plugin of the test's own: shout(text) emits text in upper case.
func shout() rules.Plugin {
	return rules.Plugin{
		Name: "shout",
		Functions: []rules.Function{{
			Name: "shout", Usage: "shout(text)", Doc: "emits text in upper case.",
			Types: []any{new(func(string) rules.Action)},
			Build: func(args ...any) (any, error) {
				return rules.Action{Kind: "shout", Args: []any{strings.ToUpper(args[0].(string))}}, nil
			},
		}},
		Kinds: []string{"shout"},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			return fx.Emit("shout", a.Args)
		}),
	}
}

// TestWithPlugins checks that check and test compile rules calling a
// plugin's function with WithPlugins, and fail on them without it; and
// that a plugin clashing with a built-in is refused before any command
// runs. (The daemon is covered by examples/plugin, which builds a custom
// binary and runs it.)
func TestWithPlugins(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config.yaml", "rules:\n  - name: loud\n    on: say\n    do:\n      - shout(data)\n")
	write("config_test.yaml", "tests:\n  - name: shouts\n    event: {on: say, data: hi}\n    expect:\n      actions:\n        - {kind: shout, args: [HI]}\n")

	for _, tc := range []struct {
		name    string
		args    []string
		plugins []rules.Plugin
		code    int
		want    string
	}{
		{"check with the plugin", []string{"check", "--test", "--config", config}, []rules.Plugin{shout()}, 0, "1 passed, 0 failed"},
		{"test with the plugin", []string{"test", dir}, []rules.Plugin{shout()}, 0, "1 passed, 0 failed"},
		{"check without it", []string{"check", "--config", config}, nil, 1, "unknown function shout"},
		{"test without it", []string{"test", dir}, nil, 2, "unknown function shout"},
		{"a clash is refused", []string{"version"}, []rules.Plugin{emit.Plugin()}, 1, `add plugin: register plugin "emit": already registered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tc.args, WithOutput(&stdout, &stderr), WithPlugins(tc.plugins...))
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, &stdout, &stderr)
			}
			if out := stdout.String() + stderr.String(); !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestWithVersion checks the version a custom main passes is the one
// printed.
func TestWithVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := Run(context.Background(), []string{"version"}, WithOutput(&stdout, &stdout), WithVersion("1.2.3-custom"), WithCommit("0123abc")); code != 0 {
		t.Fatalf("exit %d:\n%s", code, &stdout)
	}
	if got, want := stdout.String(), "eventrouter 1.2.3-custom\ncommit: 0123abc\ngo: "+runtime.Version(); !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want it to start with %q", got, want)
	}
}
