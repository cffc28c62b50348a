package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// churnConfig logs every connection and disconnect rule run, so the test
// counts rule runs per socket id (the log lines carry it as a field).
const churnConfig = `rules:
  - name: connected
    on: connection
    do:
      - log("lifecycle connect")
  - name: left
    on: disconnect
    do:
      - log("lifecycle disconnect", reason)
`

// churnMode is when a churning client closes.
type churnMode int

const (
	closeAtOnce      churnMode = iota // as soon as the namespace CONNECT arrives
	closeAfterMillis                  // 1 to 4 ms after the CONNECT
	closeInHandshake                  // right after asking for the namespace, without waiting for the answer
)

// churnCycles is how many connect/close cycles each mode runs: enough to
// hit the races on every run under -race (the code before the lifecycle
// fix went wrong about 5 times in 1000 cycles of most modes), small enough
// for CI. Set EVENTROUTER_CHURN_CYCLES for a longer soak.
func churnCycles(t *testing.T) int {
	if v := os.Getenv("EVENTROUTER_CHURN_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("EVENTROUTER_CHURN_CYCLES=%q: want a positive number", v)
		}
		return n
	}
	if testing.Short() {
		return 200
	}
	return 1000
}

// TestLifecycleChurn proves that, however fast clients come and go, every
// socket that connected runs the connection rules once and the disconnect
// rules exactly once, and that the connections gauge returns to 0. Clients
// speak the real protocol on loopback, over both transports, closing at
// once after the connect, a few milliseconds later, or in the middle of the
// namespace handshake; closes alternate between a namespace disconnect
// followed by an Engine.IO close, an Engine.IO close alone, and dropping
// the connection.
func TestLifecycleChurn(t *testing.T) {
	r, url, logs := startReloadTestRouter(t, churnConfig)
	cycles := churnCycles(t)
	cases := []struct {
		name      string
		transport string
		mode      churnMode
	}{
		{"websocket/at-once", "websocket", closeAtOnce},
		{"websocket/after-ms", "websocket", closeAfterMillis},
		{"websocket/in-handshake", "websocket", closeInHandshake},
		{"polling/at-once", "polling", closeAtOnce},
		{"polling/after-ms", "polling", closeAfterMillis},
		{"polling/in-handshake", "polling", closeInHandshake},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.Len()
			seen := churn(t, cycles, func(ctx context.Context, hc *http.Client, i int) (string, error) {
				if tc.transport == "websocket" {
					return wsCycle(ctx, url, tc.mode, i)
				}
				return pollingCycle(ctx, hc, url, tc.mode, i)
			})
			tally := settleLifecycle(t, r, logs, before, seen)
			checkLifecycle(t, r, logs, tally, seen, tc.mode != closeInHandshake)
			t.Logf("%d cycles: %d connects seen by clients, %d connection rule runs, %d disconnect rule runs", cycles, len(seen), len(tally.connects), tally.disconnects)
		})
	}
	// Nothing arrives late: a duplicate disconnect of an earlier case would
	// show here.
	tally := settleLifecycle(t, r, logs, 0, nil)
	checkLifecycle(t, r, logs, tally, nil, false)
}

// TestLifecycleChurnNodeClient is the churn driven by the official Node
// socket.io-client: each client calls socket.disconnect() inside its
// connect handler, over websocket and over polling.
func TestLifecycleChurnNodeClient(t *testing.T) {
	r, url, logs := startReloadTestRouter(t, churnConfig)
	agent := nodeclient.Start(t)
	cycles := churnCycles(t) / 4
	const inFlight = 16
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			before := logs.Len()
			seen := map[string]bool{}
			opts := map[string]any{"transports": []string{transport}}
			for start := 0; start < cycles; start += inFlight {
				n := min(inFlight, cycles-start)
				for i := range n {
					agent.ConnectThenClose(fmt.Sprintf("%s-%d", transport, start+i), url, opts)
				}
				for i := range n {
					id := fmt.Sprintf("%s-%d", transport, start+i)
					seen[agent.WaitConnect(t, id).SID] = true
					agent.WaitDisconnect(t, id)
				}
			}
			tally := settleLifecycle(t, r, logs, before, seen)
			checkLifecycle(t, r, logs, tally, seen, true)
			t.Logf("%d cycles: %d connection rule runs, %d disconnect rule runs", cycles, len(tally.connects), tally.disconnects)
		})
	}
	tally := settleLifecycle(t, r, logs, 0, nil)
	checkLifecycle(t, r, logs, tally, nil, false)
}

// kickConfig is churnConfig plus rules that disconnect the socket, in its
// connection rules or on an event, as the query's kick parameter says, and
// one that welcomes the socket.
const kickConfig = churnConfig + `  - name: kick-at-connect
    on: connection
    when: socket.handshake.query.kick == "connect"
    do:
      - disconnect("kicked at connect")
  - name: welcome
    on: connection
    do:
      - emit("welcome")
  - name: kick-on-event
    on: kick_me
    do:
      - disconnect("kicked on event")
`

// TestLifecycleServerDisconnect: a socket that a rule disconnects, even
// from its own connection rules, runs its disconnect rules exactly once,
// after the connection rules, with the rule's reason.
func TestLifecycleServerDisconnect(t *testing.T) {
	r, url, logs := startReloadTestRouter(t, kickConfig)
	const cycles = 50
	for _, kick := range []string{"connect", "event"} {
		t.Run(kick, func(t *testing.T) {
			before := logs.Len()
			seen := map[string]bool{}
			for range cycles {
				sid, err := wsKicked(t.Context(), url, kick)
				if err != nil {
					t.Fatal(err)
				}
				seen[sid] = true
			}
			tally := settleLifecycle(t, r, logs, before, seen)
			checkLifecycle(t, r, logs, tally, seen, true)
			for id, reasons := range tally.leaves {
				if want := "kicked at " + kick; kick == "event" && reasons[0] != "kicked on event" || kick == "connect" && reasons[0] != want {
					t.Errorf("socket %s left with reason %q", id, reasons[0])
				}
			}
		})
	}
}

// wsKicked connects a raw websocket client with ?kick=kick, sends kick_me
// when kick is "event", and returns the socket id once the server's
// namespace DISCONNECT arrives.
func wsKicked(ctx context.Context, base, kick string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := wsOpen(ctx, base, "&kick="+kick)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		return "", fmt.Errorf("namespace connect: %w", err)
	}
	sid, err := wsConnectAnswer(conn)
	if err != nil {
		return "", err
	}
	if kick == "event" {
		// Wait for the connection rules: the library writes the CONNECT
		// before it routes the socket's packets, and an event that arrives
		// in between makes it close the connection.
		if data, err := readWS(conn, '4'); err != nil || string(data) != `42["welcome"]` {
			return "", fmt.Errorf("socket %s: want welcome, got %q (%v)", sid, data, err)
		}
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`42["kick_me"]`)); err != nil {
			return "", fmt.Errorf("kick_me: %w", err)
		}
	}
	if data, err := readWS(conn, '4'); err != nil || string(data) != "41" {
		return "", fmt.Errorf("socket %s: want the server's namespace DISCONNECT, got %q (%v)", sid, data, err)
	}
	return sid, nil
}

// churn runs cycles client cycles on a few concurrent workers and returns
// the socket ids of the connects the clients saw.
func churn(t *testing.T, cycles int, cycle func(ctx context.Context, hc *http.Client, i int) (string, error)) map[string]bool {
	t.Helper()
	const workers = 8
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		errs []error
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer hc.CloseIdleConnections()
			for i := w; i < cycles; i += workers {
				sid, err := cycle(ctx, hc, i)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("cycle %d: %w", i, err))
				}
				if sid != "" {
					seen[sid] = true
				}
				mu.Unlock()
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d of %d cycles failed: %v", len(errs), cycles, firstLines(err, 5))
	}
	return seen
}

// lifecycleTally is what the rules logged for sockets.
type lifecycleTally struct {
	connects    map[string]int      // connection rule runs by socket id
	leaves      map[string][]string // disconnect rule runs' reasons by socket id
	disconnects int
}

// tallyLifecycle counts the lifecycle log lines from index from on.
func tallyLifecycle(logs *observer.ObservedLogs, from int) lifecycleTally {
	tally := lifecycleTally{connects: map[string]int{}, leaves: map[string][]string{}}
	all := logs.All()
	for _, e := range all[min(from, len(all)):] {
		id, _ := e.ContextMap()["socket"].(string)
		switch {
		case e.Message == "lifecycle connect":
			tally.connects[id]++
		case strings.HasPrefix(e.Message, "lifecycle disconnect"):
			tally.leaves[id] = append(tally.leaves[id], strings.TrimPrefix(e.Message, "lifecycle disconnect "))
			tally.disconnects++
		}
	}
	return tally
}

// settleLifecycle waits until the server has caught up with the clients
// that closed: a connection rule run for every connect a client saw, a
// disconnect rule run for every connection rule run, the gauge back to 0
// and the namespace empty. (The library writes the CONNECT before it emits
// "connection", so under load the client can see the CONNECT and leave,
// and the library empty the namespace, before the connection rules run.)
// It returns the tally either way, for checkLifecycle to report what is
// wrong.
func settleLifecycle(t *testing.T, r *Router, logs *observer.ObservedLogs, from int, seen map[string]bool) lifecycleTally {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tally := tallyLifecycle(logs, from)
		counted, _ := r.conns.counts("")
		settled := metricValue(r.metrics.connections) == 0 && counted == 0 && r.watchedConns() == r.io.Engine().ClientsCount() &&
			r.io.Sockets().Sockets().Len() == 0 &&
			tally.disconnects == len(tally.connects)
		for id := range seen {
			settled = settled && tally.connects[id] > 0
		}
		if settled || time.Now().After(deadline) {
			return tally
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline, not synchronisation by delay
	}
}

// checkLifecycle fails the test unless every socket ran the connection
// rules once and the disconnect rules exactly once, the gauge is 0, the
// namespace is empty and the connection rules ran for every connect a
// client saw (for exactly those when exact: a client that closes during
// the handshake may leave before the CONNECT it caused reaches it).
func checkLifecycle(t *testing.T, r *Router, logs *observer.ObservedLogs, tally lifecycleTally, seen map[string]bool, exact bool) {
	t.Helper()
	if v := metricValue(r.metrics.connections); v != 0 {
		t.Errorf("eventrouter_connections is %v after every client left, want 0", v)
	}
	// The connection limits' counts too; the watched Engine.IO connections
	// are the engine's own (a polling client that left during the
	// handshake stays there until its heartbeat runs out).
	if counted, _ := r.conns.counts(""); counted != 0 {
		t.Errorf("the connection limits count %d sockets after every client left, want 0", counted)
	}
	// A connection that ends leaves the engine's count just before its
	// close event reaches the watch: the two agree again a moment later.
	for deadline := time.Now().Add(5 * time.Second); r.watchedConns() != r.io.Engine().ClientsCount() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline, not synchronisation by delay
	}
	if n, e := r.watchedConns(), r.io.Engine().ClientsCount(); n != e {
		t.Errorf("%d Engine.IO connections watched, the engine has %d", n, e)
	}
	if n := r.io.Sockets().Sockets().Len(); n != 0 {
		t.Errorf("the namespace still holds %d sockets after every client left", n)
	}
	var twice, missing, stray, dupConnects []string
	for id, n := range tally.connects {
		if n != 1 {
			dupConnects = append(dupConnects, fmt.Sprintf("%s ran %d times", id, n))
		}
		switch reasons := tally.leaves[id]; {
		case len(reasons) == 0:
			missing = append(missing, id)
		case len(reasons) > 1:
			twice = append(twice, fmt.Sprintf("%s %q", id, reasons))
		}
	}
	for id := range tally.leaves {
		if tally.connects[id] == 0 {
			stray = append(stray, id)
		}
	}
	var unseen []string
	for id := range seen {
		if tally.connects[id] == 0 {
			unseen = append(unseen, id)
		}
	}
	report := func(what string, ids []string) {
		if len(ids) > 0 {
			t.Errorf("%d sockets %s, e.g. %s", len(ids), what, strings.Join(ids[:min(len(ids), 3)], "; "))
		}
	}
	defer func() {
		if !t.Failed() {
			return
		}
		suspects := map[string]bool{}
		for _, ids := range [][]string{missing, stray, unseen} {
			for _, id := range ids[:min(len(ids), 3)] {
				suspects[id] = true
			}
		}
		for _, e := range logs.All() {
			id, _ := e.ContextMap()["socket"].(string)
			if suspects[id] || e.Level >= zap.WarnLevel {
				t.Logf("daemon log: %s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	}()
	report("ran the connection rules more than once", dupConnects)
	report("never ran the disconnect rules", missing)
	report("ran the disconnect rules more than once", twice)
	report("ran the disconnect rules without the connection rules", stray)
	report("connected (the client saw it) without the connection rules", unseen)
	if exact && len(seen) != len(tally.connects) {
		t.Errorf("clients saw %d connects, the connection rules ran %d times", len(seen), len(tally.connects))
	}
}

// firstLines is err's message cut to n lines.
func firstLines(err error, n int) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… and %d more", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// closeStyle is how a churning client leaves; cycle i uses style i%3.
type closeStyle int

const (
	leaveGracefully closeStyle = iota // namespace DISCONNECT, then Engine.IO close, as socket.disconnect() does
	leaveEngine                       // Engine.IO close alone
	leaveAbruptly                     // drop the connection (websocket) / close packet batched with the rest (polling)
)

// wsCycle connects one raw websocket client to "/", closes it as mode says
// and returns the socket id of the CONNECT it saw, if any.
func wsCycle(ctx context.Context, base string, mode churnMode, i int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := wsOpen(ctx, base, "")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		return "", fmt.Errorf("namespace connect: %w", err)
	}
	var sid string
	if mode == closeInHandshake {
		// The test's input: close while the server is between reading the
		// namespace connect and answering it, at varying points.
		time.Sleep(time.Duration(i%4) * 100 * time.Microsecond)
	} else {
		var err error
		if sid, err = wsConnectAnswer(conn); err != nil {
			return "", err
		}
		if mode == closeAfterMillis {
			time.Sleep(time.Duration(1+i%4) * time.Millisecond) // the test's input: how long the client stays
		}
	}
	switch closeStyle(i % 3) {
	case leaveGracefully:
		_ = conn.WriteMessage(websocket.TextMessage, []byte("41"))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	case leaveEngine:
		_ = conn.WriteMessage(websocket.TextMessage, []byte("1"))
	case leaveAbruptly:
	}
	return sid, nil
}

// wsOpen dials a raw Engine.IO websocket with the extra query and reads
// the open packet; reads time out with ctx.
func wsOpen(ctx context.Context, base, query string) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket" + query
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = resp.Body.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(deadline)
	}
	if _, err := readWS(conn, '0'); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open: %w", err)
	}
	return conn, nil
}

// readWS reads text frames until one of Engine.IO type typ, answering pings.
func readWS(conn *websocket.Conn, typ byte) ([]byte, error) {
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		switch {
		case len(msg) == 0:
		case msg[0] == typ:
			return msg, nil
		case msg[0] == '2':
			if err := conn.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
				return nil, fmt.Errorf("pong: %w", err)
			}
		default:
			return nil, fmt.Errorf("unexpected packet %q", msg)
		}
	}
}

// wsConnectAnswer reads the answer to a namespace connect and returns the
// socket id it gives.
func wsConnectAnswer(conn *websocket.Conn) (string, error) {
	data, err := readWS(conn, '4')
	if err != nil {
		return "", fmt.Errorf("namespace connect answer: %w", err)
	}
	return connectSID(data)
}

// connectSID returns the socket id of a namespace CONNECT packet
// (`40{"sid":...}`).
func connectSID(packet []byte) (string, error) {
	if !strings.HasPrefix(string(packet), "40") {
		return "", fmt.Errorf("want a namespace CONNECT, got %q", packet)
	}
	var body struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(packet[2:], &body); err != nil || body.SID == "" {
		return "", fmt.Errorf("namespace CONNECT %q: no sid", packet)
	}
	return body.SID, nil
}

// pollingCycle is wsCycle over HTTP long-polling.
func pollingCycle(ctx context.Context, hc *http.Client, base string, mode churnMode, i int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := base + "/socket.io/?EIO=4&transport=polling"
	open, err := pollRequest(ctx, hc, http.MethodGet, u, "")
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	var info struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &info) != nil || info.SID == "" {
		return "", fmt.Errorf("open: unexpected %q", open)
	}
	u += "&sid=" + info.SID
	style := closeStyle(i % 3)
	if mode == closeInHandshake {
		if style == leaveAbruptly {
			_, err := pollRequest(ctx, hc, http.MethodPost, u, "40\x1e1")
			return "", err
		}
		if _, err := pollRequest(ctx, hc, http.MethodPost, u, "40"); err != nil {
			return "", fmt.Errorf("namespace connect: %w", err)
		}
		return "", pollClose(ctx, hc, u, style)
	}
	if _, err := pollRequest(ctx, hc, http.MethodPost, u, "40"); err != nil {
		return "", fmt.Errorf("namespace connect: %w", err)
	}
	var sid string
	for sid == "" {
		payload, err := pollRequest(ctx, hc, http.MethodGet, u, "")
		if err != nil {
			return "", fmt.Errorf("namespace connect answer: %w", err)
		}
		for packet := range strings.SplitSeq(payload, "\x1e") {
			switch {
			case strings.HasPrefix(packet, "40"):
				if sid, err = connectSID([]byte(packet)); err != nil {
					return "", err
				}
			case packet == "2":
				if _, err := pollRequest(ctx, hc, http.MethodPost, u, "3"); err != nil {
					return "", fmt.Errorf("pong: %w", err)
				}
			case packet == "6":
			default:
				return "", fmt.Errorf("unexpected packet %q", packet)
			}
		}
	}
	if mode == closeAfterMillis {
		time.Sleep(time.Duration(1+i%4) * time.Millisecond) // the test's input: how long the client stays
	}
	return sid, pollClose(ctx, hc, u, style)
}

// pollClose leaves a polling session in style.
func pollClose(ctx context.Context, hc *http.Client, u string, style closeStyle) error {
	var err error
	switch style {
	case leaveGracefully:
		if _, err = pollRequest(ctx, hc, http.MethodPost, u, "41"); err == nil {
			_, err = pollRequest(ctx, hc, http.MethodPost, u, "1")
		}
	case leaveEngine:
		_, err = pollRequest(ctx, hc, http.MethodPost, u, "1")
	case leaveAbruptly:
		_, err = pollRequest(ctx, hc, http.MethodPost, u, "41\x1e1")
	}
	// The engine aborts a data request in progress with 429 when it closes
	// the transport, which the close packet in that very request can do.
	if err != nil && !errors.Is(err, errAborted) {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// errAborted is a polling request that the server aborted (status 429).
var errAborted = errors.New("request aborted")

// pollRequest makes one polling request and returns the body of a 200.
func pollRequest(ctx context.Context, hc *http.Client, method, u, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("request: %w", err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("%s: read body: %w", method, err)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return "", fmt.Errorf("%s: %w", method, errAborted)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: status %d: %s", method, resp.StatusCode, b)
	}
	return string(b), nil
}

// watchedConns counts the Engine.IO connections peerOf watches.
func (r *Router) watchedConns() uint64 {
	r.peers.mu.Lock()
	defer r.peers.mu.Unlock()
	return uint64(len(r.peers.m))
}
