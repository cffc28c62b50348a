package logaction

import "testing"

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		args []any
		want string
	}{
		{"one string as it is", []any{"hi <b>"}, "hi <b>"},
		{"strings and values", []any{"got", map[string]any{"n": 1}}, `got {"n":1}`},
		{"markup is not escaped", []any{"msg", map[string]any{"text": "<script>&</script>"}}, `msg {"text":"<script>&</script>"}`},
		{"nil", []any{"x", nil}, "x null"},
		{"bytes", []any{"b", []byte{1, 2, 3}}, "b <Buffer 3 bytes>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.args); got != tt.want {
				t.Errorf("Format(%#v) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}
