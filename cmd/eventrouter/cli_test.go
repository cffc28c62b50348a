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
			`testdata/typo.yaml:11:38: rule "chat": do[1]: unknown name dta`,
			"2 problem(s)",
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
