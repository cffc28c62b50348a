// Package engine is eventrouter's own Engine.IO v4 server, bound under the
// library's Socket.IO layer through its public socket.Server.Bind. It
// exists for memory: with the library's engine an idle websocket client
// costs about 34 KB (BENCHMARKS.md); most of it is the engine's
// per-socket objects, the handshake it keeps, gorilla's connection, a
// reading goroutine and a goroutine per socket for the heartbeat. It is
// the default (socketio.engine: builtin).
//
// What it serves (socketio.engine: builtin): the Engine.IO v4 handshake,
// websocket, HTTP long-polling (polling.go) and the upgrade from polling
// to websocket, message and binary packets, the ping/pong heartbeat, the
// close reasons of Node's engine.io, max_payload, and the router's CORS
// policy (applied around it by the router). Engine.IO v3 clients and JSONP
// are refused, as with the library.
//
// Where it differs from the library's engine, on purpose (the conformance
// tests name each case): a request that arrives once pingInterval +
// pingTimeout have passed without a pong finds the session closed, however
// late the timer runs; a poll after the upgrade completed gets 400; a POST
// with a malformed packet or over max_payload closes the session; a close
// packet over websocket closes it at once; frames sent right behind the
// websocket handshake are read.
//
// What a connection keeps, and why (bench/run.sh measures it: about 11 KB
// of RSS per idle websocket at 10 000 connections, against about 34 KB on
// the library's engine; heap profiles in BENCHMARKS.md):
//
//   - No goroutine while idle. One poller per server (poller_linux.go)
//     waits in epoll for every websocket and reads a connection when it has
//     bytes, into a pooled buffer it gives back at once; an incomplete
//     frame is kept in a buffer sized for the whole frame. Messages are
//     handled on a short-lived goroutine per connection (deliver), in
//     order, so the poller never runs rules. Where the poller cannot be
//     used (no epoll, a TLS connection) each websocket has a reading
//     goroutine that waits for one byte in a 2 KB stack (readLoop).
//   - Why an own epoll and not lesismal/nbio or gobwas/ws: the poller only
//     reads, and the connection stays a net.Conn in Go's netpoller, which
//     the writer keeps using: writev of all queued frames, write
//     deadlines, a goroutine that parks on a full socket, the bounded
//     queue (socketio.max_queue). nbio would take the descriptor over
//     (AddConn dups it and closes the net.Conn), so writes would go through
//     its own cache, unbounded unless capped in bytes, its deadlines and
//     its conn table, a slice sized by a package-level MaxOpenFiles (2M
//     entries, 16 MB of pointers the collector scans; engine_unix.go in
//     nbio v1.6.8). gobwas/ws is websocket framing only, with no reader of
//     its own. The read side alone is about 200 lines here, on
//     golang.org/x/sys/unix.
//   - No goroutine or runtime timer for the heartbeat: one timing wheel per
//     server (wheel.go) sends every connection's pings and closes those
//     whose pong does not come within the ping timeout ("ping timeout"),
//     from one goroutine. The pong timer is armed before the ping is
//     queued, so a fast pong cannot be lost (the library arms it after
//     sending, and a pong handled in between ends the session).
//   - Of the handshake request only the headers, packed in one string, the
//     URL, remote address and TLS state; Request rebuilds the library's
//     HttpContext from them on demand, shared while a caller holds it (a
//     weak pointer) and collected afterwards.
//   - A writer goroutine only while frames wait (the write path of
//     router/wstransport: frames queued, all that accumulated written in one
//     writev under a write deadline, a bounded queue, optional coalescing);
//     a broadcast's frame is framed once and queued on every connection
//     through DeliverFrame. So a socket's own packets go out in separate
//     writes when it is idle, and under load they are batched.
//   - Events in one slice per connection (internal/emitter) instead of the
//     library's concurrent map of slices.
package engine

import (
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6455 mandates SHA-1 for the accept key
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/internal/emitter"
	"github.com/eventrouter/eventrouter/router/wstransport"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/config"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Options configure a Server.
type Options struct {
	// PingInterval is how often a connection is pinged; PingTimeout how
	// long its pong may take before it is closed with "ping timeout".
	PingInterval, PingTimeout time.Duration
	// MaxPayload is the largest message a client may send, in bytes; a
	// larger one closes its connection (websocket close code 1009).
	MaxPayload int64
	// WriteTimeout bounds one write; a client that cannot take its data in
	// that time is closed. Zero means 10s.
	WriteTimeout time.Duration
	// Coalesce is the shortest time between two writes to one connection
	// (socketio.write_coalesce); zero writes every packet when it comes.
	Coalesce time.Duration
	// MaxQueue is how many frames may wait for one connection; a client
	// further behind is closed as too slow. Zero means 4096.
	MaxQueue int
	// Polling serves HTTP long-polling, and the upgrade from it to
	// websocket; NoWebsocket turns websocket off.
	Polling, NoWebsocket bool
	// UpgradeTimeout is how long an upgrade from polling may take. Zero
	// means 10s.
	UpgradeTimeout time.Duration
	// ReadGoroutines reads every websocket from a goroutine of its own
	// instead of the poller (epoll), as on platforms without epoll; for
	// tests and comparison.
	ReadGoroutines bool
}

// bufSize is the size of the pooled read buffers.
const bufSize = 4096

// Server is an Engine.IO server: an http.Handler for the Engine.IO path,
// and the library's engine.BaseServer for socket.Server.Bind.
type Server struct {
	emitter.Emitter
	opts   Options
	cfg    *config.ServerOptions
	wheel  *wheel
	poller *poller // nil: a reading goroutine per websocket
	bufs   sync.Pool

	mu          sync.Mutex
	conns       map[string]*Conn
	closed      bool
	middlewares []engine.Middleware
}

var (
	_ engine.BaseServer = (*Server)(nil)
	_ http.Handler      = (*Server)(nil)
)

// New starts a server; Close stops it.
func New(opts Options) *Server {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 4096
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 25 * time.Second
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 20 * time.Second
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 1_000_000
	}
	if opts.UpgradeTimeout <= 0 {
		opts.UpgradeTimeout = 10 * time.Second
	}
	cfg := config.DefaultServerOptions()
	cfg.SetPingInterval(opts.PingInterval)
	cfg.SetPingTimeout(opts.PingTimeout)
	cfg.SetMaxHttpBufferSize(opts.MaxPayload)
	s := &Server{opts: opts, cfg: cfg, conns: map[string]*Conn{}}
	s.bufs.New = func() any { b := make([]byte, 0, bufSize); return &b }
	s.wheel = newWheel(opts.PingInterval, opts.PingTimeout, s.heartbeat)
	if !opts.ReadGoroutines {
		// Without a poller (no epoll here, or none left) the server still
		// works, with a reading goroutine per websocket.
		s.poller, _ = newPoller()
	}
	return s
}

func (s *Server) getBuf() []byte { return (*s.bufs.Get().(*[]byte))[:0] }

func (s *Server) putBuf(b []byte) {
	if cap(b) == bufSize {
		b = b[:0]
		s.bufs.Put(&b)
	}
}

// heartbeat is the wheel's callback: ping the connections due, close
// those whose pong did not come.
func (s *Server) heartbeat(ping, timedOut []*Conn) {
	for _, c := range ping {
		c.push(outPacket{data: []byte{'2'}})
	}
	for _, c := range timedOut {
		go c.end(reasonPingTimeout, nil, 0)
	}
}

// codes of the Engine.IO handshake errors, as every Engine.IO server
// answers them: HTTP 400 (403 for code 4) with {"code":…,"message":…}.
const (
	errTransportUnknown   = 0
	errUnknownSid         = 1
	errBadHandshake       = 2
	errBadRequest         = 3
	errForbidden          = 4
	errUnsupportedVersion = 5
)

var errMessages = [...]string{"Transport unknown", "Session ID unknown", "Bad handshake method", "Bad request", "Forbidden", "Unsupported protocol version"}

func refuse(w http.ResponseWriter, code int) {
	status := http.StatusBadRequest
	if code == errForbidden {
		status = http.StatusForbidden
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, errMessages[code])
}

// ServeHTTP serves an Engine.IO request (Engine.IO v4): a handshake opens
// a session over polling or websocket, a polling session's GET and POST
// carry its packets, and a websocket with a polling session's id takes
// it over. Anything else is refused as the protocol says. Origins are
// checked before, by the router.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	transport := q.Get("transport")
	if !s.serves(transport) {
		refuse(w, errTransportUnknown)
		return
	}
	upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if sid := q.Get("sid"); sid != "" {
		s.session(w, r, sid, transport, upgrade)
		return
	}
	if r.Method != http.MethodGet {
		refuse(w, errBadHandshake)
		return
	}
	if transport == transports.WEBSOCKET && !upgrade {
		refuse(w, errBadRequest)
		return
	}
	if q.Get("EIO") != "4" {
		refuse(w, errUnsupportedVersion)
		return
	}
	if err := s.runMiddlewares(w, r); err != nil {
		refuse(w, errForbidden)
		return
	}
	if transport == transports.POLLING {
		s.openPolling(w, r)
		return
	}
	s.openWebsocket(w, r)
}

// runMiddlewares applies what Use registered, in order.
func (s *Server) runMiddlewares(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	mws := s.middlewares
	s.mu.Unlock()
	if len(mws) == 0 {
		return nil
	}
	ctx := types.NewHttpContext(w, r)
	var failed error
	s.ApplyMiddlewares(ctx, func(err error) { failed = err })
	return failed
}

// serves reports whether transport is one the server is configured for.
func (s *Server) serves(transport string) bool {
	switch transport {
	case transports.WEBSOCKET:
		return !s.opts.NoWebsocket
	case transports.POLLING:
		return s.opts.Polling
	}
	return false
}

// session serves a request for an open session: a poll, or the websocket
// of an upgrade. A session whose heartbeat ran out is closed first, even
// when the wheel has not come round to it yet.
func (s *Server) session(w http.ResponseWriter, r *http.Request, sid, transport string, upgrade bool) {
	s.mu.Lock()
	c := s.conns[sid]
	s.mu.Unlock()
	if c != nil && c.state.Load() != stateOpen {
		c = nil // closing: gone from the map in a moment
	}
	if c != nil && s.wheel.expired(c) {
		c.end(reasonPingTimeout, nil, 0)
		c = nil
	}
	switch {
	case c == nil:
		refuse(w, errUnknownSid)
	case c.onWS.Load():
		refuse(w, errBadRequest) // already on websocket: polls after the upgrade get 400
	case transport == transports.POLLING && !upgrade:
		s.pollRequest(w, r, c)
	case transport == transports.WEBSOCKET && upgrade:
		s.upgrade(w, r, c)
	default:
		refuse(w, errBadRequest)
	}
}

// newConn builds a connection from its handshake request.
func (s *Server) newConn(nc net.Conn, r *http.Request) *Conn {
	return &Conn{srv: s, id: newID(), nc: nc, hs: handshake{
		header: packHeader(r.Header), host: r.Host, path: r.URL.Path, rawQuery: r.URL.RawQuery,
		uri: r.RequestURI, remote: r.RemoteAddr, tls: r.TLS,
	}}
}

// register adds c to the open connections, unless the server is closed.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c.id] = c
	return true
}

// openPacket is the Engine.IO open packet of session id.
func (s *Server) openPacket(id string, polling bool) string {
	upgrades := "[]"
	if polling && !s.opts.NoWebsocket {
		upgrades = `["websocket"]`
	}
	return fmt.Sprintf(`0{"sid":%q,"upgrades":%s,"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		id, upgrades, s.opts.PingInterval.Milliseconds(), s.opts.PingTimeout.Milliseconds(), s.opts.MaxPayload)
}

// hijack completes a websocket handshake (RFC 6455 §4.2) and takes the
// connection over, writing first after the 101 (the open packet of a new
// session). It returns what the client sent behind the handshake, too.
func (s *Server) hijack(w http.ResponseWriter, r *http.Request, first []byte) (net.Conn, []byte, bool) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if r.Header.Get("Sec-WebSocket-Version") != "13" || !headerHasToken(r.Header, "Connection", "upgrade") || !validKey(key) {
		refuse(w, errBadRequest)
		return nil, nil, false
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return nil, nil, false
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket upgrade not supported", http.StatusInternalServerError)
		return nil, nil, false
	}
	_ = nc.SetDeadline(time.Time{}) // the server's read and write deadlines are the request's
	var initial []byte
	if n := brw.Reader.Buffered(); n > 0 { // frames sent right behind the handshake
		initial, _ = brw.Reader.Peek(n)
		initial = append([]byte(nil), initial...)
	}
	const head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
	resp := make([]byte, 0, len(head)+28+4+len(first))
	resp = append(appendAcceptKey(append(resp, head...), key), "\r\n\r\n"...)
	_ = nc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if _, err := nc.Write(append(resp, first...)); err != nil {
		_ = nc.Close()
		return nil, nil, false
	}
	return nc, initial, true
}

// openWebsocket opens a session over websocket: the open packet follows
// the 101, the connection is announced, and its reader starts.
func (s *Server) openWebsocket(w http.ResponseWriter, r *http.Request) {
	c := s.newConn(nil, r)
	c.onWS.Store(true)
	nc, initial, ok := s.hijack(w, r, wstransport.Frame(opText, []byte(s.openPacket(c.id, false))))
	if !ok {
		return
	}
	c.nc, c.raw = nc, rawConn(nc)
	if !s.register(c) {
		_ = nc.Close()
		return
	}
	s.wheel.open(c)
	s.Emit("connection", c)
	c.startReading(initial)
}

// headerHasToken reports whether a comma-separated header holds token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// validKey reports whether key is a base64 nonce of 16 bytes.
func validKey(key string) bool {
	var b [18]byte // a 16-byte nonce is 24 characters; more decodes to more
	if base64.StdEncoding.DecodedLen(len(key)) > len(b) {
		return false
	}
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// appendAcceptKey appends the Sec-WebSocket-Accept for key to b.
func appendAcceptKey(b []byte, key string) []byte {
	h := sha1.New() //nolint:gosec // RFC 6455
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	var sum [sha1.Size]byte
	return base64.StdEncoding.AppendEncode(b, h.Sum(sum[:0]))
}

// newID is a session id: 15 random bytes, 20 URL-safe base64 characters,
// the shape of Node's ids.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// forget drops a closed connection.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	s.mu.Unlock()
}

// Close closes every connection ("forced close") and stops the heartbeat;
// handshakes after it are refused with 503.
func (s *Server) Close() engine.BaseServer {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s
	}
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(true)
	}
	s.wheel.close()
	s.poller.close()
	return s
}

// Prototype does nothing.
func (s *Server) Prototype(engine.BaseServer) {}

// Proto is the server itself.
func (s *Server) Proto() engine.BaseServer { return s }

// Opts are the library's engine options with this server's heartbeat and
// payload settings.
func (s *Server) Opts() config.ServerOptionsInterface { return s.cfg }

// Clients is a snapshot of the open connections.
func (s *Server) Clients() *types.Map[string, engine.Socket] {
	m := &types.Map[string, engine.Socket]{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.conns {
		m.Store(id, c)
	}
	return m
}

// ClientsCount counts the open connections.
func (s *Server) ClientsCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.conns))
}

// Middlewares are what Use registered.
func (s *Server) Middlewares() []engine.Middleware {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.middlewares
}

// Transports are the transports the server serves.
func (s *Server) Transports() *types.Set[string] {
	set := types.NewSet[string]()
	for _, t := range []string{transports.POLLING, transports.WEBSOCKET} {
		if s.serves(t) {
			set.Add(t)
		}
	}
	return set
}

// TransportsByName is empty: the websocket transport is built in.
func (s *Server) TransportsByName() map[string]transports.TransportCtor { return nil }

// Construct does nothing: New builds the server.
func (s *Server) Construct(any) {}

// Init does nothing.
func (s *Server) Init() {}

// ComputePath is empty: the router mounts the server on socketio.path.
func (s *Server) ComputePath(config.AttachOptionsInterface) string { return "" }

// Upgrades lists what transport may upgrade to: websocket from polling.
func (s *Server) Upgrades(transport string) []string {
	if transport == transports.POLLING && s.serves(transports.WEBSOCKET) {
		return []string{transports.WEBSOCKET}
	}
	return nil
}

// Verify accepts every request: ServeHTTP checks what it needs.
func (s *Server) Verify(*types.HttpContext, bool) (*types.CodeMessage, map[string]any) {
	return nil, nil
}

// Use adds a middleware, run on every handshake before it is accepted; an
// error refuses the handshake with 403.
func (s *Server) Use(m engine.Middleware) {
	s.mu.Lock()
	s.middlewares = append(s.middlewares, m)
	s.mu.Unlock()
}

// ApplyMiddlewares runs the middlewares in order and calls fn with the
// first error, or nil.
func (s *Server) ApplyMiddlewares(ctx *types.HttpContext, fn func(error)) {
	for _, m := range s.Middlewares() {
		var failed error
		m(ctx, func(err error) { failed = err })
		if failed != nil {
			fn(failed)
			return
		}
	}
	fn(nil)
}

// Cleanup does nothing.
func (s *Server) Cleanup() {}

// GenerateId is a new session id.
func (s *Server) GenerateId(*types.HttpContext) string { return newID() } //nolint:revive // the library's name

// Handshake refuses: connections are opened by ServeHTTP only.
func (s *Server) Handshake(string, *types.HttpContext) (*types.CodeMessage, transports.Transport) {
	return &types.CodeMessage{Code: errBadRequest, Message: errMessages[errBadRequest]}, nil
}

// CreateTransport refuses: the websocket transport is built in.
func (s *Server) CreateTransport(string, *types.HttpContext) (transports.Transport, error) {
	return nil, fmt.Errorf("engine: transports are built in")
}
