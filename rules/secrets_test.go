package rules_test

import (
	"slices"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// TestRulesetSecrets: every secret a ruleset holds is listed for
// redaction: vars from outside the file, and auth.jwt's HMAC secret and
// JWKS URL password, the Admin UI's password hash, however they were
// given.
func TestRulesetSecrets(t *testing.T) {
	const jwtSecret = "0123456789abcdef0123456789abcdef-jwt"
	const adminHash = "$2a$04$w7hziard9hKmZI1asLQoHeSMU6FNJJMsDISOKssQoQdxyopCxBNeO"
	tests := []struct {
		name, config string
		environ      []string
		want         []string
	}{
		{"jwt secret_env", `
auth: {jwt: {algorithms: [HS256], secret_env: JWT_SECRET}}
rules: [{name: r, on: e, do: ['log("x")']}]
`, []string{"JWT_SECRET=" + jwtSecret}, []string{jwtSecret}},
		{"jwt secret in the file", `
auth: {jwt: {algorithms: [HS256], secret: "` + jwtSecret + `"}}
rules: [{name: r, on: e, do: ['log("x")']}]
`, nil, []string{jwtSecret}},
		{"jwks url password and a vars_from secret", `
auth: {jwt: {algorithms: [RS256], jwks_url: "https://svc:pw-Xq7@auth.example/jwks"}}
vars_from: {api_key: {env: API_KEY}}
rules: [{name: r, on: e, do: ['log("x")']}]
`, []string{"API_KEY=key-123456"}, []string{"key-123456", "pw-Xq7"}},
		{"cluster redis url password, from the environment", `
rules: [{name: r, on: e, do: ['log("x")']}]
`, []string{"EVENTROUTER_CLUSTER_REDIS_URL=redis://app:redis-pw-77@10.0.0.5:6379/0"}, []string{"redis-pw-77"}},
		{"admin_ui password hash, from the environment", `
admin_ui: {enabled: true, auth: {username: admin}}
rules: [{name: r, on: e, do: ['log("x")']}]
`, []string{"EVENTROUTER_ADMIN_UI_AUTH_PASSWORD_HASH=" + adminHash}, []string{adminHash}},
		{"none", `
rules: [{name: r, on: e, do: ['log("x")']}]
`, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			environ := tc.environ
			rs, err := rules.Load(writeConfig(t, tc.config), builtin.Registry(), rules.LoadOptions{Environ: func() []string { return environ }})
			if err != nil {
				t.Fatal(err)
			}
			got := rs.Secrets()
			if !slices.Equal(got, tc.want) {
				t.Errorf("Secrets() = %q, want %q", got, tc.want)
			}
		})
	}
}
