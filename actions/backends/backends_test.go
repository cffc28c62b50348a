package backends_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/backends"
)

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []any
		err  string
	}{
		{`[1, "two", {"three": 3}]`, []any{json.Number("1"), "two", map[string]any{"three": json.Number("3")}}, ""},
		{`{"ok": true}`, []any{map[string]any{"ok": true}}, ""},
		{`"one"`, []any{"one"}, ""},
		{`[]`, []any{}, ""},
		{`12345678901234567890`, []any{json.Number("12345678901234567890")}, ""},
		{`{"oops"`, nil, "not valid JSON"},
		{`{} {}`, nil, "more than one"},
		{``, nil, "not valid JSON"},
	} {
		got, err := backends.ParseReply([]byte(tc.body))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.body, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, %v", tc.body, got, err)
		}
	}
}

func TestParseActions(t *testing.T) {
	for _, tc := range []struct {
		body string
		err  string
	}{
		{`{"reply": ["done"], "broadcast": {"event": "x", "args": [1]}, "to": {"rooms": ["r"], "event": "y"}}`, ""},
		{`{}`, ""},
		{`{"emit": {"event": "x"}}`, "unknown field"},
		{`{"reply": "done"}`, "cannot unmarshal"},
		{`{"broadcast": {"args": [1]}}`, "broadcast.event is missing"},
		{`{"broadcast": {"event": "x", "rooms": ["r"]}}`, "use to"},
		{`{"to": {"event": "x"}}`, "to needs event and rooms"},
		{`{"to": {"rooms": "r", "event": "x"}}`, "cannot unmarshal"},
		{`[1]`, "cannot unmarshal"},
	} {
		_, err := backends.ParseActions([]byte(tc.body))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.err)
		}
	}
}
