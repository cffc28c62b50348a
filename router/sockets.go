package router

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/internal/wire"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
)

// connState is what the router keeps per socket: the rules' state map and
// the actions a connection rule left for after the connect completes.
type connState struct {
	mu      sync.Mutex
	state   map[string]any // replaced, never mutated, so readers may share it
	pending []rules.Action
	rt      *Runtime     // runtime that evaluated the connection
	reason  string       // the reason a disconnect action gave, if any
	events  *eventLimits // the event rate buckets, once limits apply
	slot    *slot        // its place in the connection counts
	life    lifecycle    // see lifecycle.go

	ev *rules.Event // the accepted connection's event, for Options.Trace
	// registered is closed when the library has registered the accepted
	// socket with its client, so packets for the namespace are accepted;
	// nil once closed. See awaitRegistered.
	registered chan struct{}
}

// setReason records why a rule disconnects the socket.
func (c *connState) setReason(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reason = reason
}

// disconnectReason is reason, or the reason a disconnect action gave: the
// rule's close comes first, though the library may report the transport
// close that the client answered it with before its own.
func (c *connState) disconnectReason(reason string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != "" {
		return c.reason
	}
	return reason
}

// MarshalMsgpack is how a socket's state travels with its session when
// connection state recovery keeps it in Redis (the library encodes the
// socket's data with msgpack): the state map, nothing else.
func (c *connState) MarshalMsgpack() ([]byte, error) {
	return msgpack.Marshal(map[string]any{"state": c.snapshot()})
}

// recoveredState is the state a recovered socket had: its old connState
// on this node, or what MarshalMsgpack sent through Redis from another.
func recoveredState(s *socket.Socket) map[string]any {
	if !s.Recovered() {
		return nil
	}
	switch d := s.Data().(type) {
	case *connState:
		return d.snapshot()
	case map[string]any:
		state, _ := d["state"].(map[string]any)
		return state
	}
	return nil
}

// snapshot returns the current state map; callers must not mutate it.
func (c *connState) snapshot() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// set stores one key, copying the map so snapshots stay valid.
func (c *connState) set(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]any, len(c.state)+1)
	for k, old := range c.state {
		next[k] = old
	}
	next[key] = v
	c.state = next
}

func stateOf(s *socket.Socket) *connState {
	if c, ok := s.Data().(*connState); ok {
		return c
	}
	return &connState{}
}

// bindNamespace wires a namespace: connection rules run in its middleware
// (so reject() becomes connect_error), then events and disconnects.
func (r *Router) bindNamespace(name string) {
	nsp := r.io.Of(name, nil)
	r.nspMu.Lock()
	r.nsps[name] = nsp
	r.nspMu.Unlock()
	r.adminUI.Watch(nsp)
	nsp.Use(func(s *socket.Socket, next func(*socket.ExtendedError)) {
		defer r.recoverEvent("connection", s)
		st := r.admit(s)
		if r.closing.Load() {
			r.metrics.rejected.WithLabelValues("").Inc()
			next(socket.NewExtendedError("server shutting down", nil))
			return
		}
		rt := r.rt.Load()
		// The connection limits come before the rules, so a refused
		// client costs no rule evaluation; connect_error tells it why.
		sl := r.admitConnection(rt, s)
		if sl == nil {
			next(socket.NewExtendedError(tooManyConnections, nil))
			return
		}
		st.slot = sl
		admitted := false
		defer func() {
			if !admitted { // refused by a rule, or a rule panicked
				sl.release()
			}
		}()
		ev := r.prepared(r.socketEvent(s, rules.TriggerConnection, "connection", nil, false))
		res := rt.Rules.Evaluate(ev)
		r.logRuleErrors(rt, res, s)
		if i := slices.IndexFunc(res.Actions, func(a rules.Action) bool { return a.Kind == rules.RejectKind }); i >= 0 {
			r.refuse(rt, s, st, ev, res.Actions, res.Actions[i], next)
			return
		}
		registered := make(chan struct{})
		st.mu.Lock()
		st.pending, st.rt, st.ev, st.registered = res.Actions, rt, ev, registered
		st.mu.Unlock()
		admitted = true
		next(nil)
		releaseIfNotConnected(s, sl)
		r.awaitRegistered(registered)
	})
	_ = nsp.On("connection", func(args ...any) {
		s, ok := args[0].(*socket.Socket)
		if !ok {
			return
		}
		r.onConnection(s)
	})
}

// registerWait bounds how long the middleware holds a client's packets
// for its socket's registration; reached only when the connection closed
// first, so the library never registers the socket.
const registerWait = 5 * time.Second

// awaitRegistered holds the client's incoming packets until the library has
// registered its accepted socket. The library (servers/socket v3.0.6)
// writes CONNECT and registers the socket with the client on the socket's
// own task queue, after the middleware returns, while the client's next
// packets are decoded on the transport's goroutine: an event the client
// sends as soon as it sees CONNECT (socket.on("connect", () =>
// socket.emit(...)), the usual code) could arrive first, be taken for a
// protocol error ("invalid state") and close the connection. The
// middleware runs on that transport goroutine, so waiting here, for
// microseconds, keeps the client's packets in the order Socket.IO
// promises. Node's server does not have the window.
func (r *Router) awaitRegistered(registered <-chan struct{}) {
	t := time.NewTimer(registerWait)
	defer t.Stop()
	select {
	case <-registered:
	case <-t.C:
	}
}

// refuse carries out the actions of a connection that a rule refused, in
// order: the reject among them answers the client with connect_error.
// The socket never connects, so what the actions would do to it (emit,
// join, set, ...) does nothing; the rest (log, broadcast, ...) runs as in
// any event. The refusal is logged at info and counted by rule.
func (r *Router) refuse(rt *Runtime, s *socket.Socket, st *connState, ev *rules.Event, actions []rules.Action, reject rules.Action, next func(*socket.ExtendedError)) {
	address := ""
	if hs := s.Handshake(); hs != nil {
		address = hs.Address
	}
	r.log.Info("connection refused", zap.String("rule", reject.Rule), zap.String("message", rt.redact(reject.Message)),
		zap.String("namespace", s.Nsp().Name()), zap.String("address", address), zap.String("socket", string(s.Id())))
	r.metrics.rejected.WithLabelValues(reject.Rule).Inc()
	answered := false
	fx := &socketEffects{r: r, rt: rt, s: s, st: st, refused: true, refuse: func(message string, data any) {
		if !answered {
			answered = true
			next(socket.NewExtendedError(message, data))
		}
	}}
	defer func() {
		if !answered { // a panicking executor must not leave the client waiting
			answered = true
			next(socket.NewExtendedError(reject.Message, reject.Value))
		}
	}()
	r.traced(ev, r.execute(context.Background(), rt, fx, actions, "connection", s))
}

// onConnection executes the connection rules' actions and subscribes to
// the socket's events. Its lifecycle (lifecycle.go) runs the disconnect
// rules once these are done.
func (r *Router) onConnection(s *socket.Socket) {
	st := stateOf(s)
	st.mu.Lock()
	if st.registered != nil {
		close(st.registered)
		st.registered = nil
	}
	st.mu.Unlock()
	r.connecting(st)
	defer r.connected(s, st)
	defer r.recoverEvent("connection", s)
	st.mu.Lock()
	pending, rt, ev := st.pending, st.rt, st.ev
	st.pending, st.ev = nil, nil
	st.mu.Unlock()
	if rt == nil {
		rt = r.rt.Load()
	}
	r.adminUI.SocketConnected(s)
	fx := &socketEffects{r: r, rt: rt, s: s, st: st}
	r.traced(ev, r.execute(context.Background(), rt, fx, pending, "connection", s))

	// Events are handled synchronously in the socket's read path, so a
	// client's events run in the order it sent them.
	s.OnAny(func(args ...any) { r.onEvent(s, st, args) })
}

// onEvent routes one client event.
func (r *Router) onEvent(s *socket.Socket, st *connState, args []any) {
	name, _ := firstString(args)
	defer r.recoverEvent(name, s)
	if len(args) == 0 {
		return
	}
	args = args[1:]
	var ack socket.Ack
	if n := len(args); n > 0 {
		if a, ok := args[n-1].(socket.Ack); ok {
			ack, args = a, args[:n-1]
		}
	}
	rt := r.rt.Load()
	if given, _ := wire.Split(args); !r.admitEvent(rt, s, st, s.Nsp().Name(), name, len(given), ack) {
		return
	}
	args, raw := fromWire(args)
	ev := r.prepared(r.socketEvent(s, rules.TriggerEvent, name, args, ack != nil))
	buf := results.Get().(*rules.Result)
	defer results.Put(buf)
	rt.Rules.EvaluateInto(ev, buf)
	res := *buf
	r.logRuleErrors(rt, res, s)
	r.metrics.event(rt, s.Nsp().Name(), name, res)
	if len(res.Matched) == 0 && len(res.Errors) == 0 {
		r.log.Debug("no rule for event", zap.String("event", name), zap.String("namespace", s.Nsp().Name()), zap.String("socket", string(s.Id())))
	}
	if len(res.Actions) == 0 {
		// Evaluation may answer an ack no rule replied to
		// (socketio.ack_unanswered: error), so only no actions means
		// nothing to do.
		r.traced(ev, nil)
		return
	}
	fx := &socketEffects{r: r, rt: rt, s: s, st: st, ack: ack, in: raw}
	r.traced(ev, r.execute(context.Background(), rt, fx, res.Actions, name, s))
}

// onDisconnect runs the disconnect rules; see leave.
func (r *Router) onDisconnect(s *socket.Socket, st *connState, reason string) {
	defer r.recoverEvent("disconnect", s)
	st.slot.release()
	rt := r.rt.Load()
	ev := r.socketEvent(s, rules.TriggerDisconnect, "disconnect", nil, false)
	ev.Reason = reason
	res := rt.Rules.Evaluate(r.prepared(ev))
	r.logRuleErrors(rt, res, s)
	fx := &socketEffects{r: r, rt: rt, s: s, st: st}
	r.traced(ev, r.execute(context.Background(), rt, fx, res.Actions, "disconnect", s))
}

// socketEvent describes a socket event for the rules.
func (r *Router) socketEvent(s *socket.Socket, kind rules.TriggerKind, name string, args []any, hasAck bool) *rules.Event {
	return &rules.Event{
		Kind:      kind,
		Name:      name,
		Namespace: s.Nsp().Name(),
		Args:      args,
		HasAck:    hasAck,
		Socket:    describeSocket(s),
		Server:    serverView{r},
	}
}

// describeSocket converts the library's socket into what rules read.
func describeSocket(s *socket.Socket) rules.Socket {
	hs := s.Handshake()
	out := rules.Socket{
		ID:        string(s.Id()),
		Namespace: s.Nsp().Name(),
		State:     stateOf(s).snapshot(),
		Recovered: s.Recovered(),
	}
	for _, room := range s.Rooms().Keys() {
		out.Rooms = append(out.Rooms, string(room))
	}
	slices.Sort(out.Rooms)
	if hs != nil {
		out.Handshake = rules.Handshake{
			Auth:    hs.Auth,
			Query:   flatten(hs.Query, false),
			Headers: flatten(hs.Headers, true),
			Address: hs.Address,
			Secure:  hs.Secure,
		}
	}
	return out
}

// flatten keeps the first value of each multi-valued entry, with
// lower-case keys as Node shows headers.
func flatten(m map[string]any, lower bool) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		key := k
		if lower {
			key = strings.ToLower(k)
		}
		switch x := v.(type) {
		case []string:
			if len(x) > 0 {
				out[key] = x[0]
			}
		case string:
			out[key] = x
		}
	}
	return out
}

func firstString(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}
