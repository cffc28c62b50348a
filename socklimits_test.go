package eventrouter_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// bootLimits boots testdata/socklimits.yaml with settings (YAML for the
// server, socketio and limits blocks) in front of its rules.
func bootLimits(t *testing.T, settings string) *daemon {
	t.Helper()
	rulesYAML, err := os.ReadFile("testdata/socklimits.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(settings+"\n"+string(rulesYAML)), 0o600); err != nil {
		t.Fatal(err)
	}
	return boot(t, path)
}

// ackError is the error an ack answers with, or "".
func ackError(r nodeclient.Report) string {
	if len(r.Args) == 1 {
		if m, ok := r.Args[0].(map[string]any); ok {
			s, _ := m["error"].(string)
			return s
		}
	}
	return ""
}

// TestEventRateLimits floods events past limits.events_per_second and a
// rule's own limits: in drop mode the extra events run no rule, their acks
// answer "rate limited", the client is told once a second with an error
// event, and events within the rate work again; in disconnect mode the
// client is disconnected and the log names the limit.
func TestEventRateLimits(t *testing.T) {
	a := nodeclient.Start(t)
	tests := []struct {
		name       string
		settings   string
		event      string // the flooded event
		flood      int
		disconnect bool
		paced      time.Duration // then events this far apart must all pass
		other      string        // an event the flood must not limit
	}{
		{name: "drop", settings: "limits: {events_per_second: 10, events_burst: 5}", event: "echo", flood: 40, paced: 250 * time.Millisecond},
		{name: "rule limit", settings: "limits: {events_per_second: 1000, events_burst: 1000}", event: "move", flood: 20, paced: time.Second, other: "echo"},
		{name: "disconnect", settings: "limits: {events_per_second: 10, events_burst: 5, on_exceed: disconnect}", event: "echo", flood: 40, disconnect: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := bootLimits(t, tc.settings)
			id := "flood-" + tc.name
			a.Connect(id, d.URL, map[string]any{"transports": []string{"websocket"}})
			a.WaitConnect(t, id)
			start := time.Now()
			seqs := make([]int, tc.flood)
			for i := range seqs {
				seqs[i] = a.EmitAckTimeout(id, tc.event, 3*time.Second, i)
			}
			if tc.disconnect {
				// The server disconnects the socket; the events still in
				// flight for it then make the library close the transport.
				if r := a.WaitDisconnect(t, id); r.Reason != "io server disconnect" && r.Reason != "transport close" {
					t.Errorf("client saw %q, want io server disconnect or transport close", r.Reason)
				}
				waitLog(t, d.Logs, "client disconnected: over its event rate")
				if e := d.Logs.FilterMessage("client disconnected: over its event rate").All()[0]; e.ContextMap()["limit"] != "events_per_second" {
					t.Errorf("log line %v does not name the limit", e.ContextMap())
				}
				waitLog(t, d.Logs, "left rate limited")
				return
			}
			passed, limited := 0, 0
			for _, seq := range seqs {
				switch r := a.WaitAck(t, id, seq); ackError(r) {
				case "":
					passed++
				case "rate limited":
					limited++
				default:
					t.Errorf("ack %v", r.Args)
				}
			}
			elapsed := time.Since(start)
			if limited == 0 || passed < 2 {
				t.Errorf("%d passed and %d limited of %d, want the burst to pass and the rest limited", passed, limited, tc.flood)
			}
			// One error event a second at most, and at least one.
			a.Sync(t)
			warned := 0
			for _, r := range a.Pending(id) {
				if r.Type == nodeclient.TypeEvent && r.Event == "error" {
					warned++
					if want := map[string]any{"error": "rate limited", "event": tc.event}; !reflect.DeepEqual(r.Args, []any{want}) {
						t.Errorf("error event %v, want [%v]", r.Args, want)
					}
				}
			}
			if max := int(elapsed/time.Second) + 1; warned < 1 || warned > max {
				t.Errorf("%d error events in %v, want 1 to %d", warned, elapsed, max)
			}
			if tc.other != "" {
				for i := range 50 {
					if r := a.WaitAck(t, id, a.EmitAck(id, tc.other, i)); ackError(r) != "" {
						t.Fatalf("%s limited by the flood of %s: %v", tc.other, tc.event, r.Args)
					}
				}
			}
			// Events within the rate pass again: paced slower than the
			// rate, each finds a token refilled since the last.
			tick := time.NewTicker(tc.paced)
			defer tick.Stop()
			for i := range 3 {
				<-tick.C
				if r := a.WaitAck(t, id, a.EmitAck(id, tc.event, i)); ackError(r) != "" {
					t.Errorf("paced event %d: %v", i, r.Args)
				}
			}
			if got := metricValue(t, d.Router.Registry(), "eventrouter_limited_total", "limit", "events_per_second"); got != float64(limited) {
				t.Errorf("limited_total{events_per_second} = %v, want %d", got, limited)
			}
			waitLog(t, d.Logs, "event dropped: over the socket's event rate")
		})
	}
}

// TestConnectionLimits fills limits.max_connections_per_ip and
// limits.max_connections from addresses a trusted proxy names in
// X-Forwarded-For, over both transports: connections past a limit get
// connect_error "too many connections", and the counts return to 0 when
// the clients leave.
func TestConnectionLimits(t *testing.T) {
	d := bootLimits(t, `
server: {trusted_proxies: ["127.0.0.1"]}
limits: {max_connections: 3, max_connections_per_ip: 2}`)
	a := nodeclient.Start(t)
	clients := []struct {
		id, from, transport string
		refused             bool
	}{
		{"a1", "192.0.2.1", "websocket", false},
		{"a2", "192.0.2.1", "polling", false},
		{"a3", "192.0.2.1", "websocket", true}, // per address
		{"b1", "192.0.2.2", "polling", false},
		{"c1", "192.0.2.3", "websocket", true}, // in total
		{"c2", "192.0.2.3", "polling", true},
	}
	for _, c := range clients {
		a.Connect(c.id, d.URL, map[string]any{"transports": []string{c.transport},
			"extraHeaders": map[string]any{"X-Forwarded-For": "203.0.113.9, " + c.from}})
		if !c.refused {
			a.WaitConnect(t, c.id)
			continue
		}
		if r := a.WaitConnectError(t, c.id); r.Message != "too many connections" {
			t.Errorf("%s: connect_error %q, want too many connections", c.id, r.Message)
		}
	}
	if total, from := d.Router.Connections("192.0.2.1"); total != 3 || from != 2 {
		t.Errorf("counted %d, %d from 192.0.2.1; want 3, 2", total, from)
	}
	for limit, want := range map[string]float64{"max_connections_per_ip": 1, "max_connections": 2} {
		if got := metricValue(t, d.Router.Registry(), "eventrouter_limited_total", "limit", limit); got != want {
			t.Errorf("limited_total{%s} = %v, want %v", limit, got, want)
		}
	}
	for _, c := range clients {
		if !c.refused {
			a.Disconnect(c.id)
		}
	}
	waitCount(t, func() int {
		total, _ := d.Router.Connections("")
		return 3 - total
	}, 3)
	for _, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "127.0.0.1"} {
		if _, from := d.Router.Connections(addr); from != 0 {
			t.Errorf("%d still counted from %s", from, addr)
		}
	}
	// The places are free again; without the header the peer counts.
	a.Connect("again", d.URL, map[string]any{"transports": []string{"websocket"}})
	a.WaitConnect(t, "again")
	if _, from := d.Router.Connections("127.0.0.1"); from != 1 {
		t.Errorf("%d counted from the peer, want 1", from)
	}
}

// TestRoomAndArgLimits: a join past limits.max_rooms_per_socket fails and
// is counted, and an event with more than limits.max_event_args arguments
// is dropped with an error ack.
func TestRoomAndArgLimits(t *testing.T) {
	d := bootLimits(t, "limits: {max_rooms_per_socket: 3, max_event_args: 2}")
	a := nodeclient.Start(t)
	a.Connect("r", d.URL, map[string]any{"transports": []string{"websocket"}})
	a.WaitConnect(t, "r")

	steps := []struct {
		event string
		args  []any
		want  any // the ack's first argument
	}{
		{"enter", []any{"one"}, "joined"},
		{"enter", []any{[]any{"one", "two"}}, "joined"}, // one is in already: 3 rooms with its own
		{"enter", []any{"three"}, "joined"},             // the join fails, the reply still runs
		{"rooms", nil, nil},
		{"echo", []any{1.0, 2.0}, []any{1.0, 2.0}},
		{"echo", []any{1.0, 2.0, 3.0}, map[string]any{"error": "too many arguments"}},
	}
	for i, s := range steps {
		r := a.WaitAck(t, "r", a.EmitAck("r", s.event, s.args...))
		if s.event == "rooms" {
			rooms, _ := r.Args[0].([]any)
			if len(rooms) != 3 || !containsString(rooms, "one") || !containsString(rooms, "two") || containsString(rooms, "three") {
				t.Errorf("rooms %v, want its own, one and two", r.Args)
			}
			continue
		}
		if len(r.Args) != 1 || !reflect.DeepEqual(r.Args[0], s.want) {
			t.Errorf("step %d %s%v: ack %v, want [%v]", i, s.event, s.args, r.Args, s.want)
		}
	}
	for limit, want := range map[string]float64{"max_rooms_per_socket": 1, "max_event_args": 1} {
		if got := metricValue(t, d.Router.Registry(), "eventrouter_limited_total", "limit", limit); got != want {
			t.Errorf("limited_total{%s} = %v, want %v", limit, got, want)
		}
	}
	waitLog(t, d.Logs, "join refused: too many rooms")
	waitLog(t, d.Logs, "event dropped: too many arguments")
}

// TestPollingQueueBound: a polling client that stops polling while a
// broadcast stream goes on holds at most socketio.max_queue packets, and
// is then dropped as too slow with a log line naming the limit; the
// stream reaches the others.
func TestPollingQueueBound(t *testing.T) {
	const maxQueue = 20
	d := bootLimits(t, "socketio: {max_queue: 20, ping_interval: 1m, ping_timeout: 1m}")
	a := nodeclient.Start(t)
	a.Connect("talker", d.URL, map[string]any{"transports": []string{"websocket"}})
	a.WaitConnect(t, "talker")

	// The stalled client: the raw protocol, so that it can stop polling.
	base := d.URL + "/socket.io/?EIO=4&transport=polling"
	open := pollGet(t, base)
	sid := between(open, `"sid":"`, `"`)
	if sid == "" {
		t.Fatalf("handshake %q", open)
	}
	base += "&sid=" + sid
	resp, err := http.Post(base, "text/plain;charset=UTF-8", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := pollGet(t, base); !strings.HasPrefix(got, "40") {
		t.Fatalf("connect answer %q", got)
	}
	// From here on it never polls again. Each broadcast queues one packet
	// for it, synchronously before the talker's ack.
	say := func(i int) {
		if r := a.WaitAck(t, "talker", a.EmitAck("talker", "say", i)); !reflect.DeepEqual(r.Args, []any{"said"}) {
			t.Fatalf("say %d: ack %v", i, r.Args)
		}
	}
	for i := range maxQueue {
		say(i)
	}
	if n := d.Logs.FilterMessageSnippet("too slow").Len(); n != 0 {
		t.Fatalf("dropped at %d queued packets, want after %d", maxQueue, maxQueue)
	}
	say(maxQueue) // one over the bound
	waitLog(t, d.Logs, "client dropped: too slow")
	e := d.Logs.FilterMessageSnippet("too slow").All()[0]
	if f := e.ContextMap(); f["limit"] != "max_queue" || f["transport"] != "polling" {
		t.Errorf("drop log %v, want limit max_queue, transport polling", f)
	}
	waitLog(t, d.Logs, "left forced close")
	// Its session is gone: what it queued went with it, and the stream
	// queues nothing more for it.
	resp, err = http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("poll after the drop: %d %s, want 400", resp.StatusCode, body)
	}
	for i := range 3 * maxQueue {
		say(maxQueue + 1 + i)
	}
	if got := metricValue(t, d.Router.Registry(), "eventrouter_limited_total", "limit", "max_queue"); got != 1 {
		t.Errorf("limited_total{max_queue} = %v, want 1", got)
	}
	if got := len(a.Pending("talker")); got < 4*maxQueue {
		t.Errorf("the talker got %d of its own broadcasts, want them all", got)
	}
}

// pollGet does one polling GET and returns the body.
func pollGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, body, err)
	}
	return string(body)
}

// between returns the text of s between the first from and the next to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
