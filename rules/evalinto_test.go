package rules_test

import (
	"testing"

	"github.com/eventrouter/eventrouter/actions/logaction"
	"github.com/eventrouter/eventrouter/rules"
)

// TestEvaluateIntoMatchesEvaluate checks that the router's fast path
// yields what Evaluate yields, once log lines are formatted, with one
// Result reused across every case.
func TestEvaluateIntoMatchesEvaluate(t *testing.T) {
	var res rules.Result
	for _, tc := range evalTests {
		t.Run(tc.name, func(t *testing.T) {
			rs := loadRules(t, tc.config)
			want := rs.Evaluate(tc.event)
			rs.EvaluateInto(tc.event, &res)
			got := make([]rules.Action, len(res.Actions))
			for i, a := range res.Actions {
				if a.Kind == logaction.Kind {
					a.Message, a.Args = logaction.Message(a), nil
				}
				got[i] = a
			}
			if !sameActions(got, want.Actions) {
				t.Errorf("actions differ\n got %s\nwant %s", asJSON(got), asJSON(want.Actions))
			}
			if len(res.Matched) != len(want.Matched) || len(res.Errors) != len(want.Errors) {
				t.Errorf("matched %q errors %v, want %q and %v", res.Matched, res.Errors, want.Matched, want.Errors)
			}
			for i := range res.Errors {
				if i < len(want.Errors) && res.Errors[i].Error() != want.Errors[i].Error() {
					t.Errorf("error %d = %v, want %v", i, res.Errors[i], want.Errors[i])
				}
			}
		})
	}
}
