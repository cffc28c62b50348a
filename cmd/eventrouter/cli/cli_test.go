package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
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
		{"version refuses an argument", []string{"version", "extra"}, 2, nil, []string{`unexpected argument "extra"`, "Usage: eventrouter version"}},
		{"schema", []string{"schema"}, 0, []string{`"$schema": "https://json-schema.org/draft/2020-12/schema"`, `"methods"`}, nil},
		{"schema refuses an argument", []string{"schema", "extra"}, 2, nil, []string{`unexpected argument "extra"`, "Usage: eventrouter schema"}},
		{"completion needs a shell", []string{"completion"}, 2, nil, []string{"name one shell", "Usage: eventrouter completion"}},
		{"completion unknown shell", []string{"completion", "tcsh"}, 2, nil, []string{`unknown shell "tcsh"`}},
		{"man refuses an argument", []string{"man", "1"}, 2, nil, []string{`unexpected argument "1"`}},
		{"help", []string{"help"}, 0, []string{"Usage:", "Commands:", "  check "}, nil},
		{"help COMMAND", []string{"help", "check"}, 0, []string{"Usage: eventrouter check", "-config"}, nil},
		{"help unknown command", []string{"help", "frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`, "Commands:"}},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`, "Usage:"}},
		{"check default config", []string{"check", "--config", "../../../config.yaml"}, 0, []string{"ok, 4 rule(s), 1 route(s)"}, nil},
		{"check catches methiods", []string{"check", "--config", "testdata/typo.yaml"}, 1, nil, []string{
			"testdata/typo.yaml:5:5: unknown key server.cors.methiods, did you mean methods?",
			`testdata/typo.yaml:11:38: rule "chat": do[1]: unknown name dta, did you mean data? (at 1:30 of the expression)`,
			"2 problem(s)",
		}},
		{"check lists every problem at once", []string{"check", "--config", "../../../rules/testdata/five-mistakes.bad.yaml"}, 1, nil, []string{
			`five-mistakes.bad.yaml:2:3: socketio.ping_interval: want a duration such as "10s" or "500ms", got "5m30"`,
			`five-mistakes.bad.yaml:4:3: server.max_body: want a size such as 1048576 or "1MiB", got a list`,
			`five-mistakes.bad.yaml:8:5: rule "chat": unknown key whn, did you mean when?`,
			`five-mistakes.bad.yaml:11:9: rule "chat": do[1]: unknown function brodcast, did you mean broadcast? (at 1:1 of the expression)`,
			`five-mistakes.bad.yaml:15:30: rule "post-echo": do[0]: request has no field param, did you mean params? (at 1:22 of the expression)`,
			"5 problem(s)",
		}},
		{"check points at the mis-indented line", []string{"check", "--config", "../../../rules/testdata/yaml-indent.bad.yaml"}, 1, nil, []string{
			"yaml-indent.bad.yaml:6:6: invalid YAML: did not find expected key (check this line's indentation against the lines above it)",
			"1 problem(s)",
		}},
		{"check missing file", []string{"check", "--config", "testdata/nope.yaml"}, 1, nil, []string{"no such file"}},
		{"check -h", []string{"check", "-h"}, 0, nil, []string{"Usage: eventrouter check", "-config"}},
		{"run -h", []string{"run", "-h"}, 0, nil, []string{"Usage: eventrouter [run]", "-listen"}},
		{"run flags then -h", []string{"--config", "x.yaml", "-h"}, 0, nil, []string{"Usage: eventrouter [run]"}},
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

// TestHelp checks that -h, --help and help list every command, one line
// each, and that every command's -h prints that command's usage and exits
// 0 without doing its work.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}, {"help", "-h"}, {"help", "help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, want 0\nstderr: %s", code, &stderr)
			}
			lines := strings.Split(stdout.String(), "\n")
			for _, c := range (&app{}).commands() {
				n := 0
				for _, l := range lines {
					if strings.HasPrefix(l, "  "+c.name+" ") && strings.Contains(l, c.summary) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d lines list command %s with its summary, want 1:\n%s", n, c.name, &stdout)
				}
			}
		})
	}
	usages := map[string]string{
		"run":           "Usage: eventrouter [run]",
		"check":         "Usage: eventrouter check",
		"test":          "Usage: eventrouter test",
		"version":       "Usage: eventrouter version",
		"hash-password": "Usage: eventrouter hash-password",
		"schema":        "Usage: eventrouter schema",
		"health":        "Usage: eventrouter health",
		"completion":    "Usage: eventrouter completion",
		"man":           "Usage: eventrouter man",
		"help":          "Commands:",
	}
	for _, c := range (&app{}).commands() {
		t.Run(c.name+" -h", func(t *testing.T) {
			want, ok := usages[c.name]
			if !ok {
				t.Fatalf("no expected usage for command %s: add it to this table", c.name)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{c.name, "-h"}, &stdout, &stderr); code != 0 {
				t.Errorf("exit %d, want 0\nstdout: %s\nstderr: %s", code, &stdout, &stderr)
			}
			out := stdout.String() + stderr.String()
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			if strings.Contains(out, "eventrouter "+version+"\n") {
				t.Errorf("-h did the command's work (printed the version):\n%s", out)
			}
		})
	}
}

// TestBusyPort occupies a port and checks that the daemon's error names the
// listener, says the address is in use and names the flag, the config key
// and the environment variable that change it.
func TestBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"public", []string{"--listen", addr, "--admin-listen", ""}, []string{
			"public listener: address " + addr + " is already in use", "--listen", "server.listen", "EVENTROUTER_SERVER_LISTEN",
		}},
		{"admin", []string{"--listen", "127.0.0.1:0", "--admin-listen", addr}, []string{
			"admin listener: address " + addr + " is already in use", "--admin-listen", "admin.listen", "EVENTROUTER_ADMIN_LISTEN",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Should the port not be busy, the daemon would serve; the
			// deadline stops it so the test fails rather than hangs.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"run", "--config", "../../../config.yaml"}, tc.args...)
			if code := run(ctx, args, &stdout, &stderr); code != 1 {
				t.Errorf("exit %d, want 1\nstderr: %s", code, &stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &stderr)
				}
			}
		})
	}
}
