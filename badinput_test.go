package eventrouter_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/gorilla/websocket"
)

// rawSocket is a hand-driven Engine.IO websocket connection, for sending
// what no well-behaved client would.
type rawSocket struct {
	t    *testing.T
	conn *websocket.Conn
	sid  string // Socket.IO id from the connect packet
}

// dialRaw opens an Engine.IO v4 websocket and joins namespace "/".
func dialRaw(t *testing.T, d *daemon) *rawSocket {
	t.Helper()
	u := "ws" + strings.TrimPrefix(d.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	rs := &rawSocket{t: t, conn: conn}
	if msg := rs.read(); !strings.HasPrefix(msg, "0{") {
		t.Fatalf("open packet %q", msg)
	}
	rs.write("40")
	msg := rs.read()
	var ack struct {
		Sid string `json:"sid"`
	}
	if !strings.HasPrefix(msg, "40{") || json.Unmarshal([]byte(msg[2:]), &ack) != nil {
		t.Fatalf("connect packet %q", msg)
	}
	rs.sid = ack.Sid
	return rs
}

func (rs *rawSocket) write(msg string) {
	rs.t.Helper()
	if err := rs.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		rs.t.Fatalf("write: %v", err)
	}
}

// read returns the next text frame, skipping pings (answered).
func (rs *rawSocket) read() string {
	rs.t.Helper()
	for {
		msg, err := rs.readErr()
		if err != nil {
			rs.t.Fatalf("read: %v", err)
		}
		return msg
	}
}

func (rs *rawSocket) readErr() (string, error) {
	for {
		_ = rs.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := rs.conn.ReadMessage()
		if err != nil {
			return "", err
		}
		if string(b) == "2" {
			_ = rs.conn.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return string(b), nil
	}
}

// waitClosed waits until the server closes the connection.
func (rs *rawSocket) waitClosed() {
	rs.t.Helper()
	for {
		if _, err := rs.readErr(); err != nil {
			if websocket.IsUnexpectedCloseError(err) || strings.Contains(err.Error(), "close") || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
				return
			}
			rs.t.Fatalf("waiting for close: %v", err)
		}
	}
}

// TestBadPacketsDropOnlyTheirClient sends malformed and oversized packets
// and checks that only the offending client is dropped while a bystander
// keeps chatting.
func TestBadPacketsDropOnlyTheirClient(t *testing.T) {
	d := boot(t, "config.yaml")
	agent := nodeclient.Start(t)
	agent.Connect("bystander", d.URL, map[string]any{"transports": []string{"websocket"}})
	agent.WaitConnect(t, "bystander")

	cases := []struct {
		name    string
		payload string
		closes  bool // the offending client must be dropped
		either  bool // dropping it or not are both acceptable
	}{
		{"broken json", `42["send_message",{"a":`, true, false},
		{"unknown packet type", `49garbage`, true, false},
		{"oversized frame", `42["send_message","` + strings.Repeat("x", 1_100_000) + `"]`, true, false},
		{"unrouted event", `42["unrouted_event",1]`, false, false},
		// Numeric event names are valid Socket.IO; the library sometimes
		// drops such a client under -race timing. Either way, only it.
		{"numeric event name", `42[1,2,3]`, false, true},
		{"not an array", `42{"a":1}`, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := dialRaw(t, d)
			switch {
			case tc.either:
				rs.write(tc.payload)
			case tc.closes:
				// The server may close while a large frame is still being
				// written; the write error is then expected.
				_ = rs.conn.WriteMessage(websocket.TextMessage, []byte(tc.payload))
				rs.waitClosed()
			default:
				rs.write(tc.payload)
				// Still connected: a valid message afterwards is relayed back.
				rs.write(`42["send_message","still here"]`)
				for {
					msg := rs.read()
					if msg == `42["receive_message","still here"]` {
						break
					}
				}
			}
			agent.Emit("bystander", "send_message", tc.name)
			agent.Next(t, func(r nodeclient.Report) bool {
				return r.ID == "bystander" && r.Event == "receive_message" && len(r.Args) == 1 && r.Args[0] == tc.name
			}, nodeclient.DefaultTimeout)
		})
	}
	waitLog(t, d.Logs, "no rule for event")
}

// TestSlowClientIsCutOff connects a client that never reads, then relays
// enough data to fill its socket buffers: its queue passes
// socketio.max_queue and it is disconnected, while a reading client
// receives every message in order.
func TestSlowClientIsCutOff(t *testing.T) {
	d := boot(t, "testdata/slow.yaml")
	stalled := dialRaw(t, d) // never reads again
	agent := nodeclient.Start(t)
	agent.Connect("reader", d.URL, map[string]any{"transports": []string{"websocket"}})
	agent.WaitConnect(t, "reader")

	// 300 messages of 64 KiB: 19 MiB, far beyond what loopback socket
	// buffers hold for the stalled client. They go in windows of 10, so
	// the reader never has more than 10 outstanding, well within max_queue.
	chunk := strings.Repeat("x", 64<<10)
	const n, window = 300, 10
	for start := 0; start < n; start += window {
		for i := start; i < start+window; i++ {
			agent.Emit("reader", "send_message", fmt.Sprintf("%04d%s", i, chunk))
		}
		for i := start; i < start+window; i++ {
			got := agent.WaitEvent(t, "reader", "receive_message")
			if s, _ := got.Args[0].(string); !strings.HasPrefix(s, fmt.Sprintf("%04d", i)) {
				t.Fatalf("message %d arrived out of order", i)
			}
		}
	}
	waitLog(t, d.Logs, "client disconnected: "+stalled.sid+" transport error")
	// The drop is logged naming the limit: the queue, or the write timeout
	// when the machine is slow enough that a blocked write runs out first.
	waitLog(t, d.Logs, "client dropped: too slow")
	if f := d.Logs.FilterMessageSnippet("client dropped: too slow").All()[0].ContextMap(); f["limit"] != "max_queue" && f["limit"] != "write_timeout" || f["transport"] != "websocket" {
		t.Errorf("drop log %v, want limit max_queue or write_timeout, transport websocket", f)
	}
}

// TestWriteDeadlineMovesWithTraffic keeps a healthy client receiving for
// several times socketio.write_timeout: the write deadline must move with
// the writes, or the client is dropped.
func TestWriteDeadlineMovesWithTraffic(t *testing.T) {
	d := boot(t, "testdata/short-timeout.yaml")
	agent := nodeclient.Start(t)
	agent.Connect("c", d.URL, map[string]any{"transports": []string{"websocket"}})
	agent.WaitConnect(t, "c")
	end := time.Now().Add(1200 * time.Millisecond) // 4× write_timeout
	for i := 0; time.Now().Before(end); i++ {
		agent.Emit("c", "send_message", float64(i))
		if got := agent.WaitEvent(t, "c", "receive_message"); got.Args[0] != float64(i) {
			t.Fatalf("got %v, want %d", got.Args, i)
		}
	}
	if n := d.disconnectedLogs(); n != 0 {
		t.Fatalf("%d disconnects during steady traffic", n)
	}
}

// disconnectedLogs counts the daemon's disconnect log lines.
func (d *daemon) disconnectedLogs() int {
	return d.Logs.FilterMessageSnippet("disconnect").Len()
}
