package nodeclient

import (
	"bytes"
	"net"
	"reflect"
	"sync"
	"testing"
)

// closedURL returns an http URL on 127.0.0.1 whose port was just freed, so a
// connection attempt is refused.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/"
}

func TestConnectErrorOnClosedPort(t *testing.T) {
	a := Start(t)
	url := closedURL(t)

	a.Connect("polling", url, nil)
	a.Connect("ws", url, map[string]any{"transports": []string{"websocket"}})

	// Wait in the reverse order of connection: a report for the other socket
	// that arrives first must stay buffered for the second waiter.
	ws := a.WaitConnectError(t, "ws")
	p := a.WaitConnectError(t, "polling")
	for _, r := range []Report{ws, p} {
		if r.Type != TypeConnectError || r.Message == "" {
			t.Errorf("unexpected report %s", r)
		}
	}
	t.Logf("polling: %q, websocket: %q", p.Message, ws.Message)
}

func TestConcurrentWaiters(t *testing.T) {
	a := Start(t)
	url := closedURL(t)
	ids := []string{"c0", "c1", "c2", "c3", "c4", "c5"}
	var wg sync.WaitGroup
	for _, id := range ids {
		a.Connect(id, url, map[string]any{"transports": []string{"websocket"}})
	}
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Next (not the Wait* helpers, which may Fatal) from goroutines.
			r, err := a.next(func(r Report) bool { return r.ID == id && r.Type == TypeConnectError }, DefaultTimeout)
			if err != nil {
				t.Errorf("%s: %v", id, err)
			} else if r.ID != id {
				t.Errorf("%s: got report for %s", id, r.ID)
			}
		}()
	}
	wg.Wait()
}

func TestAgentReportsBadCommands(t *testing.T) {
	a := Start(t)

	a.Send(map[string]any{"op": "bogus"})
	r := a.Next(t, func(r Report) bool { return r.Type == TypeError }, DefaultTimeout)
	if r.Message == "" {
		t.Errorf("error report without message: %s", r)
	}

	seq := a.EmitAck("nope", "x", 1)
	r = a.Next(t, func(r Report) bool { return r.Type == TypeError && r.Seq == seq }, DefaultTimeout)
	if r.ID != "nope" {
		t.Errorf("error report for %q, want id nope: %s", r.ID, r)
	}

	a.Disconnect("nope")
	a.Next(t, func(r Report) bool { return r.Type == TypeError && r.ID == "nope" }, DefaultTimeout)

	// The agent is still alive and in order.
	a.Sync(t)
}

func TestBinaryEncoding(t *testing.T) {
	in := []any{[]byte{0, 1, 2}, map[string]any{"x": []any{[]byte{0xff}, "s"}}, 3}
	enc := encodeArgs(in)
	want := []any{
		map[string]any{"$bin": "AAEC"},
		map[string]any{"x": []any{map[string]any{"$bin": "/w=="}, "s"}},
		3,
	}
	if !reflect.DeepEqual(enc, want) {
		t.Fatalf("encodeArgs = %#v, want %#v", enc, want)
	}

	r := parseReport([]byte(`{"type":"event","id":"a","event":"e","args":[{"$bin":"AAEC"},{"x":[{"$bin":"/w=="},"s"]},3],"data":{"$bin":"AQ=="}}`))
	if b, ok := r.Args[0].([]byte); !ok || !bytes.Equal(b, []byte{0, 1, 2}) {
		t.Errorf("args[0] = %#v", r.Args[0])
	}
	inner := r.Args[1].(map[string]any)["x"].([]any)
	if b, ok := inner[0].([]byte); !ok || !bytes.Equal(b, []byte{0xff}) {
		t.Errorf("nested = %#v", inner[0])
	}
	if r.Args[2] != float64(3) {
		t.Errorf("args[2] = %#v", r.Args[2])
	}
	if b, ok := r.Data.([]byte); !ok || !bytes.Equal(b, []byte{1}) {
		t.Errorf("data = %#v", r.Data)
	}
	if raw := parseReport([]byte("not json")); raw.Type != TypeRaw {
		t.Errorf("non-JSON line parsed as %s", raw)
	}
}
