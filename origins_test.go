package eventrouter_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// TestOriginsEnforced proves that with server.cors.origins set to a list,
// the daemon itself refuses a foreign Origin with 403 before any rule runs,
// on both transports with the official Node client and on routes (a
// text/plain POST is a "simple" request browsers send without a
// preflight), while the listed origin and clients that send no Origin pass.
func TestOriginsEnforced(t *testing.T) {
	d := boot(t, "testdata/origins.yaml")
	a := nodeclient.Start(t)
	clients := []struct {
		name      string
		transport string
		origin    string
		refused   bool
	}{
		{"websocket foreign", "websocket", "https://evil.example", true},
		{"polling foreign", "polling", "https://evil.example", true},
		{"websocket listed", "websocket", "https://good.example", false},
		{"polling listed", "polling", "https://good.example", false},
		{"websocket no origin", "websocket", "", false},
		{"polling no origin", "polling", "", false},
	}
	for _, tc := range clients {
		t.Run(tc.name, func(t *testing.T) {
			opts := map[string]any{"transports": []string{tc.transport}}
			if tc.origin != "" {
				opts["extraHeaders"] = map[string]any{"Origin": tc.origin}
			}
			a.Connect(tc.name, d.URL, opts)
			if tc.refused {
				a.WaitConnectError(t, tc.name)
				return
			}
			a.WaitConnect(t, tc.name)
			a.Emit(tc.name, "send_message", tc.name)
			a.WaitEvent(t, tc.name, "receive_message")
		})
	}

	routes := []struct {
		name, origin, contentType string
		want                      int
	}{
		{"simple request from a foreign origin", "https://evil.example", "text/plain", http.StatusForbidden},
		{"JSON from a foreign origin", "https://evil.example", "application/json", http.StatusForbidden},
		{"listed origin", "https://good.example", "application/json", http.StatusOK},
		{"no origin", "", "application/json", http.StatusOK},
	}
	for _, tc := range routes {
		t.Run("route/"+tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", d.URL+"/post", strings.NewReader(`{"from":"`+tc.name+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.want)
			}
		})
	}
	// The refused requests ran no rule, and each refusal was counted.
	if n := d.Logs.FilterMessageSnippet("simple request").Len(); n != 0 {
		t.Errorf("a refused route ran its rule: %d log lines", n)
	}
	if got := metricValue(t, d.Router.Registry(), "eventrouter_limited_total", "limit", "origin"); got < 4 {
		t.Errorf("limited_total{limit=origin} = %v, want at least 4", got)
	}
	waitLog(t, d.Logs, "request from a foreign origin refused")
}
