package eventrouter_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
)

// TestFailClosedEndToEnd drives testdata/gate.yaml with the official Node
// client: the obvious auth gate cannot be bypassed with a wrong-typed
// token, refusals are logged and counted, a failing rule refuses a
// connection or answers an ack with an error, and rules can disconnect
// sockets and read rooms.
func TestFailClosedEndToEnd(t *testing.T) {
	d := boot(t, "testdata/gate.yaml")
	a := nodeclient.Start(t)
	ws := func(auth any) map[string]any {
		return map[string]any{"transports": []string{"websocket"}, "auth": auth, "reconnection": false}
	}
	polling := func(auth any) map[string]any {
		return map[string]any{"transports": []string{"polling"}, "auth": auth, "reconnection": false}
	}

	refused := []struct {
		name string
		url  string
		opts func(any) map[string]any
		auth any
		want string
	}{
		{"numeric token", "", ws, map[string]any{"token": 42}, "unauthorized"},
		{"numeric token over polling", "", polling, map[string]any{"token": 42}, "unauthorized"},
		{"list token", "", ws, map[string]any{"token": []any{"t-ann"}}, "unauthorized"},
		{"object token", "", ws, map[string]any{"token": map[string]any{"t-ann": true}}, "unauthorized"},
		{"no auth", "", ws, map[string]any{}, "unauthorized"},
		{"unknown token", "", ws, map[string]any{"token": "t-eve"}, "unauthorized"},
		{"failing gate", "/strict", ws, map[string]any{"token": "t-ann", "level": "high"}, "service unavailable"},
		{"failing gate over polling", "/strict", polling, map[string]any{"token": "t-ann", "level": "high"}, "service unavailable"},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			id := "refused-" + tc.name
			a.Connect(id, d.URL+tc.url, tc.opts(tc.auth))
			r := a.WaitConnectError(t, id)
			if r.Message != tc.want {
				t.Errorf("connect_error %q, want %q", r.Message, tc.want)
			}
		})
	}
	// Every refusal is logged at info with rule, message and address,
	// and counted by rule; the gate's own warn line is written too, in
	// order before the refusal.
	waitCount(t, func() int { return d.Logs.FilterMessage("connection refused").Len() }, len(refused))
	for _, e := range d.Logs.FilterMessage("connection refused").All() {
		f := e.ContextMap()
		if e.Level != zapcore.InfoLevel || f["rule"] == "" || f["message"] == "" || !strings.HasPrefix(f["address"].(string), "127.0.0.1") {
			t.Errorf("refusal log %s %v, want info with rule, message and address", e.Level, f)
		}
	}
	if n := d.Logs.FilterMessageSnippet("refusing").FilterLevelExact(zapcore.WarnLevel).Len(); n != len(refused)-2 {
		t.Errorf("%d warn lines from the gate rule, want %d", n, len(refused)-2)
	}
	for rule, want := range map[string]float64{"gate": 6, "strict-gate": 2} {
		if got := metricValue(t, d.Router.Registry(), "eventrouter_connections_rejected_total", "rule", rule); got != want {
			t.Errorf("connections_rejected_total{rule=%q} = %v, want %v", rule, got, want)
		}
	}
	for _, tc := range refused {
		for _, r := range a.Pending("refused-" + tc.name) {
			if r.Type == nodeclient.TypeEvent {
				t.Errorf("refused client %s received %s %v", tc.name, r.Event, r.Args)
			}
		}
	}

	a.Connect("ann", d.URL, ws(map[string]any{"token": "t-ann"}))
	a.WaitConnect(t, "ann")
	if got := a.WaitEvent(t, "ann", "hello"); !reflect.DeepEqual(got.Args, []any{"ann"}) {
		t.Errorf("hello %v, want [ann]", got.Args)
	}

	t.Run("a failed rule answers the ack with an error", func(t *testing.T) {
		seq := a.EmitAck("ann", "sum", map[string]any{"a": 1, "b": "x"})
		if got := a.WaitAck(t, "ann", seq); !reflect.DeepEqual(got.Args, []any{map[string]any{"error": "service unavailable"}}) {
			t.Errorf("ack %v, want [{error: service unavailable}]", got.Args)
		}
		seq = a.EmitAck("ann", "sum", map[string]any{"a": 1, "b": 2})
		if got := a.WaitAck(t, "ann", seq); !reflect.DeepEqual(got.Args, []any{3.0}) {
			t.Errorf("ack %v, want [3]", got.Args)
		}
	})

	t.Run("a runaway expression fails the rule, not the daemon", func(t *testing.T) {
		big := make([]any, 20000)
		for i := range big {
			big[i] = i
		}
		start := time.Now()
		seq := a.EmitAck("ann", "square", big)
		if got := a.WaitAck(t, "ann", seq); !reflect.DeepEqual(got.Args, []any{map[string]any{"error": "service unavailable"}}) {
			t.Errorf("ack %v, want the error ack", got.Args)
		}
		t.Logf("20000² expression refused in %v", time.Since(start))
		waitLog(t, d.Logs, "rule failed")
		found := false
		for _, e := range d.Logs.FilterMessage("rule failed").All() {
			if e.ContextMap()["rule"] == "runaway" && strings.Contains(fmt.Sprint(e.ContextMap()["error"]), "limits.expr_memory") {
				found = true
			}
		}
		if !found {
			t.Error("no rule failed line for runaway naming limits.expr_memory")
		}
		seq = a.EmitAck("ann", "square", []any{1, 2})
		if got := a.WaitAck(t, "ann", seq); !reflect.DeepEqual(got.Args, []any{2.0}) {
			t.Errorf("a small square afterwards: ack %v, want [2]", got.Args)
		}
	})

	t.Run("an ack no rule answers gets an error", func(t *testing.T) {
		seq := a.EmitAck("ann", "nobody_listens", 1)
		if got := a.WaitAck(t, "ann", seq); !reflect.DeepEqual(got.Args, []any{map[string]any{"error": "unanswered"}}) {
			t.Errorf("ack %v, want [{error: unanswered}]", got.Args)
		}
	})

	t.Run("room_size and socket_rooms", func(t *testing.T) {
		a.Connect("bob", d.URL, ws(map[string]any{"token": "t-bob"}))
		a.WaitConnect(t, "bob")
		seq := a.EmitAck("bob", "count")
		got := a.WaitAck(t, "bob", seq)
		if len(got.Args) != 2 || got.Args[0] != 2.0 || !containsString(got.Args[1], "users") {
			t.Errorf("count ack %v, want [2, [<id> users]]", got.Args)
		}
	})

	t.Run("disconnect with a reason", func(t *testing.T) {
		a.Emit("bob", "kick_me", "see you")
		if got := a.WaitEvent(t, "bob", "bye"); !reflect.DeepEqual(got.Args, []any{"see you"}) {
			t.Errorf("bye %v", got.Args)
		}
		if r := a.WaitDisconnect(t, "bob"); r.Reason != "io server disconnect" {
			t.Errorf("client saw %q, want io server disconnect", r.Reason)
		}
		waitLog(t, d.Logs, "left bob kicked by rule")
	})

	t.Run("disconnect_room from HTTP", func(t *testing.T) {
		resp, err := http.Post(d.URL+"/kick", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST /kick: %d", resp.StatusCode)
		}
		if r := a.WaitDisconnect(t, "ann"); r.Reason != "io server disconnect" {
			t.Errorf("client saw %q, want io server disconnect", r.Reason)
		}
		waitLog(t, d.Logs, "left ann server namespace disconnect")
	})
}

// waitCount waits until count() reaches want, with a deadline.
func waitCount(t *testing.T, count func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("count is %d, want %d", count(), want)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline, not synchronisation by delay
	}
}

// metricValue reads the counter or gauge name{label=value} from reg; 0 when
// it has no such series.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// TestEmitRightAfterConnect: a client that emits in its connect handler,
// as most applications do, gets its event handled and stays connected,
// on both transports. The library registers an accepted socket only after
// it wrote the CONNECT, so without the router holding the client's packets
// until then (awaitRegistered), about 1 such client in 30 under -race lost
// its event and its connection ("invalid state").
func TestEmitRightAfterConnect(t *testing.T) {
	d := boot(t, "testdata/e2e.yaml")
	a := nodeclient.Start(t)
	const clients = 150
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			seqs := map[string]int{}
			for i := range clients {
				id := fmt.Sprintf("%s-%d", transport, i)
				seqs[id] = a.ConnectThenEmit(id, d.URL, map[string]any{"transports": []string{transport}}, "echo_ack", "hi", i)
			}
			for id, seq := range seqs {
				got := a.WaitAck(t, id, seq)
				if len(got.Args) != 2 || got.Args[0] != "hi" {
					t.Errorf("%s: ack %v", id, got.Args)
				}
			}
			for id := range seqs {
				for _, r := range a.Pending(id) {
					if r.Type == nodeclient.TypeDisconnect {
						t.Errorf("%s disconnected: %s", id, r.Reason)
					}
				}
				a.Disconnect(id)
			}
		})
	}
}
