package ruletest

import "github.com/eventrouter/eventrouter/rules"

// DiffActions compares two lists of actual actions in order, field by
// field, by the rules of an exact expectation (expect.actions) with every
// non-empty field of want given, so only rule and level left empty in want
// go unchecked. It returns "" when the lists agree, and otherwise the diff
// a failing case prints: "- " lines for want's actions got lacks, "+ "
// lines for got's actions want lacks, then the fields that differ. The
// differential tests use it to hold what the daemon executed against what
// Eval yields.
func DiffActions(want, got []rules.Action) string {
	w := make([]map[string]any, len(want))
	for i, a := range want {
		w[i] = canonical(a)
	}
	g := make([]map[string]any, len(got))
	for i, a := range got {
		g[i] = canonical(a)
	}
	if d, ok := diffExact(w, g); !ok {
		return d
	}
	return ""
}
