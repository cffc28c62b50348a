package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/rules"
)

// bigList is a client list of n numbers, as the wire decodes it.
func bigList(n int) []any {
	l := make([]any, n)
	for i := range l {
		l[i] = float64(i)
	}
	return l
}

// TestExprBudget runs expressions that would stall an event loop, or
// build gigabytes, on client data: each must fail with a RuleError, fast,
// while expressions of ordinary cost run.
func TestExprBudget(t *testing.T) {
	const exceeded = "the expression exceeded its budget (limits.expr_memory)"
	tests := []struct {
		name    string
		limits  string // YAML of the limits section; "" for the defaults
		when    string
		do      string
		data    any
		wantErr string // "" means the rule must run
	}{
		{name: "a huge range", do: `log(len(map(1..1000000000, #)))`, wantErr: exceeded},
		{name: "a huge range in when", when: `len(1..1000000000) > 0`, do: `log(data)`, wantErr: exceeded},
		{name: "a nested loop on a client list", do: `log(len(map(data, map(data, #))))`, data: bigList(10_000), wantErr: exceeded},
		{name: "a filter in a loop", do: `log(count(data, len(filter(data, # > 1)) > 0))`, data: bigList(10_000), wantErr: exceeded},
		{name: "a scan of the list in a loop", do: `log(count(data, # in data))`, data: bigList(10_000), wantErr: exceeded},
		{name: "a string that doubles", do: `log(len(reduce(1..64, #acc + #acc, "xxxxxxxxxxxxxxxx")))`, wantErr: exceeded},
		{name: "a string built from the payload", do: `log(len(reduce(1..100000, #acc + data, "")))`, data: strings.Repeat("x", 1000), wantErr: exceeded},
		{name: "a repeat", do: `log(len(repeat(data, 1000000)))`, data: "xxxxxxxxxx", wantErr: exceeded},
		{name: "a list that doubles", do: `log(len(reduce(1..64, concat(#acc, #acc), [1])))`, wantErr: exceeded},
		{name: "a list holding the payload many times", do: `log(len(toJSON(map(1..1000, data))))`, data: strings.Repeat("x", 100_000), wantErr: exceeded},
		{name: "a tight budget", limits: "expr_memory: 1000", do: `log(len(filter(data, # > 1)))`, data: bigList(2000), wantErr: exceeded},

		{name: "one pass over a large client list", do: `log(len(filter(data, # > 1)))`, data: bigList(100_000)},
		{name: "a nested loop on a small list", do: `log(len(map(data, map(data, #))))`, data: bigList(100)},
		{name: "string work on a large payload", when: `data contains "y" || len(upper(data)) > 0`, do: `emit("x", lower(data) + "!")`, data: strings.Repeat("x", 100_000)},
		{name: "a range within budget", do: `log(sum(1..10000))`},
		{name: "0 means no limit", limits: "expr_memory: 0", do: `log(len(1..1500000))`},
		{name: "each expression has its own budget", when: `len(filter(data, # > 1)) > 0`, do: `log(len(filter(data, # > 1)))`, limits: "expr_memory: 5000", data: bigList(2000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			config := "rules:\n  - name: r\n    on: msg\n"
			if tc.limits != "" {
				config = "limits:\n  " + tc.limits + "\n" + config
			}
			if tc.when != "" {
				config += "    when: '" + tc.when + "'\n"
			}
			config += "    do:\n      - '" + tc.do + "'\n"
			rs := loadRules(t, config)
			start := time.Now()
			res := rs.Evaluate(socketEvent("msg", tc.data))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("evaluation took %v", d)
			}
			if tc.wantErr == "" {
				if len(res.Errors) > 0 || len(res.Actions) == 0 {
					t.Fatalf("errors %v, actions %v; want the rule to run", res.Errors, res.Actions)
				}
				return
			}
			if len(res.Errors) != 1 || len(res.Actions) != 0 {
				t.Fatalf("errors %v, actions %v; want one error and no action", res.Errors, res.Actions)
			}
			if err := res.Errors[0]; err.Rule != "r" || !strings.Contains(err.Reason(), tc.wantErr) {
				t.Errorf("error %q, want rule r failing with %q", err, tc.wantErr)
			}
		})
	}
}

// TestExprBudgetIsPerRun: a failed run leaves nothing behind, so the next
// event, on the same pooled VM, runs with a whole budget.
func TestExprBudgetIsPerRun(t *testing.T) {
	rs := loadRules(t, "limits:\n  expr_memory: 5000\nrules:\n  - name: r\n    on: msg\n    do:\n      - 'log(len(filter(data, # > 1)))'\n")
	for i, tc := range []struct {
		data    []any
		wantErr bool
	}{{bigList(10_000), true}, {bigList(2000), false}, {bigList(10_000), true}, {bigList(2000), false}} {
		var res rules.Result
		rs.EvaluateInto(socketEvent("msg", tc.data), &res)
		if got := len(res.Errors) > 0; got != tc.wantErr {
			t.Errorf("event %d: errors %v, want failure %v", i, res.Errors, tc.wantErr)
		}
	}
}
