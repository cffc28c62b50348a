package eventrouter_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/logaction"
	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/internal/redistest"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/eventrouter/eventrouter/ruletest"
	natsgo "github.com/nats-io/nats.go"
)

// TestRuleTestsAgainstDaemon proves that what `eventrouter test` shows is
// what the daemon does. It replays every rule-test case of the repository
// (the files ruletest.Find finds: config_test.yaml and examples/*) against
// the in-process daemon booted on the case's config, with a real client:
// the official Node socket.io-client for socket cases, net/http for route
// cases. For each case it holds the actions the daemon executed for the
// case's event (router.Options.Trace) against the actions ruletest.Eval
// yields for the case, in order and field by field (ruletest.DiffActions),
// whatever the case itself expects: cases that expect an error, contains
// and no_actions cases replay the same way. It also checks what the client
// and the operator observe of those actions: an emit or a broadcast
// arrives at the case's socket with the action's event and arguments, a
// reply is the ack the client receives, a respond is the HTTP response's
// status, headers and JSON body, a reject is the connect_error's message
// and data, and a log action is a line in the daemon's log with the
// message ruletest shows.
//
// What comes from the wire, sent by the real client and decoded by the
// daemon as for any client (and checked against the event ruletest.NewEvent
// builds for the case):
//   - socket cases: the event's name, its arguments, whether it awaits an
//     ack, the namespace, and the handshake's auth, query and headers
//     (extraHeaders); the daemon's own query and headers (EIO, transport,
//     host, ...) come on top of the case's;
//   - route cases: the method, the path (and so the route and
//     request.params), the query, the headers and the JSON body. A case
//     written against a route pattern with explicit params (POST
//     /publish/{topic} with params {topic: alerts}) is sent to the path
//     those params fill in (/publish/alerts); request.path then stays the
//     case's, from the hook.
//
// What comes from the hook (router.Options.Prepare), laid over the live
// event before it is evaluated, because a real client cannot choose it: the
// socket's id, rooms and state, the handshake's address and secure flag, a
// disconnect's reason, a request's remote address, the server: rooms table
// (room_size, socket_rooms), the case's vars and its event.time. Each is exactly what
// ruletest.NewEvent builds, defaults included: socket-1, rooms [id], no
// state, no server rooms. The overlay serves evaluation only: the case's
// rooms and state are not made real on the socket, since no executed
// action needs them (leave of a room the socket is not in, set over an
// empty state and disconnect_room over the real, empty rooms execute as
// the same actions); for that reason deliveries to rooms (to, to_others)
// are not observed here, TestActionsEndToEnd covers them.
//
// Every other event the daemon sees during the replay is neutralised by
// the hook (made an event of no kind, which no rule matches): the
// connection that sets up the socket of an event or disconnect case, so a
// connection rule that would refuse the case's handshake does not keep the
// case's event from being replayed, and the disconnect that ends a case's
// socket. An event in a namespace the config does not serve, and a request
// no route serves, never reach the rules: the client gets connect_error
// "Invalid namespace" or a 404/405, and the daemon executes nothing.
//
// A file whose config needs plugins beyond the built-ins (its plugins
// key; examples/plugin) is skipped, saying so: its custom build's own
// test runs it.
func TestRuleTestsAgainstDaemon(t *testing.T) {
	files, err := ruletest.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	agent := nodeclient.Start(t)
	cases := 0
	for _, path := range files {
		s, err := ruletest.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cases += len(s.Tests)
		t.Run(filepath.ToSlash(path), func(t *testing.T) {
			if len(s.Plugins) > 0 {
				// The replay observes the built-in actions only; the
				// example's own test builds its custom binary and runs
				// the config in it.
				t.Skipf("needs plugin(s) %v beyond the built-ins; examples/plugin/main_test.go runs it in its custom build", s.Plugins)
			}
			rp := newReplayer(t, agent, s)
			for _, c := range s.Tests {
				t.Run(c.Name, func(t *testing.T) { rp.replay(t, c) })
			}
		})
	}
	if len(files) < 4 {
		t.Errorf("found %d rule-test files, want config_test.yaml and the examples'", len(files))
	}
	t.Logf("replayed %d cases of %d rule-test files", cases, len(files))
}

// replayTimeout bounds every wait for the daemon.
const replayTimeout = 10 * time.Second

// replayer replays the cases of one config against its own daemon, one
// case at a time.
type replayer struct {
	agent *nodeclient.Agent
	d     *daemon
	rs    *rules.Ruleset
	nats  *natsgo.Conn // publishes the cases' NATS messages; nil without nats rules

	mu     sync.Mutex
	cur    *replayPlan            // the case being replayed
	seq    int                    // numbers the cases
	tagged map[*rules.Event]stage // prepared events of the cases, until traced
	traced []replayed             // traced events of the cases
	notify chan struct{}          // closed and replaced when traced grows
}

// replayPlan is one case being replayed.
type replayPlan struct {
	seq     int
	want    *rules.Event // the event ruletest.NewEvent builds for the case
	params  bool         // the case gave request params: request.path stays the case's
	sid     string       // the real id of the first socket to connect: the case's, or a route case's watcher
	claimed bool         // the daemon has prepared the case's event
	wire    rules.Event  // the case's event as the daemon built it from the wire
}

// stage tells a case's own event from the connection that sets up its
// socket.
type stage struct {
	plan  *replayPlan
	setup bool
}

// replayed is the trace of a case's event or of its setup connection.
type replayed struct {
	stage
	executed []rules.Action
}

// newReplayer boots the daemon on the config of s with the replayer's hooks.
func newReplayer(t *testing.T, agent *nodeclient.Agent, s *ruletest.Suite) *replayer {
	rp := &replayer{agent: agent, tagged: map[*rules.Event]stage{}, notify: make(chan struct{})}
	// The daemon runs on the test file's stand-ins for secrets, as the
	// rule tests do.
	standIns := s.Vars
	if standIns == nil {
		standIns = map[string]any{}
	}
	// The examples' backends are not there: a webhook's retries end at
	// once, so the daemon's stop does not wait for them.
	// A cluster config joins the test Redis, in a cluster of its own, so
	// its rules run on the cluster's paths (and no Redis of the machine's
	// sees the test's broadcasts).
	var environ []string
	if raw, err := os.ReadFile(s.Config); err == nil && regexp.MustCompile(`(?m)^cluster:`).Match(raw) {
		environ = []string{"EVENTROUTER_CLUSTER_REDIS_URL=" + redistest.Shared(t), "EVENTROUTER_CLUSTER_REDIS_PREFIX=" + redistest.Prefix(t)}
	}
	rp.d = bootLoaded(t, s.Config, rules.LoadOptions{Environ: func() []string { return environ }, StandIns: standIns},
		router.Options{Prepare: rp.prepare, Trace: rp.trace, WebhookBackoff: func(int) time.Duration { return time.Millisecond }})
	rp.rs = rp.d.Router.Runtime().Rules
	if rp.rs.PluginConfig("nats") != nil || len(rp.rs.SourcePatterns("nats")) > 0 {
		rp.useNATS(t)
	}
	return rp
}

// useNATS points the daemon's nats plugin at a real NATS server of the
// test's own, by reloading the config with plugins.nats.url changed, so
// the cases' NATS messages are replayed as real publishes.
func (rp *replayer) useNATS(t *testing.T) {
	srv := startNATS(t)
	cfg := *rp.rs.Config
	cfg.Plugins = maps.Clone(cfg.Plugins)
	section := maps.Clone(cfg.Plugins["nats"])
	if section == nil {
		section = map[string]any{}
	}
	section["url"] = srv.ClientURL()
	if cfg.Plugins == nil {
		cfg.Plugins = map[string]map[string]any{}
	}
	cfg.Plugins["nats"] = section
	rs, err := rules.Compile(&cfg, rp.rs.Registry())
	if err != nil {
		t.Fatalf("compile the config with the test's NATS server: %v", err)
	}
	if err := rp.d.Router.Reload(rs, ""); err != nil {
		t.Fatalf("reload with the test's NATS server: %v", err)
	}
	rp.rs = rs
	patterns := rs.SourcePatterns("nats")
	waitCount(t, func() int {
		if c := connOf(t, srv, natsName(rs)); c != nil {
			return len(c.Subs)
		}
		return -1
	}, len(patterns))
	nc, err := natsgo.Connect(srv.ClientURL(), natsgo.Name("difftest"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rp.nats = nc
}

// prepare is the daemon's Options.Prepare: it lays the current case's
// preconditions over the case's event, and neutralises every other event.
func (rp *replayer) prepare(ev *rules.Event) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	p := rp.cur
	if p == nil {
		ev.Kind = 0 // no rule reacts to an event of no kind
		return
	}
	own, setup := p.claims(ev)
	switch {
	case setup:
		ev.Kind = 0
		rp.tagged[ev] = stage{plan: p, setup: true}
		return
	case !own:
		ev.Kind = 0
		return
	}
	p.wire = *ev
	w := p.want
	ev.Vars, ev.Server = w.Vars, w.Server
	if !w.Time.IsZero() {
		ev.Time = w.Time // event.time: the clock jwt() checks against
	}
	switch ev.Kind {
	case rules.TriggerSource:
		ev.Meta = w.Meta // the case's stand-in, as for the socket's id
	case rules.TriggerHTTP:
		ev.Request.Address = w.Request.Address
		if p.params {
			ev.Request.Path = w.Request.Path
		}
	default:
		ev.Socket.ID, ev.Socket.Rooms, ev.Socket.State = w.Socket.ID, w.Socket.Rooms, w.Socket.State
		ev.Socket.Handshake.Address, ev.Socket.Handshake.Secure = w.Socket.Handshake.Address, w.Socket.Handshake.Secure
		ev.Reason = w.Reason
	}
	rp.tagged[ev] = stage{plan: p}
}

// claims reports whether ev is the case's own event, or the connection of
// the case's socket (or a route case's watcher) that sets up the case. The
// first connection while a case is replayed is that socket's.
func (p *replayPlan) claims(ev *rules.Event) (own, setup bool) {
	if ev.Kind == rules.TriggerConnection && p.sid == "" {
		p.sid = ev.Socket.ID
		p.claimed = p.want.Kind == rules.TriggerConnection
		return p.claimed, !p.claimed
	}
	if p.claimed || ev.Kind != p.want.Kind {
		return false, false
	}
	switch ev.Kind {
	case rules.TriggerHTTP, rules.TriggerSource:
		p.claimed = true
	case rules.TriggerEvent, rules.TriggerDisconnect:
		p.claimed = p.sid != "" && ev.Socket.ID == p.sid
	}
	return p.claimed, false
}

// trace is the daemon's Options.Trace: it keeps the traces of the cases'
// events and setup connections.
func (rp *replayer) trace(ev *rules.Event, executed []rules.Action) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	st, ok := rp.tagged[ev]
	if !ok {
		return
	}
	delete(rp.tagged, ev)
	rp.traced = append(rp.traced, replayed{stage: st, executed: executed})
	close(rp.notify)
	rp.notify = make(chan struct{})
}

// waitTrace waits for the trace of p's event, or of its setup connection.
func (rp *replayer) waitTrace(t *testing.T, p *replayPlan, setup bool) []rules.Action {
	t.Helper()
	timer := time.NewTimer(replayTimeout)
	defer timer.Stop()
	for {
		rp.mu.Lock()
		for _, r := range rp.traced {
			if r.plan == p && r.setup == setup {
				rp.mu.Unlock()
				return r.executed
			}
		}
		notify := rp.notify
		rp.mu.Unlock()
		what := fmt.Sprintf("%s event", p.want.Kind)
		if setup {
			what = "setup connection"
		}
		select {
		case <-notify:
		case <-timer.C:
			t.Fatalf("the daemon traced no %s for the case within %v; the client reported: %v", what, replayTimeout, rp.agent.Pending(fmt.Sprintf("case-%d", p.seq)))
		}
	}
}

// reached reports whether p's event reached the rules: the daemon prepared
// it for evaluation.
func (rp *replayer) reached(p *replayPlan) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return p.claimed
}

// replay replays one case and compares the daemon with ruletest.Eval.
func (rp *replayer) replay(t *testing.T, c ruletest.Case) {
	want, err := ruletest.NewEvent(rp.rs, c)
	if err != nil {
		t.Fatalf("build the case's event: %v", err)
	}
	res, err := ruletest.Eval(rp.rs, c)
	if err != nil {
		t.Fatalf("evaluate the case: %v", err)
	}
	rp.mu.Lock()
	rp.seq++
	p := &replayPlan{seq: rp.seq, want: want, params: c.Event.Request.Params != nil}
	rp.cur = p
	rp.mu.Unlock()
	defer func() {
		rp.mu.Lock()
		rp.cur = nil
		rp.mu.Unlock()
	}()
	logsFrom := rp.d.Logs.Len()

	var executed []rules.Action
	switch want.Kind {
	case rules.TriggerSource:
		if len(rp.rs.Match(want)) == 0 {
			// No rule's pattern matches the subject, so the daemon does
			// not subscribe to it: the message would never reach it.
			t.Logf("no rule subscribes to %s; nothing reaches the daemon", want.Name)
			return
		}
		executed = rp.replaySource(t, p)
	case rules.TriggerHTTP:
		executed = rp.replayRoute(t, p)
	default:
		executed = rp.replaySocket(t, p)
	}
	executed = asShown(executed)
	if d := ruletest.DiffActions(res.Actions, executed); d != "" {
		t.Errorf("the daemon executed other actions than ruletest.Eval yields (-eval +daemon):\n%s", d)
	}
	rp.checkLogs(t, logsFrom, executed)
	if rp.reached(p) {
		for _, m := range wireMismatches(p) {
			t.Errorf("the event from the wire differs from the case's: %s", m)
		}
	}
}

// replaySocket connects the case's socket and makes its event happen: the
// connection itself, an event it emits, or its disconnect. It returns the
// actions the daemon executed, after checking what the client observed.
func (rp *replayer) replaySocket(t *testing.T, p *replayPlan) []rules.Action {
	t.Helper()
	w := p.want
	id := fmt.Sprintf("case-%d", p.seq)
	target := rp.d.URL
	if w.Namespace != "/" {
		target += w.Namespace
	}
	opts := map[string]any{"transports": []string{"websocket"}}
	if hs := w.Socket.Handshake; hs.Auth != nil {
		opts["auth"] = hs.Auth
	}
	if hs := w.Socket.Handshake; hs.Query != nil {
		opts["query"] = hs.Query
	}
	if hs := w.Socket.Handshake; hs.Headers != nil {
		opts["extraHeaders"] = hs.Headers
	}
	rp.agent.Connect(id, target, opts)
	conn := rp.agent.Next(t, func(r nodeclient.Report) bool {
		return r.ID == id && (r.Type == nodeclient.TypeConnect || r.Type == nodeclient.TypeConnectError)
	}, replayTimeout)
	if !slices.Contains(rp.rs.Config.Namespaces, w.Namespace) {
		// The event cannot happen: the daemon serves no such namespace.
		if conn.Type != nodeclient.TypeConnectError || conn.Message != "Invalid namespace" {
			t.Errorf("connecting to %s, which the config does not serve: got %s, want connect_error Invalid namespace", w.Namespace, conn)
		}
		if rp.reached(p) {
			t.Errorf("the daemon evaluated an event in namespace %s, which it does not serve", w.Namespace)
		}
		return nil
	}
	connected := conn.Type == nodeclient.TypeConnect
	closed := !connected
	closeSocket := func() {
		if !closed {
			closed = true
			rp.closeSocket(t, id)
		}
	}
	defer closeSocket()

	var executed []rules.Action
	ackSeq := 0
	switch w.Kind {
	case rules.TriggerConnection:
		executed = rp.waitTrace(t, p, false)
		if i := slices.IndexFunc(executed, func(a rules.Action) bool { return a.Kind == rules.RejectKind }); i >= 0 {
			if connected {
				t.Errorf("the connection was accepted though a reject ran: %s", conn)
				return executed
			}
			a := executed[i]
			observed("connect_error", t, rules.Action{Kind: a.Kind, Message: a.Message, Value: a.Value},
				rules.Action{Kind: a.Kind, Message: conn.Message, Value: conn.Data})
			return executed
		}
		if !connected {
			t.Errorf("the connection was refused though no reject ran: %s", conn)
			return executed
		}
	case rules.TriggerEvent:
		if !connected {
			t.Fatalf("the case's socket could not connect: %s", conn)
		}
		rp.waitSetUp(t, p)
		if w.HasAck {
			ackSeq = rp.agent.EmitAckTimeout(id, w.Name, time.Minute, w.Args...)
		} else {
			rp.agent.Emit(id, w.Name, w.Args...)
		}
		executed = rp.waitTrace(t, p, false)
	case rules.TriggerDisconnect:
		if !connected {
			t.Fatalf("the case's socket could not connect: %s", conn)
		}
		rp.waitSetUp(t, p)
		closeSocket()
		return rp.waitTrace(t, p, false)
	}

	// What the case's socket receives: emits and namespace-wide broadcasts
	// in the order executed, and the ack of the first reply.
	replied := false
	for _, a := range executed {
		switch {
		case a.Kind == "emit" || a.Kind == "broadcast":
			rp.observeEvent(t, id, a)
		case a.Kind == rules.ReplyKind && ackSeq > 0 && !replied:
			replied = true
			r := rp.agent.WaitAck(t, id, ackSeq)
			observed("ack", t, rules.Action{Kind: a.Kind, Args: a.Args}, rules.Action{Kind: a.Kind, Args: r.Args})
		case a.Kind == "forward" && ackSeq > 0 && !replied:
			// forward answers the ack with what its backend says, which
			// a rule test does not model (here the backend is not there:
			// the client gets an error ack); an ack must come.
			replied = true
			rp.agent.WaitAck(t, id, ackSeq)
		}
	}
	if ackSeq > 0 && !replied {
		// No reply ran: the ack must not come. Closing the socket ends
		// the case; an ack sent before would have been reported first.
		closeSocket()
		for _, r := range rp.agent.Pending(id) {
			if r.Type == nodeclient.TypeAck && r.Seq == ackSeq {
				t.Errorf("the client got an ack though no reply ran: %s", r)
			}
		}
	}
	return executed
}

// observeEvent waits for the event a sends to arrive at the client socket
// id and compares it with a.
func (rp *replayer) observeEvent(t *testing.T, id string, a rules.Action) {
	t.Helper()
	r := rp.agent.WaitEvent(t, id, a.Event)
	observed("event", t, rules.Action{Kind: a.Kind, Event: a.Event, Args: a.Args},
		rules.Action{Kind: a.Kind, Event: r.Event, Args: r.Args})
}

// waitSetUp waits until the daemon has run its connection handling for
// the socket that sets up p (the trace of its neutralised connection).
// Only then does the replay send the case's event, or disconnect.
//
// KNOWN ISSUE (reported to the lead, not worked around in the daemon yet):
// socket.io servers/socket v3.0.6 writes the CONNECT packet
// (Socket._onconnect) before its Client registers the socket for its
// namespace (the fn of Namespace._doConnect). A packet for the namespace
// that arrives in between finds no socket in Client.ondecoded, which takes
// it for a protocol violation and closes the connection ("invalid state").
// A client that emits as soon as it is connected, the usual
// socket.on("connect", () => socket.emit(...)), so loses its event and
// its connection; the Node server it replaces handles both in one tick and
// never does. Measured with the Node client emitting (with an ack) before
// its CONNECT arrived, so the client sent the event as soon as it came:
// 9 of 300 connections closed with "transport close" and no ack under
// -race on two busy cores, 0 of 2000 without -race. Replaying without this
// wait, a few runs in 15 lost a case's event that way.
func (rp *replayer) waitSetUp(t *testing.T, p *replayPlan) {
	t.Helper()
	rp.waitTrace(t, p, true)
}

// closeSocket disconnects the client socket id, once: a socket the server
// already disconnected has its disconnect report taken.
func (rp *replayer) closeSocket(t *testing.T, id string) {
	t.Helper()
	for _, r := range rp.agent.Pending(id) {
		if r.Type == nodeclient.TypeDisconnect {
			rp.agent.WaitDisconnect(t, id)
			return
		}
	}
	rp.agent.Disconnect(id)
	rp.agent.WaitDisconnect(t, id)
}

// replayRoute sends the case's request and returns the actions the daemon
// executed, after checking the response against the first respond and,
// with a client connected to / beforehand, each broadcast.
func (rp *replayer) replayRoute(t *testing.T, p *replayPlan) []rules.Action {
	t.Helper()
	watcher := rp.watch(t, p)
	defer rp.closeSocket(t, watcher)
	rq := p.want.Request
	target := rp.d.URL + rq.Path
	if p.params {
		target = rp.d.URL + fillParams(rq.Path, rq.Params)
	}
	if len(rq.Query) > 0 {
		q := url.Values{}
		for k, v := range rq.Query {
			q.Set(k, v)
		}
		target += "?" + q.Encode()
	}
	var body io.Reader
	if rq.Body != nil {
		raw, err := json.Marshal(rq.Body)
		if err != nil {
			t.Fatalf("encode the case's body: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(rq.Method, target, body)
	if err != nil {
		t.Fatalf("build the case's request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.Headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: replayTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.Method, target, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read the response: %v", err)
	}
	if !slices.Contains(rp.rs.Routes, p.want.Name) {
		// No route serves the request: the rules never see it. The
		// handler of a route would have traced before the response ended.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s, which no route serves: status %d, want 404 or 405", rq.Method, target, resp.StatusCode)
		}
		if rp.reached(p) {
			t.Errorf("the daemon evaluated %s %s, which no route serves", rq.Method, target)
		}
		return nil
	}
	executed := rp.waitTrace(t, p, false)
	for _, a := range executed {
		if a.Kind == "broadcast" {
			rp.observeEvent(t, watcher, a)
		}
	}
	i := slices.IndexFunc(executed, func(a rules.Action) bool { return a.Kind == rules.RespondKind })
	if i < 0 {
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("no respond ran, yet the status is %d, not 204: %s", resp.StatusCode, raw)
		}
		return executed
	}
	a := executed[i]
	var got any = string(raw)
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Errorf("response body %q is not JSON: %v", raw, err)
		}
	}
	observed("response", t, rules.Action{Kind: a.Kind, Status: a.Status, Body: a.Body},
		rules.Action{Kind: a.Kind, Status: resp.StatusCode, Body: got})
	for k, v := range a.Headers {
		if resp.Header.Get(k) != v {
			t.Errorf("response header %s: %q, want %q from respond", k, resp.Header.Get(k), v)
		}
	}
	return executed
}

// watch connects a socket that watches p's broadcasts, as its setup
// connection, and returns its id.
func (rp *replayer) watch(t *testing.T, p *replayPlan) string {
	t.Helper()
	watcher := fmt.Sprintf("case-%d-watcher", p.seq)
	rp.agent.Connect(watcher, rp.d.URL, map[string]any{"transports": []string{"websocket"}})
	rp.agent.WaitConnect(t, watcher)
	rp.waitSetUp(t, p)
	return watcher
}

// replaySource publishes the case's message on NATS, with a watcher
// connected, and returns the actions the daemon executed, after checking
// the broadcasts the watcher received.
func (rp *replayer) replaySource(t *testing.T, p *replayPlan) []rules.Action {
	t.Helper()
	if prefix, _, _ := strings.Cut(p.want.Name, ":"); prefix != "nats" || rp.nats == nil {
		t.Fatalf("cannot replay a %s message", prefix)
	}
	watcher := rp.watch(t, p)
	defer rp.closeSocket(t, watcher)
	payload, ok := p.want.Args[0].(string)
	if !ok {
		raw, err := json.Marshal(p.want.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		payload = string(raw)
	}
	if err := rp.nats.Publish(p.want.Subject, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	executed := rp.waitTrace(t, p, false)
	for _, a := range executed {
		if a.Kind == "broadcast" {
			rp.observeEvent(t, watcher, a)
		}
	}
	return executed
}

// observed compares what a client observed of an executed action with the
// action, both reduced to the fields the client sees.
func observed(what string, t *testing.T, executed, seen rules.Action) {
	t.Helper()
	if d := ruletest.DiffActions([]rules.Action{executed}, []rules.Action{seen}); d != "" {
		t.Errorf("the client's %s differs from the executed %s (-executed +observed):\n%s", what, executed.Kind, d)
	}
}

// checkLogs checks that every executed log action wrote its line, as
// ruletest shows it, with its rule and level, in order, among the daemon's
// log entries from index from on.
func (rp *replayer) checkLogs(t *testing.T, from int, executed []rules.Action) {
	t.Helper()
	entries := rp.d.Logs.All()[from:]
	j := 0
	for _, a := range executed {
		if a.Kind != logaction.Kind {
			continue
		}
		for j < len(entries) && !(entries[j].Message == a.Message && entries[j].Level.String() == a.Level && entries[j].ContextMap()["rule"] == a.Rule) {
			j++
		}
		if j == len(entries) {
			var lines []string
			for _, e := range entries {
				lines = append(lines, fmt.Sprintf("%s %q %v", e.Level, e.Message, e.ContextMap()))
			}
			t.Errorf("the daemon did not log %s %q for rule %q; it logged:\n  %s", a.Level, a.Message, a.Rule, strings.Join(lines, "\n  "))
			return
		}
		j++
	}
}

// asShown returns executed with each log action whose formatting
// evaluation deferred (rules.Ruleset.EvaluateInto) formatted as ruletest
// shows it: the line in Message, no Args.
func asShown(executed []rules.Action) []rules.Action {
	out := slices.Clone(executed)
	for i, a := range out {
		if a.Kind == logaction.Kind && a.Message == "" && len(a.Args) > 0 {
			out[i].Message, out[i].Args = logaction.Message(a), nil
		}
	}
	return out
}

// fillParams writes params into the {name} segments of a route path.
func fillParams(path string, params map[string]string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
		if v, ok := params[name]; ok {
			segs[i] = url.PathEscape(v)
		}
	}
	return strings.Join(segs, "/")
}

// wireMismatches lists the fields of the case's event that the daemon,
// decoding what the real client sent, built differently from
// ruletest.NewEvent. Query and headers need only hold the case's entries.
func wireMismatches(p *replayPlan) []string {
	w, got := p.want, &p.wire
	var out []string
	same := func(field string, want, got any) {
		if wj, gj := wireJSON(want), wireJSON(got); wj != gj {
			out = append(out, fmt.Sprintf("%s: case %s, wire %s", field, wj, gj))
		}
	}
	holds := func(field string, want, got map[string]string) {
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				out = append(out, fmt.Sprintf("%s.%s: case %q, wire %q (present: %t)", field, k, v, g, ok))
			}
		}
	}
	if w.Kind == rules.TriggerSource {
		same("event", w.Name, got.Name)
		same("subject", w.Subject, got.Subject)
		same("data", w.Args, got.Args)
		return out
	}
	if w.Kind == rules.TriggerHTTP {
		same("route", w.Name, got.Name)
		same("request.method", w.Request.Method, got.Request.Method)
		if !p.params {
			same("request.path", w.Request.Path, got.Request.Path)
		}
		same("request.params", w.Request.Params, got.Request.Params)
		holds("request.query", w.Request.Query, got.Request.Query)
		holds("request.headers", w.Request.Headers, got.Request.Headers)
		same("body", w.Request.Body, got.Request.Body)
		return out
	}
	same("event", w.Name, got.Name)
	same("namespace", w.Namespace, got.Namespace)
	same("args", w.Args, got.Args)
	same("ack", w.HasAck, got.HasAck)
	same("socket.handshake.auth", w.Socket.Handshake.Auth, got.Socket.Handshake.Auth)
	holds("socket.handshake.query", w.Socket.Handshake.Query, got.Socket.Handshake.Query)
	holds("socket.handshake.headers", w.Socket.Handshake.Headers, got.Socket.Handshake.Headers)
	return out
}

// wireJSON is v as JSON, an empty list or map written as null: the wire
// does not tell an empty auth or argument list from none.
func wireJSON(v any) string {
	if rv := reflect.ValueOf(v); rv.IsValid() && (rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.Len() == 0 {
		v = nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(raw)
}
