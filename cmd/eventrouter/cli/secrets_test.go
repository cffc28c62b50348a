package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestDaemonSecretFromCredential runs the daemon with an API key from a
// systemd credential: the key guards a route, a reload after the
// credential changed applies the new key (the config hash covers it), and
// the daemon's log never shows either key, though a rule logs it. (A
// value that is not a secret of the running config, such as a key before
// it is rotated in, is not redacted: the refuse rule does not log it.)
func TestDaemonSecretFromCredential(t *testing.T) {
	const oldKey, newKey = "old-s3cret-key", "new-s3cret-key"
	creds := t.TempDir()
	setKey := func(key string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(creds, "api-key"), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setKey(oldKey)
	config := `log: {level: debug, format: json}
server: {shutdown_timeout: 5s}
vars_from:
  api_key: {credential: api-key}
rules:
  - name: publish
    on: POST /publish
    when: request.headers["x-api-key"] == vars.api_key
    do:
      - log("published with", request.headers["x-api-key"], "expecting", vars.api_key)
      - respond(200, "ok")
  - name: refuse
    on: POST /publish
    when: request.headers["x-api-key"] != vars.api_key
    do:
      - log("refused")
      - respond(401, "bad key")
`
	p := startDaemon(t, config, "CREDENTIALS_DIRECTORY="+creds)
	post := func(key string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, p.URL+"/publish", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, step := range []struct {
		rotate   bool
		key      string
		wantCode int
	}{
		{key: oldKey, wantCode: 200},
		{key: newKey, wantCode: 401},
		{rotate: true, key: newKey, wantCode: 200},
		{key: oldKey, wantCode: 401},
	} {
		if step.rotate {
			setKey(newKey)
			p.signal(t, syscall.SIGHUP)
			p.waitLog(t, "config reloaded", nil)
		}
		if got := post(step.key); got != step.wantCode {
			t.Errorf("POST with the %s key after rotate=%v: %d, want %d", step.key[:3], step.rotate, got, step.wantCode)
		}
	}
	p.waitLog(t, "published with [redacted] expecting [redacted]", nil)
	p.signal(t, syscall.SIGTERM)
	p.waitExit(t)
	log := p.logText()
	for _, key := range []string{oldKey, newKey} {
		if strings.Contains(log, key) {
			t.Errorf("the daemon's log shows the key %q", key)
		}
	}
}
