package ruletest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/eventrouter/eventrouter/ruletest"
)

// TestSecretStandIns: rule tests never read a secret source. A test file's
// top-level vars stand in for the config's vars_from names; without one
// the config does not load, naming the var; the real secrets, even when
// available, never reach a case or its output.
func TestSecretStandIns(t *testing.T) {
	const realKey = "real-s3cret"
	dir := t.TempDir()
	write(t, dir, "config.yaml", `vars_from:
  api_key: {env: API_KEY}
  users: {credential: users, format: yaml}
vars:
  greeting: hello
rules:
  - name: gate
    on: POST /publish
    when: request.headers["x-api-key"] != vars.api_key
    do: ['respond(401, {"error": "bad key"})']
  - name: publish
    on: POST /publish
    when: request.headers["x-api-key"] == vars.api_key
    do: ['respond(200, {"user": vars.users["tok-1"], "greeting": vars.greeting, "key": vars.api_key})']
`)
	cases := `tests:
  - name: the stand-in key is accepted
    event: {on: POST /publish, request: {headers: {x-api-key: test-key}}}
    expect:
      actions: [{kind: respond, status: 200, body: {user: ann, greeting: hi, key: test-key}}]
  - name: the real key is not the stand-in
    event: {on: POST /publish, request: {headers: {x-api-key: ` + realKey + `}}}
    expect:
      actions: [{kind: respond, status: 401, body: {error: bad key}}]
  - name: a case's vars go over the file's
    event: {on: POST /publish, request: {headers: {x-api-key: other}}}
    vars: {api_key: other}
    expect:
      contains: [{kind: respond, status: 200, body: {key: other}}]
`
	write(t, dir, "config_test.yaml", "vars:\n  api_key: test-key\n  users: {tok-1: ann}\n  greeting: hi\n"+cases)
	write(t, dir, "missing_test.yaml", "config: config.yaml\nvars:\n  api_key: test-key\n"+cases)
	write(t, dir, "creds/users", "tok-1: real-ann\n")
	environ := []string{"API_KEY=" + realKey, "CREDENTIALS_DIRECTORY=" + filepath.Join(dir, "creds"), "EVENTROUTER_VARS_GREETING=" + realKey}

	tests := []struct {
		file       string
		wantPassed int
		wantErr    []string // substrings of the one broken file's error
	}{
		{file: "config_test.yaml", wantPassed: 3},
		{file: "missing_test.yaml", wantErr: []string{
			"load config", "1 problem(s)",
			"vars_from.users: rule tests never read secrets (credential users); give users a stand-in value under vars: at the top of the test file",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rep := ruletest.RunFiles([]string{filepath.Join(dir, tc.file)}, ruletest.Options{
				Load: rules.LoadOptions{Environ: func() []string { return environ }},
			})
			for _, r := range rep.Results {
				if r.Err != nil && strings.Contains(r.Err.Error(), realKey) {
					t.Errorf("%s shows the real secret: %v", r.ID(), r.Err)
				}
			}
			if tc.wantErr == nil {
				if rep.Passed() != tc.wantPassed || rep.Failed() != 0 {
					for _, r := range rep.Results {
						t.Log(r.ID(), r.Err)
					}
					t.Fatalf("%s, want %d passed", rep.Summary(), tc.wantPassed)
				}
				return
			}
			if rep.Broken != 1 || len(rep.Results) != 1 {
				t.Fatalf("broken=%d results=%d, want one broken file", rep.Broken, len(rep.Results))
			}
			msg := rep.Results[0].Err.Error()
			for _, w := range tc.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestStandInsPerFile: two test files of one config with different
// stand-ins each get their own; coverage adds up across both.
func TestStandInsPerFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "app.yaml", `vars_from:
  api_key: {env: API_KEY}
rules:
  - name: echo
    on: GET /key
    do: ['respond(200, vars.api_key)']
  - name: other
    on: ping
    do: ['emit("pong")']
`)
	write(t, dir, "a_test.yaml", "config: app.yaml\nvars: {api_key: a}\ntests:\n  - name: a\n    event: {on: GET /key}\n    expect: {actions: [{kind: respond, status: 200, body: a}]}\n")
	write(t, dir, "b_test.yaml", "config: app.yaml\nvars: {api_key: b}\ntests:\n  - name: b\n    event: {on: GET /key}\n    expect: {actions: [{kind: respond, status: 200, body: b}]}\n  - name: ping\n    event: {on: ping}\n    expect: {actions: [{kind: emit, event: pong}]}\n")
	rep := ruletest.RunFiles([]string{filepath.Join(dir, "a_test.yaml"), filepath.Join(dir, "b_test.yaml")}, ruletest.Options{
		Load: rules.LoadOptions{Environ: func() []string { return nil }},
	})
	if rep.Summary() != "3 passed, 0 failed" {
		for _, r := range rep.Results {
			t.Log(r.ID(), r.Err)
		}
		t.Errorf("summary %q, want 3 passed", rep.Summary())
	}
	if len(rep.Coverage) != 1 || rep.Coverage[0].Rules != 2 || len(rep.Coverage[0].Uncovered) != 0 {
		t.Errorf("coverage = %+v, want one config with both rules exercised", rep.Coverage)
	}
}
