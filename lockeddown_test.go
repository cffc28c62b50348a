package eventrouter_test

import (
	"reflect"
	"testing"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// annToken is an HS256 token for user ann, signed with the demo secret of
// examples/jwt and examples/locked-down, valid until 2100.
const annToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbm4iLCJhdWQiOiJjaGF0IiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUiLCJleHAiOjQxMDI0NDQ4MDB9.hsmFSRunzXEWbDJyZ-tyh_BWR-v_mzjrJCoD7CWBkEA"

// TestLockedDownExample runs examples/locked-down/config.yaml with the
// official Node client: it refuses a foreign origin on both transports,
// clients without a valid token, and a flood, while a well-behaved client
// chats; every refusal is counted and logged.
func TestLockedDownExample(t *testing.T) {
	d := boot(t, "examples/locked-down/config.yaml")
	a := nodeclient.Start(t)
	opts := func(transport, origin string, auth map[string]any) map[string]any {
		o := map[string]any{"transports": []string{transport}, "reconnection": false}
		if origin != "" {
			o["extraHeaders"] = map[string]any{"Origin": origin}
		}
		if auth != nil {
			o["auth"] = auth
		}
		return o
	}
	good := map[string]any{"token": annToken}
	refused := []struct {
		name, transport, origin string
		auth                    map[string]any
		message                 string // the connect_error message, when the gate answers
	}{
		{"foreign origin, websocket", "websocket", "https://evil.example", good, ""},
		{"foreign origin, polling", "polling", "https://evil.example", good, ""},
		{"no token", "websocket", "https://app.example.com", nil, "unauthorized"},
		{"forged token", "polling", "", map[string]any{"token": annToken[:len(annToken)-4] + "AAAA"}, "unauthorized"},
		{"number token", "websocket", "", map[string]any{"token": 42}, "unauthorized"},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			a.Connect(tc.name, d.URL, opts(tc.transport, tc.origin, tc.auth))
			r := a.WaitConnectError(t, tc.name)
			if tc.message != "" && r.Message != tc.message {
				t.Errorf("connect_error %q, want %q", r.Message, tc.message)
			}
		})
	}
	if got := metricValue(t, d.Router.Registry(), "eventrouter_limited_total", "limit", "origin"); got < 2 {
		t.Errorf("limited_total{origin} = %v, want at least 2", got)
	}
	if got := metricValue(t, d.Router.Registry(), "eventrouter_connections_rejected_total", "rule", "authenticate"); got != 3 {
		t.Errorf("connections_rejected_total{authenticate} = %v, want 3", got)
	}
	waitLog(t, d.Logs, "request from a foreign origin refused")
	waitLog(t, d.Logs, "refusing connection: missing")
	waitLog(t, d.Logs, "refusing connection: bad signature")

	// A well-behaved client from the app's origin chats.
	a.Connect("ann", d.URL, opts("websocket", "https://app.example.com", good))
	a.WaitConnect(t, "ann")
	seq := a.EmitAck("ann", "send_message", "hello")
	if got := a.WaitAck(t, "ann", seq); !reflect.DeepEqual(got.Args, []any{"sent"}) {
		t.Errorf("ack %v, want [sent]", got.Args)
	}
	if got := a.WaitEvent(t, "ann", "receive_message"); !reflect.DeepEqual(got.Args, []any{map[string]any{"from": "ann", "text": "hello"}}) {
		t.Errorf("receive_message %v", got.Args)
	}

	// A flood: far past the burst of 40, at once. The client is told, the
	// drops are counted, and it stays connected.
	for range 200 {
		a.Emit("ann", "send_message", "flood")
	}
	if got := a.WaitEvent(t, "ann", "error"); !reflect.DeepEqual(got.Args, []any{map[string]any{"error": "rate limited", "event": "send_message"}}) {
		t.Errorf("error event %v", got.Args)
	}
	waitCount(t, func() int {
		return int(metricValue(t, d.Router.Registry(), "eventrouter_limited_total", "limit", "events_per_second"))
	}, 100)
	waitLog(t, d.Logs, "event dropped: over the socket's event rate")
	for _, r := range a.Pending("ann") {
		if r.Type == nodeclient.TypeDisconnect {
			t.Errorf("the flooding client was disconnected (%s); on_exceed is drop", r.Reason)
		}
	}
}
