package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCLI runs the subcommands as a user would and checks exit codes and
// what they print.
func TestCLI(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"version", []string{"version"}, 0, []string{"eventrouter "}, nil},
		{"help", []string{"help"}, 0, []string{"Usage:", "eventrouter check"}, nil},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`, "Usage:"}},
		{"check default config", []string{"check", "--config", "../../config.yaml"}, 0, []string{"ok, 4 rule(s), 1 route(s)"}, nil},
		{"check catches methiods", []string{"check", "--config", "testdata/typo.yaml"}, 1, nil, []string{
			"testdata/typo.yaml:5:5: unknown key server.cors.methiods, did you mean methods?",
			`testdata/typo.yaml:11:38: rule "chat": do[1]: unknown name dta, did you mean data? (at 1:30 of the expression)`,
			"2 problem(s)",
		}},
		{"check lists every problem at once", []string{"check", "--config", "../../rules/testdata/five-mistakes.bad.yaml"}, 1, nil, []string{
			`five-mistakes.bad.yaml:2:3: socketio.ping_interval: want a duration such as "10s" or "500ms", got "5m30"`,
			`five-mistakes.bad.yaml:4:3: server.max_body: want a size such as 1048576 or "1MiB", got a list`,
			`five-mistakes.bad.yaml:8:5: rule "chat": unknown key whn, did you mean when?`,
			`five-mistakes.bad.yaml:11:9: rule "chat": do[1]: unknown function brodcast, did you mean broadcast? (at 1:1 of the expression)`,
			`five-mistakes.bad.yaml:15:30: rule "post-echo": do[0]: request has no field param, did you mean params? (at 1:22 of the expression)`,
			"5 problem(s)",
		}},
		{"check points at the mis-indented line", []string{"check", "--config", "../../rules/testdata/yaml-indent.bad.yaml"}, 1, nil, []string{
			"yaml-indent.bad.yaml:6:6: invalid YAML: did not find expected key (check this line's indentation against the lines above it)",
			"1 problem(s)",
		}},
		{"check missing file", []string{"check", "--config", "testdata/nope.yaml"}, 1, nil, []string{"no such file"}},
		{"check -h", []string{"check", "-h"}, 0, nil, []string{"Usage: eventrouter check", "-config"}},
		{"run -h", []string{"run", "-h"}, 0, nil, []string{"Usage: eventrouter [run]", "-listen"}},
		{"bare -h means run", []string{"-h"}, 0, nil, []string{"Usage: eventrouter [run]"}},
		{"run refuses an invalid config", []string{"run", "--config", "testdata/typo.yaml"}, 1, nil, []string{"is invalid", "methiods"}},
		{"bad flag", []string{"check", "--nope"}, 2, nil, []string{"flag provided but not defined"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, &stdout, &stderr)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, &stdout)
				}
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &stderr)
				}
			}
		})
	}
}
