package nats_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/actions/nats"
	"github.com/eventrouter/eventrouter/rules"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"orders.new", "orders.new", true},
		{"orders.new", "orders.old", false},
		{"orders.*", "orders.new", true},
		{"orders.*", "orders.eu.new", false},
		{"orders.*.new", "orders.eu.new", true},
		{"orders.>", "orders.eu.new", true},
		{"orders.>", "orders", false},
		{">", "a.b", true},
		{"orders", "orders.new", false},
	}
	for _, tc := range tests {
		if got := nats.Match(tc.pattern, tc.subject); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.subject, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	if got, ok := nats.Decode([]byte(`{"a": 1}`)).(map[string]any); !ok || got["a"] != 1.0 {
		t.Errorf("JSON object decoded as %#v", got)
	}
	if got := nats.Decode([]byte(`hello`)); got != "hello" {
		t.Errorf("text decoded as %#v", got)
	}
	if got := nats.Decode([]byte(`"quoted"`)); got != "quoted" {
		t.Errorf("JSON string decoded as %#v", got)
	}
}

// TestSecrets: credentials in plugins.nats.url join the rule set's
// secrets, which the router redacts from every log line.
func TestSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := "plugins:\n  nats:\n    url: nats://ann:s3cret-pass@127.0.0.1:4222, nats://tok3n-value@127.0.0.1:4223\nrules:\n  - name: r\n    on: \"nats:a.>\"\n    do: [log(subject)]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(path, builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	secrets := rs.Secrets()
	for _, want := range []string{"s3cret-pass", "tok3n-value"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("Secrets() = %q, want %s among them", secrets, want)
		}
	}
	c, ok := rs.PluginConfig("nats").(*nats.Config)
	if !ok || c.Name != "eventrouter" || c.MaxReconnects != -1 {
		t.Errorf("PluginConfig(nats) = %#v, want the defaults under the file's url", rs.PluginConfig("nats"))
	}
}

// TestPublishSubject: nats_publish refuses what NATS cannot publish to.
func TestPublishSubject(t *testing.T) {
	build := nats.New().Plugin().Functions[0].BuildAction
	for _, bad := range []string{"", "a..b", "a.*", "a.>", "a b"} {
		if err := build(&rules.Action{}, []any{bad, "x"}, false); err == nil {
			t.Errorf("nats_publish(%q) built an action", bad)
		}
	}
	var got rules.Action
	if err := build(&got, []any{"chat.lobby", map[string]any{"text": "hi"}}, false); err != nil {
		t.Fatal(err)
	}
	if got.Kind != nats.Kind || got.Event != "chat.lobby" {
		t.Errorf("nats_publish built %#v", got)
	}
}
