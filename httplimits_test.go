package eventrouter_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// timeoutOf is server.*_timeout in testdata/httptimeouts.yaml.
const timeoutOf = 500 * time.Millisecond

// TestServerTimeouts proves that the public listener cuts a slowloris on
// the headers at read_header_timeout, a slow route body at read_timeout
// (with a 408), and an idle keep-alive connection at idle_timeout, each
// while the client is still trickling bytes or waiting.
func TestServerTimeouts(t *testing.T) {
	d := boot(t, "testdata/httptimeouts.yaml")
	addr := strings.TrimPrefix(d.URL, "http://")
	tests := []struct {
		name    string
		start   string // sent at once
		trickle bool   // then one byte every 50ms, forever
		full    bool   // the request is complete: read its response first
		status  int    // of the response before the close; 0: none
		sid     bool   // SID in start is replaced by a new Engine.IO session's
	}{
		{"slowloris headers", "GET /ping HTTP/1.1\r\nHost: x\r\n", true, false, 0, false},
		{"slow body", "POST /post HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n\"", true, false, http.StatusRequestTimeout, false},
		{"idle keep-alive", "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", false, true, http.StatusOK, false},
		{"slow polling POST", "POST /socket.io/?EIO=4&transport=polling&sid=SID HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n4", true, false, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.sid {
				tc.start = strings.Replace(tc.start, "SID", engineSession(t, d.URL), 1)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(waitFor))
			start := time.Now()
			if _, err := io.WriteString(c, tc.start); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			if tc.trickle {
				go func() {
					tick := time.NewTicker(50 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							if _, err := c.Write([]byte("x")); err != nil {
								return
							}
						}
					}
				}()
			}
			br := bufio.NewReader(c)
			if tc.status != 0 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("no response: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
				}
				if tc.full {
					start = time.Now() // idle from here
				}
			}
			_, err = io.Copy(io.Discard, br) // until the server closes
			elapsed := time.Since(start)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("still open after %v", elapsed)
			}
			if elapsed < timeoutOf-50*time.Millisecond || elapsed > timeoutOf+3*time.Second {
				t.Errorf("closed after %v, want about %v", elapsed, timeoutOf)
			}
		})
	}
	t.Cleanup(func() {
		// After the subtests: the route's slow body was counted.
		if n := d.Logs.FilterMessage("HTTP request body too slow, cut off").Len(); n != 1 {
			t.Errorf("%d slow bodies logged, want 1", n)
		}
	})
}

// engineSession opens an Engine.IO polling session and returns its sid.
func engineSession(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(bytes.TrimPrefix(body, []byte("0")), &open); err != nil || open.SID == "" {
		t.Fatalf("handshake %s: %v", body, err)
	}
	return open.SID
}

// waitFor bounds every wait in these tests.
const waitFor = 15 * time.Second

// TestTimeoutsSpareSocketIO proves that the server timeouts do not touch
// Socket.IO: with read_timeout and idle_timeout at 500ms and a ping
// interval of 2s, a polling client's long-polling GETs are held past both,
// and a websocket stays idle past both, and both still deliver.
func TestTimeoutsSpareSocketIO(t *testing.T) {
	d := boot(t, "testdata/httptimeouts.yaml")
	a := nodeclient.Start(t)
	for _, tc := range []string{"polling", "websocket"} {
		a.Connect(tc, d.URL, map[string]any{"transports": []string{tc}})
		a.WaitConnect(t, tc)
	}
	// Let the clients sit idle across a ping interval: several times the
	// read and idle timeouts.
	<-time.After(5 * timeoutOf)
	for _, tc := range []string{"polling", "websocket"} {
		t.Run(tc, func(t *testing.T) {
			for _, r := range a.Pending(tc) {
				if r.Type == "disconnect" {
					t.Fatalf("disconnected while idle: %v", r)
				}
			}
			a.Emit(tc, "send_message", "after idling "+tc)
			for {
				ev := a.WaitEvent(t, tc, "receive_message")
				if strings.Contains(ev.String(), "after idling "+tc) {
					break
				}
			}
		})
	}
}

// TestHTTPRateLimit proves limits.http_requests_per_second: past the burst,
// a client address gets 429 with Retry-After and a JSON error, counted in
// limited_total{limit="http_rate"}, while the Socket.IO path and CORS
// preflights and paths that are no route are not counted.
func TestHTTPRateLimit(t *testing.T) {
	d := boot(t, "testdata/httprate.yaml")
	steps := []struct {
		name, method, path string
		header             http.Header
		want               int
	}{
		{"first", "POST", "/post", nil, http.StatusOK},
		{"preflight", "OPTIONS", "/post", http.Header{"Origin": {"https://a.example"}, "Access-Control-Request-Method": {"POST"}}, http.StatusNoContent},
		{"second", "POST", "/post", nil, http.StatusOK},
		{"third: over the rate", "POST", "/post", nil, http.StatusTooManyRequests},
		{"another path: not a route, not counted", "GET", "/nothing", nil, http.StatusNotFound},
		{"fourth: still over the rate", "POST", "/post", nil, http.StatusTooManyRequests},
		{"Socket.IO polling handshake", "GET", "/socket.io/?EIO=4&transport=polling", nil, http.StatusOK},
	}
	for _, s := range steps {
		req, err := http.NewRequest(s.method, d.URL+s.path, strings.NewReader(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range s.header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.want {
			t.Fatalf("%s: status %d (%s), want %d", s.name, resp.StatusCode, body, s.want)
		}
		if s.want != http.StatusTooManyRequests {
			continue
		}
		// 0.5 tokens a second: the next one is 2s away, rounded up.
		if ra := resp.Header.Get("Retry-After"); ra != "2" {
			t.Errorf("%s: Retry-After %q, want 2", s.name, ra)
		}
		var msg map[string]any
		if err := json.Unmarshal(body, &msg); err != nil || msg["error"] != "too many requests" {
			t.Errorf("%s: body %s, want a JSON error", s.name, body)
		}
	}
	rec := httptest.NewRecorder()
	d.Router.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `eventrouter_limited_total{limit="http_rate"} 2`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
	if n := d.Logs.FilterMessage("HTTP request over the rate refused").Len(); n != 2 {
		t.Errorf("%d refusals logged, want 2", n)
	}
}
