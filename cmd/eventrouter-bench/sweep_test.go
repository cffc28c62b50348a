package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// fakeCluster is a minimal Socket.IO "cluster" for the sweep: every server
// relays send_message as receive_message to the sockets of every server.
// Server i delivers only every keep[i]-th message to its own sockets, so a
// test can tell the receiver groups apart by their losses.
type fakeCluster struct {
	mu    sync.Mutex
	conns map[*websocket.Conn]int // socket → server index
	wmu   map[*websocket.Conn]*sync.Mutex
	keep  []int
	seq   atomic.Int64
}

func (f *fakeCluster) handler(server int) http.Handler {
	up := websocket.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		var wmu sync.Mutex
		write := func(b []byte) {
			wmu.Lock()
			defer wmu.Unlock()
			_ = conn.WriteMessage(websocket.TextMessage, b)
		}
		write([]byte(`0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				f.mu.Lock()
				delete(f.conns, conn)
				f.mu.Unlock()
				return
			}
			switch {
			case string(msg) == "40":
				f.mu.Lock()
				f.conns[conn] = server
				f.wmu[conn] = &wmu
				f.mu.Unlock()
				write([]byte(`40{"sid":"x"}`))
			case bytes.HasPrefix(msg, []byte(`42["send_message",`)):
				n := f.seq.Add(1)
				out := append([]byte(`42["receive_message",`), msg[len(`42["send_message",`):]...)
				f.mu.Lock()
				for c, s := range f.conns {
					if n%int64(f.keep[s]) != 0 {
						continue
					}
					m := f.wmu[c]
					m.Lock()
					_ = c.WriteMessage(websocket.TextMessage, out)
					m.Unlock()
				}
				f.mu.Unlock()
			}
		}
	})
}

// TestSweepReceiverGroups runs a short sweep with the receivers spread over
// two fake servers, the second of which delivers every other message only.
func TestSweepReceiverGroups(t *testing.T) {
	f := &fakeCluster{conns: map[*websocket.Conn]int{}, wmu: map[*websocket.Conn]*sync.Mutex{}, keep: []int{1, 2}}
	a := httptest.NewServer(f.handler(0))
	defer a.Close()
	b := httptest.NewServer(f.handler(1))
	defer b.Close()

	var out, errb bytes.Buffer
	code := run([]string{
		"--url", a.URL, "--receiver-urls", a.URL + "," + b.URL,
		"--clients", "5", "--rates", "500", "--step-duration", "400ms", "--drain", "300ms",
		"--watch-pids", fmt.Sprintf("self=%d", os.Getpid()), "--json",
	}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.ReceiverGroups) != 2 || res.ReceiverGroups[0].Connected != 3 || res.ReceiverGroups[1].Connected != 2 {
		t.Fatalf("receiver_groups = %+v, want 3 on A and 2 on B", res.ReceiverGroups)
	}
	if len(res.Steps) != 1 {
		t.Fatalf("%d steps, want 1", len(res.Steps))
	}
	s := res.Steps[0]
	if len(s.Groups) != 2 {
		t.Fatalf("step groups = %+v", s.Groups)
	}
	ga, gb := s.Groups[0], s.Groups[1]
	if !strings.Contains(ga.URL, a.URL[len("http://"):]) || !strings.Contains(gb.URL, b.URL[len("http://"):]) {
		t.Errorf("group URLs %q %q, want A's then B's", ga.URL, gb.URL)
	}
	if s.Messages == 0 || ga.Expected != 3*s.Messages || gb.Expected != 2*s.Messages || s.Expected != ga.Expected+gb.Expected {
		t.Errorf("expected: step %d (messages %d), A %d, B %d", s.Expected, s.Messages, ga.Expected, gb.Expected)
	}
	if ga.Lost != 0 || ga.Received != ga.Expected {
		t.Errorf("A lost %d of %d, want none", ga.Lost, ga.Expected)
	}
	if gb.Lost < gb.Expected/2-2 || gb.Lost > gb.Expected/2+2 {
		t.Errorf("B lost %d of %d, want about half", gb.Lost, gb.Expected)
	}
	if s.Received != ga.Received+gb.Received || s.Lost != ga.Lost+gb.Lost {
		t.Errorf("step received %d lost %d, groups %d+%d and %d+%d", s.Received, s.Lost, ga.Received, gb.Received, ga.Lost, gb.Lost)
	}
	if ga.Offered != 300 || gb.Offered != 200 {
		t.Errorf("group offered %d and %d, want 300 and 200 (500/s over 5 receivers)", ga.Offered, gb.Offered)
	}
	if ga.Latency.Count != int(ga.Received) || gb.Latency.Count != int(gb.Received) {
		t.Errorf("latency counts %d %d, received %d %d", ga.Latency.Count, gb.Latency.Count, ga.Received, gb.Received)
	}
	if _, ok := s.WatchedCPUPct["self"]; !ok {
		t.Errorf("watched_cpu_pct = %v, want self", s.WatchedCPUPct)
	}
}

// TestSweepWithoutReceiverURLs checks that the output without the new
// flags carries none of the per-group fields.
func TestSweepWithoutReceiverURLs(t *testing.T) {
	f := &fakeCluster{conns: map[*websocket.Conn]int{}, wmu: map[*websocket.Conn]*sync.Mutex{}, keep: []int{1}}
	a := httptest.NewServer(f.handler(0))
	defer a.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"--url", a.URL, "--clients", "3", "--rates", "300", "--step-duration", "200ms", "--drain", "200ms", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	for _, key := range []string{"receiver_groups", "groups", "watched_cpu_pct"} {
		if bytes.Contains(out.Bytes(), []byte(`"`+key+`"`)) {
			t.Errorf("output has %q without --receiver-urls / --watch-pids:\n%s", key, out.String())
		}
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 1 || res.Steps[0].Lost != 0 || res.Steps[0].Received == 0 {
		t.Errorf("steps = %+v", res.Steps)
	}
}
