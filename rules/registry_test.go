package rules_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// fn is a minimal valid function named name.
func fn(name string) rules.Function {
	return rules.Function{
		Name:  name,
		Types: []any{new(func() rules.Action)},
		Build: func(...any) (any, error) { return rules.Action{Kind: name}, nil },
	}
}

var noop = rules.ExecutorFunc(func(context.Context, rules.Effects, rules.Action) error { return nil })

func TestRegister(t *testing.T) {
	tests := []struct {
		name    string
		plugin  rules.Plugin
		wantErr string // "" means Register must succeed
	}{
		{
			name:   "a new plugin",
			plugin: rules.Plugin{Name: "shout", Functions: []rules.Function{fn("shout")}, Kinds: []string{"shout"}, Executor: noop},
		},
		{
			name:   "a helper-only plugin needs no executor",
			plugin: rules.Plugin{Name: "helpers", Functions: []rules.Function{fn("helper")}},
		},
		{
			name:    "empty name",
			plugin:  rules.Plugin{Functions: []rules.Function{fn("x")}},
			wantErr: "register plugin: empty name",
		},
		{
			name:    "duplicate plugin name",
			plugin:  rules.Plugin{Name: "emit", Functions: []rules.Function{fn("x")}},
			wantErr: `register plugin "emit": already registered`,
		},
		{
			name:    "function another plugin registered",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{fn("broadcast")}},
			wantErr: `register plugin "mine": function broadcast is already registered`,
		},
		{
			name:    "function listed twice in one plugin",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{fn("twice"), fn("twice")}},
			wantErr: `register plugin "mine": function twice is already registered`,
		},
		{
			name:    "the core spread helper",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{fn("spread")}},
			wantErr: "function spread is already registered",
		},
		{
			name:    "kinds without executor",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{fn("mine")}, Kinds: []string{"mine"}},
			wantErr: `register plugin "mine": has action kinds but no Executor`,
		},
		{
			name:    "kind another plugin handles",
			plugin:  rules.Plugin{Name: "mine", Kinds: []string{"log"}, Executor: noop},
			wantErr: `register plugin "mine": action kind "log" is already handled by plugin "log"`,
		},
		{
			name:    "function name is not an identifier",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{fn("send-it")}},
			wantErr: `function "send-it" is not a valid identifier`,
		},
		{
			name:    "function without types",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{{Name: "bare", Build: fn("bare").Build}}},
			wantErr: "function bare needs Types and Build",
		},
		{
			name:    "function without build",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{{Name: "bare", Types: fn("bare").Types}}},
			wantErr: "function bare needs Types and Build",
		},
		{
			name:    "type that is not a function",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{{Name: "bad", Types: []any{"func()"}, Build: fn("bad").Build}}},
			wantErr: "function bad: type string is not a function type",
		},
		{
			name:    "function hiding a variable",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{fn("data")}},
			wantErr: "function data would hide the variable data",
		},
		{
			name:    "function hiding a keyword",
			plugin:  rules.Plugin{Name: "mine", Functions: []rules.Function{fn("matches")}},
			wantErr: "function matches would hide the expr keyword matches",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := builtin.Registry()
			before := pluginNames(reg)
			err := reg.Register(tc.plugin)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Register error %v, want %q", err, tc.wantErr)
			}
			// A refused plugin leaves no trace.
			if after := pluginNames(reg); !reflect.DeepEqual(after, before) {
				t.Errorf("plugins after a refused Register = %q, want %q", after, before)
			}
		})
	}
}

func TestMustRegisterPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("MustRegister of a duplicate plugin did not panic")
		}
	}()
	builtin.Registry().MustRegister(rules.Plugin{Name: "log"})
}

func TestPluginsSorted(t *testing.T) {
	reg := builtin.Registry()
	reg.MustRegister(rules.Plugin{Name: "aaa", Functions: []rules.Function{fn("aaa")}})
	reg.MustRegister(rules.Plugin{Name: "zzz", Functions: []rules.Function{fn("zzz")}})
	want := []string{"aaa", "backends", "core", "disconnect", "emit", "log", "nats", "reject", "respond", "rooms", "state", "zzz"}
	if got := pluginNames(reg); !reflect.DeepEqual(got, want) {
		t.Errorf("Plugins() = %q, want %q", got, want)
	}
	if got := pluginNames(rules.NewRegistry()); !reflect.DeepEqual(got, []string{"core"}) {
		t.Errorf("NewRegistry().Plugins() = %q, want only core", got)
	}
}

// TestBuiltinKindsHaveExecutors checks that every built-in plugin handles
// the kinds its functions build.
func TestBuiltinKindsHaveExecutors(t *testing.T) {
	reg := builtin.Registry()
	for _, p := range reg.Plugins() {
		for _, k := range p.Kinds {
			if _, ok := reg.Executor(k); !ok {
				t.Errorf("plugin %s: no executor for kind %q", p.Name, k)
			}
		}
		for _, f := range p.Functions {
			if f.Usage == "" || f.Doc == "" {
				t.Errorf("plugin %s: function %s lacks Usage or Doc", p.Name, f.Name)
			}
		}
	}
	if _, ok := reg.Executor("nope"); ok {
		t.Error(`Executor("nope") found an executor`)
	}
}

// TestRegistriesAreIsolated checks that a plugin added to one registry is
// not seen by another, and that later changes to the registered Plugin do
// not reach the registry.
func TestRegistriesAreIsolated(t *testing.T) {
	mine, other := builtin.Registry(), builtin.Registry()
	p := rules.Plugin{Name: "shout", Functions: []rules.Function{fn("shout")}, Kinds: []string{"shout"}, Executor: noop}
	mine.MustRegister(p)
	p.Functions[0].Name = "changed"
	p.Kinds[0] = "changed"

	if _, err := rules.Compile(minimalConfig("shout()"), mine); err != nil {
		t.Errorf("shout() in the registry that has it: %v", err)
	}
	if _, err := rules.Compile(minimalConfig("shout()"), other); err == nil || !strings.Contains(err.Error(), "unknown function shout") {
		t.Errorf("shout() in a registry without it: %v, want unknown function", err)
	}
	if _, ok := mine.Executor("shout"); !ok {
		t.Error("the registry's kinds changed with the caller's Plugin")
	}
}

// TestTriggerKindString names trigger kinds as errors show them.
func TestTriggerKindString(t *testing.T) {
	tests := map[rules.TriggerKind]string{
		rules.TriggerEvent: "socket event",
		rules.TriggerHTTP:  "HTTP route",
		rules.TriggerEvent | rules.TriggerConnection: "socket event or connection",
		rules.SocketTriggers:                         "socket event or connection or disconnect",
		rules.TriggerConnection | rules.TriggerHTTP:  "connection or HTTP route",
		rules.TriggerDisconnect:                      "disconnect",
		rules.AnyTrigger &^ rules.TriggerDisconnect:  "socket event or connection or HTTP route or source",
		rules.ServerTriggers:                         "HTTP route or source",
	}
	for k, want := range tests {
		if got := k.String(); got != want {
			t.Errorf("TriggerKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func pluginNames(reg *rules.Registry) []string {
	var out []string
	for _, p := range reg.Plugins() {
		out = append(out, p.Name)
	}
	return out
}

// minimalConfig is the default config with one rule on "e" doing do.
func minimalConfig(do string) *rules.Config {
	cfg := rules.Defaults()
	cfg.Rules = []rules.RuleSpec{{Name: "r", On: "e", Do: []string{do}}}
	return &cfg
}
