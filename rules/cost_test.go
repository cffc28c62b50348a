package rules

import (
	"strings"
	"testing"
)

// TestCost pins what values cost the expression budget: deeply, so a list
// holding one large value many times costs what writing it out would, and
// never walking much past the limit, even on a value that holds itself.
func TestCost(t *testing.T) {
	big := strings.Repeat("x", 1600) // 100 units
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name  string
		v     any
		limit uint
		want  uint
	}{
		{"nil", nil, 1e6, 0},
		{"a number", 1.5, 1e6, 0},
		{"a short string", "hello", 1e6, 0},
		{"a string", big, 1e6, 100},
		{"a list", []any{1.0, 2.0, "a"}, 1e6, 3},
		{"a mapping with long keys", map[string]any{big: 1.0}, 1e6, 101},
		{"a list holding a string many times", []any{big, big, big, big}, 1e6, 4 + 4*100},
		{"nested lists", []any{[]any{[]any{big}}}, 1e6, 3 + 100},
		{"a typed list", []string{big, big}, 1e6, 2 + 200},
		{"a typed mapping", map[string][]int{"a": {1, 2, 3}}, 1e6, 1 + 3},
		{"the count stops past the limit", []any{big, big, big, big}, 150, 4 + 2*100},
		{"a value that holds itself", cyclic, 1000, 1001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cost(tc.v, tc.limit); got != tc.want {
				t.Errorf("cost = %d, want %d", got, tc.want)
			}
		})
	}
}
