package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckNeverPrintsSecrets runs check, check --test and test on configs
// whose secrets come from the environment, a file and a credential, valid
// or broken: no output ever holds a secret's value.
func TestCheckNeverPrintsSecrets(t *testing.T) {
	const (
		envSecret  = "env-s3cret-1"
		fileSecret = "file-s3cret-2"
		credSecret = "cred-s3cret-3"
	)
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("creds/users", "{"+credSecret+": ann}\n")
	write("key.txt", fileSecret+"\n")
	write("bad.json", `{"k": `+fileSecret+`}`)
	const rulesYAML = `rules:
  - name: echo
    on: POST /echo
    do:
      - log(vars.api_key, vars.file_key, vars.users)
      - 'respond(200, {"key": vars.api_key})'
`
	good := write("good.yaml", `vars_from:
  api_key: {env: ER_TEST_API_KEY}
  file_key: {file: key.txt}
  users: {credential: users, format: yaml}
`+rulesYAML)
	// Its rule test fails, so that its report prints the actions.
	write("good_test.yaml", `vars: {api_key: stand-in, file_key: stand-in-2, users: {}}
tests:
  - name: echo
    event: {on: POST /echo}
    expect:
      actions: [{kind: respond, status: 200, body: {key: wrong}}]
`)
	broken := write("broken.yaml", `vars_from:
  api_key: {env: ER_TEST_API_KEY}
  bad: {file: bad.json, format: json}
  users: {credential: users, format: yaml}
  typo: {env: ER_TEST_API_KEY, formt: yaml}
vars: {users: dup}
`+rulesYAML)
	t.Setenv("ER_TEST_API_KEY", envSecret)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	t.Setenv("EVENTROUTER_VARS_EXTRA", envSecret+"-extra")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOutput []string
	}{
		{"check a valid config", []string{"check", "--config", good}, 0, []string{"ok, 1 rule(s), 1 route(s)"}},
		{"check --test prints the stand-ins, not the secrets", []string{"check", "--test", "--config", good}, 1, []string{"ok, 1 rule(s)", "stand-in", "0 passed, 1 failed"}},
		{"test", []string{"test", filepath.Join(dir, "good_test.yaml")}, 1, []string{"stand-in", "0 passed, 1 failed"}},
		{"check a broken config", []string{"check", "--config", broken}, 1, []string{
			"vars_from.bad: file bad.json: not valid JSON (at byte 8)",
			"vars.users and vars_from.users both set vars.users",
			"unknown key vars_from.typo.formt, did you mean format?",
			"3 problem(s)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, want := range tc.wantOutput {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			for _, s := range []string{envSecret, fileSecret, credSecret} {
				if strings.Contains(out, s) {
					t.Errorf("output shows the secret %q:\n%s", s, out)
				}
			}
		})
	}
}
