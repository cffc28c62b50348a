package rules_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/rules"
)

// queueConfig is the config of the test's source plugin.
type queueConfig struct {
	Addr    string        `koanf:"addr" doc:"where the queue listens"`
	Timeout time.Duration `koanf:"timeout" doc:"how long to wait"`
}

// TestSchemaFromRegistry checks the schema follows the registry it is made
// from: a plugin's config section with its defaults, a source's on: form,
// and a function in the description of do items.
func TestSchemaFromRegistry(t *testing.T) {
	reg := rules.NewRegistry()
	reg.MustRegister(rules.Plugin{
		Name:      "queue",
		Doc:       "a test queue",
		Functions: []rules.Function{{Name: "enqueue", Usage: "enqueue(item)", Doc: "puts item on the queue.", Types: []any{new(func(any) rules.Action)}, Build: func(args ...any) (any, error) { return rules.Action{}, nil }}},
		Config:    &queueConfig{Addr: "127.0.0.1:7000", Timeout: 90 * time.Second},
		Source: &rules.Source{
			Prefix: "queue",
			Doc:    "queue:NAME reacts to the items of the queue NAME.",
			Apply:  func(context.Context, rules.SourceRun) error { return nil },
			Stop:   func(context.Context) error { return nil },
		},
	})
	b, err := json.Marshal(reg.Schema())
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema     string `json:"$schema"`
		Properties struct {
			Plugins struct {
				Properties map[string]struct {
					Properties map[string]struct {
						Default any `json:"default"`
					} `json:"properties"`
				} `json:"properties"`
			} `json:"plugins"`
			Server struct {
				Properties map[string]struct {
					Default any `json:"default"`
				} `json:"properties"`
			} `json:"server"`
			Rules struct {
				Items struct {
					Properties struct {
						On struct {
							AnyOf []struct {
								Pattern string `json:"pattern"`
							} `json:"anyOf"`
						} `json:"on"`
						Do struct {
							Items struct {
								Description string `json:"description"`
							} `json:"items"`
						} `json:"do"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"rules"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != rules.SchemaURI {
		t.Errorf("$schema %q", s.Schema)
	}
	queue := s.Properties.Plugins.Properties["queue"].Properties
	for key, want := range map[string]any{"addr": "127.0.0.1:7000", "timeout": "1m30s"} {
		if got := queue[key].Default; got != want {
			t.Errorf("plugins.queue.%s default %v, want %v", key, got, want)
		}
	}
	for key, want := range map[string]any{"listen": ":3000", "shutdown_timeout": "10s", "max_body": float64(1 << 20)} {
		if got := s.Properties.Server.Properties[key].Default; got != want {
			t.Errorf("server.%s default %v, want %v", key, got, want)
		}
	}
	found := false
	for _, form := range s.Properties.Rules.Items.Properties.On.AnyOf {
		found = found || strings.HasPrefix(form.Pattern, "^queue:")
	}
	if !found {
		t.Errorf("no on: form for the queue source: %+v", s.Properties.Rules.Items.Properties.On.AnyOf)
	}
	if d := s.Properties.Rules.Items.Properties.Do.Items.Description; !strings.Contains(d, "enqueue(item): puts item on the queue.") {
		t.Errorf("do items do not list enqueue:\n%s", d)
	}
}
