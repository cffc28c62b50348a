package adminui

import (
	"reflect"
	"testing"
	"time"
)

// TestSessions proves session ids are random, known until they expire,
// and bounded in number.
func TestSessions(t *testing.T) {
	ss := newSessions(time.Hour, 100)
	a, err := ss.create()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ss.create()
	if a == b || len(a) != 32 {
		t.Fatalf("session ids %q and %q: want two different 32-hex-digit ids", a, b)
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{{a, true}, {b, true}, {"", false}, {"0123", false}} {
		if got := ss.valid(tc.id); got != tc.want {
			t.Errorf("valid(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	ss.ids[a] = time.Now().Add(-time.Second) // expired
	if ss.valid(a) {
		t.Errorf("an expired session is still valid")
	}
	for range ss.max + 10 {
		if _, err := ss.create(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ss.ids); n > ss.max {
		t.Errorf("%d sessions kept, want at most %d", n, ss.max)
	}
}

// TestStatsDrain proves the aggregated events are bucketed per second and
// kind, and cleared once sent.
func TestStatsDrain(t *testing.T) {
	st := newStats()
	st.add("rawConnection", "", 1)
	st.add("bytesIn", "", 10)
	st.add("bytesIn", "", 5)
	st.add("rawDisconnection", "transport close", 1)
	got := st.drain()
	counts := map[string]any{}
	for _, e := range got {
		m := e.(map[string]any)
		if m["timestamp"].(int64)%1000 != 0 {
			t.Errorf("timestamp %v is not on a second", m["timestamp"])
		}
		counts[m["type"].(string)+"/"+str([]any{m["subType"]}, 0)] = m["count"]
	}
	want := map[string]any{"rawConnection/": 1, "bytesIn/": 15, "rawDisconnection/transport close": 1}
	if len(got) == 3 && !reflect.DeepEqual(counts, want) {
		t.Errorf("drained %v, want %v", counts, want)
	} else if len(got) != 3 && len(got) != 6 { // 6: the adds straddled a second
		t.Errorf("drained %d buckets: %v", len(got), got)
	}
	if again := st.drain(); len(again) != 0 {
		t.Errorf("second drain %v, want nothing", again)
	}
}

// TestFlatten checks headers and queries take the shapes Node gives them.
func TestFlatten(t *testing.T) {
	tests := []struct {
		name   string
		in     map[string]any
		header bool
		want   map[string]any
	}{
		{"header", map[string]any{"X-Test": []string{"a"}, "Accept": []string{"a", "b"}}, true, map[string]any{"x-test": "a", "accept": "a, b"}},
		{"query", map[string]any{"nick": []string{"ann"}, "tag": []string{"a", "b"}, "EIO": "4"}, false, map[string]any{"nick": "ann", "tag": []any{"a", "b"}, "EIO": "4"}},
		{"nil", nil, false, map[string]any{}},
		{"from msgpack", map[string]any{"nick": []any{"ann"}, "Accept": []any{"a", "b"}}, true, map[string]any{"nick": "ann", "accept": "a, b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := flatten(tc.in, tc.header); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("flatten = %v, want %v", got, tc.want)
			}
		})
	}
}
