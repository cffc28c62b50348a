package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateTestGolden = flag.Bool("update-test-golden", false, "rewrite testdata/*.golden of the test command")

const fixtures = "../../../ruletest/testdata/"

// TestTestCommand runs `eventrouter test` in-process: exit codes, the
// closing line and the shape of the output.
func TestTestCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		last     string   // the closing line of stdout, when it has one
		contains []string // fragments of stdout
		stderr   string   // fragment of stderr
	}{
		{name: "shipped config passes", args: []string{"test", "../../../config_test.yaml"}, code: 0, last: "15 passed, 0 failed"},
		{name: "directory search skips testdata and node_modules", args: []string{"test", "../../.."}, code: 0, contains: []string{"passed, 0 failed"}},
		{name: "verbose lists passes", args: []string{"test", "-v", fixtures + "app_test.yaml"}, code: 0, last: "11 passed, 0 failed",
			contains: []string{"--- PASS: " + fixtures + "app_test.yaml/admin without token is rejected\n"}},
		{name: "flags after paths", args: []string{"test", fixtures + "app_test.yaml", "--run", "^ask", "-v"}, code: 0, last: "2 passed, 0 failed"},
		{name: "run matches file/name", args: []string{"test", "--run", "app_test.yaml/boom", fixtures + "app_test.yaml"}, code: 0, last: "1 passed, 0 failed"},
		{name: "failures exit 1", args: []string{"test", fixtures + "failing_test.yaml"}, code: 1, last: "0 passed, 9 failed",
			contains: []string{"--- FAIL: " + fixtures + "failing_test.yaml/wrong event name\n", `coverage: ` + fixtures + `app.yaml: rule "gate" is not exercised by any case`}},
		{name: "run turns coverage off", args: []string{"test", "--run", "wrong", fixtures + "failing_test.yaml"}, code: 1, last: "0 passed, 1 failed"},
		{name: "run matching nothing warns", args: []string{"test", "--run", "^nothing$", "../../../config_test.yaml"}, code: 0, last: "0 passed, 0 failed", stderr: "no case matches"},
		{name: "no test files", args: []string{"test", "testdata"}, code: 2, stderr: "no rule-test files"},
		{name: "missing path", args: []string{"test", "nope_test.yaml"}, code: 2, stderr: "nope_test.yaml"},
		{name: "bad regexp", args: []string{"test", "--run", "(", "../../../config_test.yaml"}, code: 2, stderr: "--run"},
		{name: "bad flag", args: []string{"test", "--frobnicate"}, code: 2, stderr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			if tt.last != "" {
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if got := lines[len(lines)-1]; got != tt.last {
					t.Errorf("closing line %q, want %q\n%s", got, tt.last, out)
				}
			}
			for _, c := range tt.contains {
				if !strings.Contains(out, c) {
					t.Errorf("stdout lacks %q:\n%s", c, out)
				}
			}
			if tt.stderr != "" && !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}

// TestTestCommandGolden pins the whole failure output, diffs included.
func TestTestCommandGolden(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"test", fixtures + "failing_test.yaml"}, &stdout, &stderr)
	golden := filepath.Join("testdata", "test-failing.golden")
	if *updateTestGolden {
		if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update-test-golden to create it)", err)
	}
	if stdout.String() != string(want) {
		t.Errorf("output differs from %s (rerun with -update-test-golden after checking it):\n%s", golden, stdout.String())
	}
}

// TestCheckWithTests runs `eventrouter check --test`.
func TestCheckWithTests(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("../../../config_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", string(src))
	write("good_test.yaml", string(tests))
	broken := write("broken.yaml", strings.Replace(string(src), "receive_message", "receive_msg", 1))
	write("broken_test.yaml", string(tests))
	untested := write("untested.yaml", string(src))

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
		stderr   string
	}{
		{"without --test tests are not run", []string{"check", "--config", broken}, 0, "ok, 4 rule(s)", ""},
		{"passing tests", []string{"check", "--test", "--config", good}, 0, "good_test.yaml: 15 passed, 0 failed", ""},
		{"failing tests refuse the config", []string{"check", "--config", broken, "--test"}, 1, `+ {"kind":"broadcast","event":"receive_msg"`, ""},
		{"missing test file", []string{"check", "--config", untested, "--test"}, 1, "", "no rule tests for"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.contains) {
				t.Errorf("stdout lacks %q:\n%s", tt.contains, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}
