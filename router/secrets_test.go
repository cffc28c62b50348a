package router

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// The secrets of secretsConfig, as its environment holds them.
const (
	testAPIKey = "s3cret-api-key"
	testToken  = "tok-Zq81"
)

const secretsConfig = `
vars_from:
  api_key: {env: API_KEY}
  users: {env: USERS, format: json}
rules:
  - name: log-key
    on: POST /log
    do:
      - log("key", vars.api_key, "user", vars.users.ann, "body", body)
      - respond(200, "ok")
  - name: fail
    on: POST /fail
    do:
      - respond(200, int(vars.api_key))
  - name: plain
    on: POST /plain
    do:
      - log("nothing secret here")
      - respond(200, "ok")
`

// TestSecretsRedactedFromLogs: a rule's log line and a rule's run-time
// error never show a secret read from vars_from, whether the rule or the
// client put it there, and lines without secrets are unchanged.
func TestSecretsRedactedFromLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(secretsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{"API_KEY=" + testAPIKey, fmt.Sprintf(`USERS={"ann": %q}`, testToken)}
	rs, err := rules.Load(path, builtin.Registry(), rules.LoadOptions{Environ: func() []string { return environ }})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	r, err := New(rs, Options{Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	tests := []struct {
		path, body string
		message    string // the log line's message
		field      string // a field of it that must hold want
		want       string
	}{
		{
			path:    "/log",
			body:    `{"echo": "` + testAPIKey + `"}`,
			message: `key [redacted] user [redacted] body {"echo":"[redacted]"}`,
		},
		{
			path:    "/fail",
			message: "rule failed",
			field:   "error",
			want:    "int([redacted])",
		},
		{path: "/plain", message: "nothing secret here"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			logs.TakeAll()
			body := tc.body
			if body == "" {
				body = "{}"
			}
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			r.ServeHTTP(httptest.NewRecorder(), req)
			entries := logs.TakeAll()
			found := false
			for _, e := range entries {
				line := e.Message + " " + fmt.Sprint(e.ContextMap())
				for _, s := range []string{testAPIKey, testToken} {
					if strings.Contains(line, s) {
						t.Errorf("log line shows secret %q: %s", s, line)
					}
				}
				if e.Message != tc.message {
					continue
				}
				found = true
				if tc.field != "" {
					if got := fmt.Sprint(e.ContextMap()[tc.field]); !strings.Contains(got, tc.want) {
						t.Errorf("%s = %q, want it to contain %q", tc.field, got, tc.want)
					}
				}
			}
			if !found {
				t.Errorf("no log line %q among %d: %v", tc.message, len(entries), entries)
			}
		})
	}
}

// TestRedactWithoutSecrets: a runtime whose config has no secret builds no
// replacer, and redact returns its input.
func TestRedactWithoutSecrets(t *testing.T) {
	rs, err := rules.Compile(&rules.Config{Vars: map[string]any{"k": "v"}}, builtin.Registry())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(rs, "h", func(*Runtime, string) http.Handler { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if rt.redactor != nil {
		t.Error("a config without secrets got a redactor")
	}
	if got := rt.redact("v and more"); got != "v and more" {
		t.Errorf("redact = %q", got)
	}
}

// TestConfigHashCoversSecrets: a rotated secret changes the config hash, so
// a reload applies it, and the hash does not show it.
func TestConfigHashCoversSecrets(t *testing.T) {
	hash := func(key string) string {
		c := rules.Config{Vars: map[string]any{"api_key": key}, VarsFrom: map[string]rules.VarSource{"api_key": {Env: "API_KEY"}}}
		return ConfigHash(&c)
	}
	a, b := hash(testAPIKey), hash(testAPIKey+"-rotated")
	if a == b {
		t.Error("rotating a secret left the config hash unchanged; a reload would skip it")
	}
	if strings.Contains(a, testAPIKey) {
		t.Errorf("config hash %q shows the secret", a)
	}
}

// TestConfigHashCoversAdminPasswordHash: the Admin UI's password hash is
// out of the config's JSON, yet changing it changes the config hash, so a
// reload reports that it needs a restart instead of skipping the file.
func TestConfigHashCoversAdminPasswordHash(t *testing.T) {
	hash := func(ph string) string {
		c := rules.Config{AdminUI: rules.AdminUIConfig{Enabled: true, Auth: rules.AdminUIAuthConfig{Username: "admin", PasswordHash: ph}}}
		return ConfigHash(&c)
	}
	if hash("$2a$04$old") == hash("$2a$04$new") {
		t.Error("changing admin_ui.auth.password_hash left the config hash unchanged; a reload would skip it silently")
	}
}
