package router

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fakeConfig is the plugins.fake section of fakeSource.
type fakeConfig struct {
	Token string `koanf:"token" doc:"a secret"`
}

// Secrets implements rules.Secreter.
func (c *fakeConfig) Secrets() []string { return []string{c.Token} }

// fakeSource is a source plugin that records what the router asks of it.
type fakeSource struct {
	mu      sync.Mutex
	applied [][]string // run.Patterns of each Apply
	tokens  []string   // run.Config's token of each Apply
	last    rules.SourceRun
	stopped int
}

func (f *fakeSource) plugin() rules.Plugin {
	return rules.Plugin{
		Name:   "fake",
		Config: &fakeConfig{},
		Source: &rules.Source{
			Prefix: "fake",
			Apply: func(_ context.Context, run rules.SourceRun) error {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.applied = append(f.applied, run.Patterns)
				token := ""
				if c, ok := run.Config.(*fakeConfig); ok {
					token = c.Token
				}
				f.tokens = append(f.tokens, token)
				f.last = run
				return nil
			},
			Stop: func(context.Context) error {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.stopped++
				return nil
			},
		},
	}
}

// TestSourceLifecycle: the router applies a source plugin with each rule
// set it runs (its patterns and config) on the same instance, delivers its
// messages to the rules, redacts its reports, and stops it on shutdown.
func TestSourceLifecycle(t *testing.T) {
	f := &fakeSource{}
	reg := builtin.Registry()
	reg.MustRegister(f.plugin())
	load := func(config string) *rules.Ruleset {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Load(path, reg, rules.LoadOptions{Environ: func() []string { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	core, logs := observer.New(zap.DebugLevel)
	r, err := New(load(`plugins:
  fake: {token: tok-one-secret}
rules:
  - {name: a, on: "fake:a", do: ['log("got", subject, data)']}
  - {name: b, on: "fake:b", do: ['log("b")']}
  - {name: a-again, on: "fake:a", do: ['log("again")']}
`), Options{Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	if want := [][]string{{"a", "b"}}; !reflect.DeepEqual(f.applied, want) || f.tokens[0] != "tok-one-secret" {
		t.Errorf("at start: applied %q with tokens %q, want %q with the file's token", f.applied, f.tokens, want)
	}
	run := f.last
	f.mu.Unlock()

	run.Deliver(context.Background(), rules.SourceEvent("fake", "fake:a", "a", map[string]any{"n": 1.0}, nil))
	if n := logs.FilterMessage(`got a {"n":1}`).Len(); n != 1 {
		t.Errorf("rule a logged %d times; logs: %v", n, logs.All())
	}
	if n := logs.FilterMessage("again").Len(); n != 1 {
		t.Errorf("rule a-again logged %d times", n)
	}
	if n := testutil.ToFloat64(r.metrics.sourceMsgs.WithLabelValues("fake:a")); n != 1 {
		t.Errorf("eventrouter_source_messages_total{trigger=fake:a} = %v, want 1", n)
	}
	run.Report(errors.New("lost tok-one-secret"))
	if n := logs.FilterField(zap.String("error", "lost "+Redacted)).Len(); n != 1 {
		t.Errorf("the report was not logged redacted: %v", logs.FilterMessage("source failed").All())
	}

	if err := r.Reload(load(`rules:
  - {name: c, on: "fake:c", do: ['log("c")']}
`), ""); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	if want := [][]string{{"a", "b"}, {"c"}}; !reflect.DeepEqual(f.applied, want) || f.tokens[1] != "" {
		t.Errorf("after reload: applied %q with tokens %q, want %q and no config", f.applied, f.tokens, want)
	}
	f.mu.Unlock()
	// A message of a subscription the reload dropped runs no rule.
	before := logs.Len()
	run.Deliver(context.Background(), rules.SourceEvent("fake", "fake:a", "a", "x", nil))
	if logs.Len() != before {
		t.Errorf("a message for a removed trigger ran rules: %v", logs.All()[before:])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped != 1 {
		t.Errorf("stopped %d times, want once", f.stopped)
	}
}
