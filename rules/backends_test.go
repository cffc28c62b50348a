package rules_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

const hookSecret = "hook-secret-value-123"

func TestBackendConfig(t *testing.T) {
	env := rules.LoadOptions{Environ: func() []string { return []string{"HOOK_SECRET=" + hookSecret} }}
	hook := "rules:\n  - name: hook\n    on: msg\n    do: ['webhook(\"orders\", data)']\n"
	orders := "backends:\n  orders:\n    url: https://orders.example/hook\n"
	for _, tc := range []struct {
		name string
		yaml string
		want []string // one substring per problem, in order
	}{
		{"good", orders + "    secret_env: HOOK_SECRET\n    headers: {Authorization: Bearer x}\n" + hook, nil},
		{"forward", orders + "rules:\n  - name: rpc\n    on: msg\n    do: ['forward(\"orders\", data)']\n", nil},
		{"unknown backend", orders + "rules:\n  - name: hook\n    on: msg\n    do: ['webhook(\"order\", data)']\n",
			[]string{`rule "hook": do[0]: webhook(backend, payload): unknown backend "order", did you mean orders?`}},
		{"no backends", hook, []string{`rule "hook": do[0]: webhook(backend, payload): unknown backend "orders": the config has no backends`}},
		{"not a literal", orders + "rules:\n  - name: hook\n    on: msg\n    do: ['webhook(data.to, data)']\n",
			[]string{`rule "hook": do[0]: webhook(backend, payload): the backend must be a string literal`}},
		{"forward in HTTP", orders + "rules:\n  - name: rpc\n    on: POST /x\n    do: ['forward(\"orders\", body)']\n",
			[]string{`forward(backend, payload) is only valid in socket event rules`}},
		{"bad settings", "backends:\n  orders:\n    url: ftp://x\n    timeout: 0s\n    retries: -1\n    queue: 0\n" + hook,
			[]string{"backends.orders.url: want an http or https URL", "backends.orders.timeout: must be positive", "backends.orders.retries: must not be negative", "backends.orders.queue: must be positive"}},
		{"both secrets", orders + "    secret: " + hookSecret + "\n    secret_env: HOOK_SECRET\n" + hook,
			[]string{"backends.orders: secret and secret_env are alternatives; set one"}},
		{"unset secret_env", orders + "    secret_env: NOPE\n" + hook,
			[]string{"backends.orders.secret_env: environment variable NOPE is not set"}},
		{"unknown key", orders + "    timout: 1s\n" + hook,
			[]string{"unknown key backends.orders.timout, did you mean timeout?"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkProblems(t, tc.yaml, env, tc.want, hookSecret) })
	}
}

func TestBackendDefaultsAndSecrets(t *testing.T) {
	env := rules.LoadOptions{Environ: func() []string { return []string{"HOOK_SECRET=" + hookSecret} }}
	rs, err := rules.Load(writeJWTConfig(t, "backends:\n  a:\n    url: http://a.example\n    secret_env: HOOK_SECRET\n  b:\n    url: http://b.example\n    retries: 0\n    secret: other-secret\n"), builtin.Registry(), env)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := rs.Backend("a")
	if a.Secret != hookSecret || a.Timeout != 5*time.Second || a.Retries != 5 || a.Queue != 10000 {
		t.Errorf("backend a = %+v", a)
	}
	if b, _ := rs.Backend("b"); b.Retries != 0 {
		t.Errorf("backend b retries %d, want 0 as set", b.Retries)
	}
	if s := rs.Secrets(); !slices.Contains(s, hookSecret) || !slices.Contains(s, "other-secret") {
		t.Errorf("Secrets() = %q, want both backend secrets", s)
	}
}

// checkProblems loads yaml (see writeJWTConfig) and checks its problems:
// one per want, in order, each containing its want, none showing secret.
func checkProblems(t *testing.T, yaml string, env rules.LoadOptions, want []string, secret string) {
	t.Helper()
	_, err := rules.Load(writeJWTConfig(t, yaml), builtin.Registry(), env)
	var got []string
	var le *rules.LoadError
	if errors.As(err, &le) {
		for _, p := range le.Problems {
			got = append(got, p.String())
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d: %q", strings.Join(got, "\n"), len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d: %s\nwant it to contain %q", i, got[i], w)
		}
		if strings.Contains(got[i], secret) {
			t.Errorf("a problem shows the secret: %s", got[i])
		}
	}
}
