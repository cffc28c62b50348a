package rules

import "testing"

func TestUserWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"invalid operation: float64 + string (1:8)", "invalid operation: number + string (1:8)"},
		{"invalid operation: map[string]interface {} > int (1:6)", "invalid operation: mapping > number (1:6)"},
		{"invalid operation: []interface {} > int (1:6)", "invalid operation: list > number (1:6)"},
		{"invalid operation: <nil> > int (1:6)", "invalid operation: nil > number (1:6)"},
		{"invalid operation: bool > int (1:6)", "invalid operation: boolean > number (1:6)"},
		{"interface conversion: interface {} is map[string]interface {}, not string (1:1)", "want string, got mapping (1:1)"},
		{"interface conversion: interface {} is bool, not []uint8 (1:6)", "want string, got boolean (1:6)"},
		{"reflect.Value.MapIndex: value of type float64 is not assignable to type string (1:5)", "a key of type number cannot index a mapping of string keys (1:5)"},
		{"reflect: call of reflect.Value.Type on zero Value (1:1)", "the value is nil (1:1)"},
		{"cannot fetch a from <nil> (1:6)", "cannot read a of nil (1:6)"},
		{"index out of range: 5 (array length is 0) (1:5)", "index out of range: 5 (array length is 0) (1:5)"},
		{"memory budget exceeded (1:5)", "the expression exceeded its budget (limits.expr_memory) (1:5)"},
		{"invalid argument for len (type bool) (1:1)", "invalid argument for len (type boolean) (1:1)"},
	}
	for _, tc := range tests {
		if got := userWords(tc.in); got != tc.want {
			t.Errorf("userWords(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
