package router

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/router/wstransport"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// The socket limits (limits.* in the config), as names in
// eventrouter_limited_total{limit} and in log lines.
const (
	limitEventRate      = "events_per_second"
	limitEventArgs      = "max_event_args"
	limitRooms          = "max_rooms_per_socket"
	limitConnections    = "max_connections"
	limitConnectionsIP  = "max_connections_per_ip"
	limitQueue          = "max_queue"
	limitWriteTimeout   = "write_timeout"
	tooManyConnections  = "too many connections"
	rateLimitedReason   = "rate limited"
	rateLimitedWarnings = time.Second // at most one error event a second per socket
)

// eventLimits is one socket's event rate state: its own bucket, and one
// bucket per rule that sets limits for its event. It is created on the
// socket's first limited event, so a socket costs nothing while limits are
// off.
type eventLimits struct {
	mu     sync.Mutex
	socket eventBucket
	rules  map[string]*eventBucket // by rule name
	warned time.Time               // when the client was last told
}

// eventBucket is a token bucket with the rate and size it was set to.
type eventBucket struct {
	lim       *rate.Limiter
	perSecond float64
	burst     int
}

// bucket returns the limiter for one event, built or retuned to perSecond
// and burst: a reload that changes a rate applies to connected sockets.
func (l *eventLimits) bucket(rule string, perSecond float64, burst int) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &l.socket
	if rule != "" {
		if b = l.rules[rule]; b == nil {
			if l.rules == nil {
				l.rules = map[string]*eventBucket{}
			}
			b = &eventBucket{}
			l.rules[rule] = b
		}
	}
	switch {
	case b.lim == nil:
		b.lim = rate.NewLimiter(rate.Limit(perSecond), burst)
	case b.perSecond != perSecond || b.burst != burst:
		b.lim.SetLimit(rate.Limit(perSecond))
		b.lim.SetBurst(burst)
	}
	b.perSecond, b.burst = perSecond, burst
	return b.lim
}

// warn reports whether the client should be told about a dropped event
// now: at most once every rateLimitedWarnings.
func (l *eventLimits) warn(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.warned) < rateLimitedWarnings {
		return false
	}
	l.warned = now
	return true
}

// limits returns the socket's event limit state, creating it.
func (c *connState) limits() *eventLimits {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events == nil {
		c.events = &eventLimits{}
	}
	return c.events
}

// admitEvent applies limits.max_event_args and the event rate limits to one
// client event before any rule sees it. It reports whether the event may
// run; when it may not, the client has been answered (an awaited ack gets
// an error, so it never hangs) or disconnected. With every limit off it
// does not allocate.
func (r *Router) admitEvent(rt *Runtime, s *socket.Socket, st *connState, ns, name string, nargs int, ack socket.Ack) bool {
	cfg := &rt.Rules.Config.Limits
	if cfg.MaxEventArgs > 0 && nargs > cfg.MaxEventArgs {
		r.limited.hit(limitEventArgs, "event dropped: too many arguments", zap.String("event", name), zap.Int("args", nargs),
			zap.Int("max", cfg.MaxEventArgs), zap.String("socket", string(s.Id())))
		if ack != nil {
			ack([]any{map[string]any{"error": "too many arguments"}}, nil)
		}
		return false
	}
	perSecond, burst, rule := cfg.EventsPerSecond, cfg.EventsBurst, ""
	if l := rt.Rules.EventLimit(ns, name); l != nil {
		perSecond, burst, rule = l.PerSecond, l.Burst, l.Rule
	}
	if perSecond <= 0 {
		return true
	}
	lim := st.limits()
	if lim.bucket(rule, perSecond, burst).Allow() {
		return true
	}
	fields := []zap.Field{zap.String("event", name), zap.Float64("per_second", perSecond), zap.Int("burst", burst), zap.String("socket", string(s.Id()))}
	if rule != "" {
		fields = append(fields, zap.String("rule", rule))
	}
	if cfg.OnExceed == rules.OnExceedDisconnect {
		r.limited.dropped(limitEventRate, "client disconnected: over its event rate", fields...)
		st.setReason(rateLimitedReason)
		s.Disconnect(false)
		return false
	}
	r.limited.hit(limitEventRate, "event dropped: over the socket's event rate", fields...)
	if ack != nil {
		ack([]any{map[string]any{"error": rateLimitedReason}}, nil)
	}
	if lim.warn(time.Now()) {
		_ = s.Emit("error", map[string]any{"error": rateLimitedReason, "event": name})
	}
	return false
}

// checkRooms applies limits.max_rooms_per_socket to a join: the join fails
// as a whole when the socket would be in more rooms than the limit.
func (r *Router) checkRooms(s *socket.Socket, rooms []socket.Room) bool {
	max := r.rt.Load().Rules.Config.Limits.MaxRoomsPerSocket
	if max <= 0 {
		return true
	}
	in := s.Rooms() // the adapter's own set: read it, never change it
	n := in.Len()
	for i, room := range rooms {
		if !in.Has(room) && !slices.Contains(rooms[:i], room) {
			n++
		}
	}
	if n <= max {
		return true
	}
	r.limited.hit(limitRooms, "join refused: too many rooms", zap.Int("rooms", n), zap.Int("max", max), zap.String("socket", string(s.Id())))
	return false
}

// connCounter counts the sockets connected now, in total and by client
// address, for limits.max_connections and limits.max_connections_per_ip.
// It counts whether or not a limit is set, so a reload that sets one
// applies to the connections already there.
type connCounter struct {
	mu    sync.Mutex
	total int
	byIP  map[string]int
}

// slot is one socket's place in the counts. Releasing it more than once,
// from any of the paths that may see the socket go, counts once.
type slot struct {
	c        *connCounter
	addr     string
	peer     *peer
	released atomic.Bool
}

// reserve takes a slot for a socket from addr, or names the limit that
// refuses it.
func (c *connCounter) reserve(addr string, max, perIP int) (*slot, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max > 0 && c.total >= max {
		return nil, limitConnections
	}
	if perIP > 0 && c.byIP[addr] >= perIP {
		return nil, limitConnectionsIP
	}
	c.total++
	if c.byIP == nil {
		c.byIP = map[string]int{}
	}
	c.byIP[addr]++
	return &slot{c: c, addr: addr}, ""
}

// release gives the slot back, once.
func (sl *slot) release() {
	if sl == nil || !sl.released.CompareAndSwap(false, true) {
		return
	}
	c := sl.c
	c.mu.Lock()
	c.total--
	if c.byIP[sl.addr]--; c.byIP[sl.addr] <= 0 {
		delete(c.byIP, sl.addr)
	}
	c.mu.Unlock()
	if sl.peer != nil {
		sl.peer.forget(sl)
	}
}

// counts returns the sockets counted in total and from addr.
func (c *connCounter) counts(addr string) (total, fromAddr int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, c.byIP[addr]
}

// Connections returns the sockets the connection limits count now: in
// total, and from the client address addr (as limits.max_connections_per_ip
// sees it, after server.trusted_proxies).
func (r *Router) Connections(addr string) (total, fromAddr int) {
	return r.conns.counts(addr)
}

// peer is what the router keeps per Engine.IO connection: the slots of its
// sockets, given back when it closes (the library does not report every
// socket's close, see the socket lifecycle), and the packets waiting in the
// engine's write buffer, for socketio.max_queue.
type peer struct {
	id       string
	queued   atomic.Int64 // packets in the engine's write buffer, or a few more
	dropping atomic.Bool

	mu     sync.Mutex
	slots  []*slot // one per namespace the client joined: a slice, not a map
	closed bool
}

// hold ties sl to the connection: it is released when the connection
// closes, if nothing released it before.
func (p *peer) hold(sl *slot) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		sl.release()
		return
	}
	sl.peer = p
	p.slots = append(p.slots, sl)
	p.mu.Unlock()
}

func (p *peer) forget(sl *slot) {
	p.mu.Lock()
	if i := slices.Index(p.slots, sl); i >= 0 {
		p.slots = slices.Delete(p.slots, i, i+1)
	}
	p.mu.Unlock()
}

// close releases every slot still held.
func (p *peer) close() {
	p.mu.Lock()
	p.closed = true
	held := p.slots
	p.slots = nil
	p.mu.Unlock()
	for _, sl := range held {
		sl.release()
	}
}

// peers tracks the open Engine.IO connections.
type peers struct {
	mu sync.Mutex
	m  map[string]*peer
}

// peerOf returns the peer of conn, watching conn the first time: its close
// releases the peer's slots, and its write buffer is held to maxQueue
// packets, past which the client is dropped as too slow. The engine's
// polling transport keeps packets there while the client has no request
// open; a client that stops polling would otherwise grow it until the
// heartbeat gives up on it.
func (r *Router) peerOf(conn engine.Socket) *peer {
	r.peers.mu.Lock()
	p, ok := r.peers.m[conn.Id()]
	if !ok {
		p = &peer{id: conn.Id()}
		if r.peers.m == nil {
			r.peers.m = map[string]*peer{}
		}
		r.peers.m[p.id] = p
	}
	r.peers.mu.Unlock()
	if ok {
		return p
	}
	gone := func(args ...any) {
		// wstransport drops a websocket client past the same bound in its
		// own queue, or when a write to it passes socketio.write_timeout;
		// say so, naming the limit, as for the engine's queue.
		if err, ok := secondArg[error](args); ok {
			fields := []zap.Field{zap.String("connection", p.id), zap.String("transport", conn.Transport().Name()), zap.String("address", conn.RemoteAddress())}
			switch {
			case errors.Is(err, wstransport.ErrSlowClient):
				r.limited.dropped(limitQueue, "client dropped: too slow, its queue is full", append(fields, zap.Int("max", r.boot.SocketIO.MaxQueue))...)
			case errors.Is(err, os.ErrDeadlineExceeded):
				r.limited.dropped(limitWriteTimeout, "client dropped: too slow, a write timed out", append(fields, zap.Duration("max", r.boot.SocketIO.WriteTimeout))...)
			}
		}
		r.peers.mu.Lock()
		if r.peers.m[p.id] == p {
			delete(r.peers.m, p.id)
		}
		r.peers.mu.Unlock()
		p.close()
	}
	_ = conn.Once("close", gone)
	if r.boot.SocketIO.Engine != rules.EngineBuiltin {
		r.boundLibraryQueue(conn, p)
	}
	if conn.ReadyState() == "closed" { // closed before the listener was there
		gone()
	}
	return p
}

// boundLibraryQueue holds the library engine's write buffer of conn to
// socketio.max_queue packets. The builtin engine bounds its queues
// itself (and ends the connection with wstransport.ErrSlowClient).
func (r *Router) boundLibraryQueue(conn engine.Socket, p *peer) {
	max := int64(r.boot.SocketIO.MaxQueue)
	_ = conn.On("packetCreate", func(...any) {
		if p.queued.Add(1) > max && p.dropping.CompareAndSwap(false, true) {
			// Not from here: the packet is being written under the
			// broadcaster's iteration; closing runs disconnect rules.
			go r.dropSlow(conn, max)
		}
	})
	_ = conn.On("flush", func(args ...any) {
		if len(args) > 0 {
			if wbuf, ok := args[0].([]*packet.Packet); ok {
				p.queued.Add(-int64(len(wbuf)))
			}
		}
	})
}

// dropSlow closes a connection whose client fell more than max packets
// behind.
func (r *Router) dropSlow(conn engine.Socket, max int64) {
	r.limited.dropped(limitQueue, "client dropped: too slow, its queue is full", zap.String("connection", conn.Id()),
		zap.String("transport", conn.Transport().Name()), zap.Int64("max", max), zap.String("address", conn.RemoteAddress()))
	conn.Close(true)
}

// admitConnection applies limits.max_connections and
// limits.max_connections_per_ip to a socket entering a namespace. It
// returns the socket's slot, or nil when a limit refuses it, in which case
// the refusal has been counted and logged.
//
// The limits count sockets and act in the namespace middleware, not at
// the Engine.IO handshake: there a refusal reaches every client as a bare
// transport error ("xhr poll error", "websocket error") that it retries,
// while a middleware refusal is a connect_error with the message "too many
// connections", which socket.io-client reports as such and does not retry
// on its own. A client that opens Engine.IO connections without joining a
// namespace is closed by socketio.connect_timeout.
func (r *Router) admitConnection(rt *Runtime, s *socket.Socket) *slot {
	addr := rt.connAddr(s.Conn())
	cfg := rt.Rules.Config.Limits
	sl, limit := r.conns.reserve(addr, cfg.MaxConnections, cfg.MaxConnectionsPerIP)
	if sl == nil {
		r.limited.hit(limit, "connection refused: "+tooManyConnections, zap.String("address", addr),
			zap.String("namespace", s.Nsp().Name()), zap.String("socket", string(s.Id())))
		return nil
	}
	r.peerOf(s.Conn()).hold(sl)
	return sl
}

// releaseIfNotConnected gives back sl if the library does not connect s
// after the middleware let it through. The library connects it, or drops
// it without a word when its connection closed meanwhile, in a task on the
// socket's queue; this check runs next on that queue. Without it, such a
// socket would hold its slot until the Engine.IO connection closes, which
// for a polling client that left can take a heartbeat timeout.
func releaseIfNotConnected(s *socket.Socket, sl *slot) {
	s.Enqueue(func() {
		if !s.Connected() {
			sl.release()
		}
	})
}

// trustedProxies parses server.trusted_proxies, validated at load.
func trustedProxies(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := rules.ParseTrustedProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// connAddr is the client address of conn, see clientAddr.
func (rt *Runtime) connAddr(conn engine.Socket) string {
	var header http.Header
	if req := conn.Request(); req != nil && req.Request() != nil {
		header = req.Request().Header
	}
	return rt.clientAddr(conn.RemoteAddress(), header)
}

// clientAddr is the address of a client whose connection comes from
// remote ("host:port"): remote's address, or, when remote is a trusted
// proxy, the address its X-Forwarded-For names (the nearest address in it
// that is not a trusted proxy).
func (rt *Runtime) clientAddr(remote string, header http.Header) string {
	peer, ok := parseAddr(remote)
	if !ok {
		return remote
	}
	if !rt.trusts(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break // a forged or broken entry: trust nothing beyond it
		}
		client = a
		if !rt.trusts(a) {
			break
		}
	}
	return client.String()
}

// trusts reports whether a is in server.trusted_proxies.
func (rt *Runtime) trusts(a netip.Addr) bool {
	for _, p := range rt.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr parses "host:port" or a bare address into its canonical form:
// an IPv4-mapped IPv6 address is IPv4, without a zone.
func parseAddr(s string) (netip.Addr, bool) {
	host := s
	if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// secondArg returns args[1] as a T.
func secondArg[T any](args []any) (T, bool) {
	if len(args) < 2 {
		var zero T
		return zero, false
	}
	return firstArg[T](args[1:])
}

// firstArg returns args[0] as a T.
func firstArg[T any](args []any) (T, bool) {
	var zero T
	if len(args) == 0 {
		return zero, false
	}
	v, ok := args[0].(T)
	return v, ok
}
