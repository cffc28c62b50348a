package ruletest_test

import (
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/eventrouter/eventrouter/ruletest"
)

// TestDiffActions compares actual action lists by JSON meaning, in order
// and field by field, and names the fields that differ.
func TestDiffActions(t *testing.T) {
	log := rules.Action{Kind: "log", Rule: "chat", Level: "info", Message: "hi"}
	emit := rules.Action{Kind: "emit", Rule: "chat", Event: "e", Args: []any{1, map[string]int{"n": 2}}}
	tests := []struct {
		name      string
		want, got []rules.Action
		diff      []string // substrings of the diff; none means equal
	}{
		{name: "equal, numbers by value", want: []rules.Action{log, emit},
			got: []rules.Action{log, {Kind: "emit", Rule: "chat", Event: "e", Args: []any{1.0, map[string]any{"n": 2.0}}}}},
		{name: "both empty"},
		{name: "order matters", want: []rules.Action{log, emit}, got: []rules.Action{emit, log},
			diff: []string{`- {"kind":"log"`, `+ {"kind":"log"`}},
		{name: "a field differs", want: []rules.Action{emit}, got: []rules.Action{{Kind: "emit", Rule: "chat", Event: "f", Args: emit.Args}},
			diff: []string{`action 1: event: want "e", got "f"`}},
		{name: "a missing action", want: []rules.Action{log}, got: nil,
			diff: []string{`- {"kind":"log","rule":"chat","message":"hi","level":"info"}`, "+ (no actions)"}},
		{name: "an extra field", want: []rules.Action{{Kind: "set", Key: "k"}}, got: []rules.Action{{Kind: "set", Key: "k", Value: 1}},
			diff: []string{"value: want nothing, got 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ruletest.DiffActions(tc.want, tc.got)
			if len(tc.diff) == 0 && d != "" {
				t.Fatalf("want no diff, got:\n%s", d)
			}
			for _, s := range tc.diff {
				if !strings.Contains(d, s) {
					t.Errorf("diff lacks %q:\n%s", s, d)
				}
			}
		})
	}
}
