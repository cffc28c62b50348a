package router

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadBody(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int // 0: accepted
		want                    any
		wantErr                 string
	}{
		{"no content type is JSON", "", `{"a":1}`, 0, map[string]any{"a": 1.0}, ""},
		{"application/json", "application/json", `[1]`, 0, []any{1.0}, ""},
		{"utf-8 charset", "application/json; charset=UTF-8", `"x"`, 0, "x", ""},
		{"+json suffix", "application/vnd.api+json", `{"b":true}`, 0, map[string]any{"b": true}, ""},
		{"text/notjson is text", "text/notjson", `{"a":1}`, 0, `{"a":1}`, ""},
		{"text/plain is text", "text/plain", `hello`, 0, "hello", ""},
		{"unparsable type is text", "(((", `hello`, 0, "hello", ""},
		{"empty body", "application/json", " \n", 0, nil, ""},
		{"two JSON values", "application/json", `{"a":1} {"b":2}`, http.StatusBadRequest, nil, "invalid JSON body: body holds more than one JSON value"},
		{"trailing garbage", "application/json", `{"a":1} }`, http.StatusBadRequest, nil, "invalid JSON body: after the JSON value: invalid character '}' looking for beginning of value"},
		{"invalid JSON", "application/json", `{"a":`, http.StatusBadRequest, nil, "invalid JSON body: unexpected EOF"},
		{"utf-16 JSON", "application/json; charset=utf-16", `{}`, http.StatusUnsupportedMediaType, nil, `JSON bodies must be UTF-8, got application/json with charset "utf-16"`},
		{"too big", "application/json", `"` + strings.Repeat("x", 100) + `"`, http.StatusRequestEntityTooLarge, nil, "request body larger than 64 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/post", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			got, status, err := readBody(httptest.NewRecorder(), req, 64)
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, err, tc.status)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("body %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestClientLimiter: a bucket per address; a refused request says how long
// to wait and uses up no token; changed settings start afresh.
func TestClientLimiter(t *testing.T) {
	l := newClientLimiter()
	t0 := time.Unix(1_000_000, 0)
	steps := []struct {
		addr      string
		at        time.Duration
		perSecond float64
		burst     int
		wait      time.Duration
	}{
		{"a", 0, 0.5, 2, 0},
		{"a", 0, 0.5, 2, 0},
		{"a", 0, 0.5, 2, 2 * time.Second},
		{"a", time.Second, 0.5, 2, time.Second}, // the refusal above took nothing
		{"b", time.Second, 0.5, 2, 0},           // another address, another bucket
		{"a", 2 * time.Second, 0.5, 2, 0},
		{"a", 2 * time.Second, 0.5, 2, 2 * time.Second},
		{"a", 2 * time.Second, 0.5, 0, 0}, // new settings: a fresh bucket of 1
		{"a", 2 * time.Second, 0.5, 0, 2 * time.Second},
		{"a", 2 * time.Second, 0, 0, 0}, // no limit
	}
	for i, s := range steps {
		if got := l.reserve(s.addr, s.perSecond, s.burst, t0.Add(s.at)); got != s.wait {
			t.Errorf("step %d (%s at %v): wait %v, want %v", i, s.addr, s.at, got, s.wait)
		}
	}
}

// TestClientLimiterEvicts: the buckets of addresses gone quiet are dropped,
// so a stream of new addresses cannot grow the map without bound.
func TestClientLimiterEvicts(t *testing.T) {
	l := newClientLimiter()
	t0 := time.Unix(1_000_000, 0)
	const rps, burst = 10.0, 5 // a bucket is full again after 0.5s
	for round := range 20 {
		now := t0.Add(time.Duration(round) * sweepEvery)
		for i := range 1000 {
			l.reserve(fmt.Sprintf("10.%d.%d.%d", round, i/256, i%256), rps, burst, now)
		}
		if n := l.size(); n > 2000 {
			t.Fatalf("round %d: %d buckets held, want at most the last two rounds' 2000", round, n)
		}
	}
	l.reserve("192.0.2.1", rps, burst, t0.Add(100*sweepEvery))
	if n := l.size(); n != 1 {
		t.Errorf("%d buckets after every other address went quiet, want 1", n)
	}
	// A bucket not yet full again is kept: at 0.01/s a bucket of 1 takes
	// 100s to refill; x drains its bucket at 0, y at 50s; the sweep at
	// 100s drops x's only.
	t1 := t0.Add(1000 * sweepEvery)
	l.reserve("x", 0.01, 1, t1)
	l.reserve("y", 0.01, 1, t1.Add(50*time.Second))
	l.reserve("x", 0.01, 1, t1.Add(100*time.Second))
	if n := l.size(); n != 2 {
		t.Errorf("%d buckets, want x's new one and y's", n)
	}
	if wait := l.reserve("y", 0.01, 1, t1.Add(100*time.Second)); wait != 50*time.Second {
		t.Errorf("y waits %v, want 50s: its drained bucket was forgotten", wait)
	}
}

func TestRateKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"@", "@"},
	}
	for _, tc := range tests {
		if got := rateKey(tc.addr); got != tc.want {
			t.Errorf("rateKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
