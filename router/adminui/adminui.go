// Package adminui is the server side of the official Socket.IO Admin UI
// (@socket.io/admin-ui 0.5): the namespace its browser app connects to,
// speaking the protocol of the package's instrument() function. The UI
// logs in (a username and a bcrypt-hashed password, or no login when the
// operator opts out explicitly), then receives the server's stats every
// two seconds, the list of sockets with their rooms and handshakes, and,
// in development mode, every connection, room change, event and
// disconnection as it happens; it can make sockets join or leave a room,
// disconnect them, and emit to them.
//
// The router owns the sockets; this package only watches them. It reads
// them through Host, and the router calls the observer methods
// (SocketConnected, SocketDisconnected, SocketUpdated, Watch) at the points
// of its own socket lifecycle, which reports each connection and each
// disconnection exactly once (see router/lifecycle.go), where the
// library's own events may not. Every observer method is a no-op on a nil
// *Server, so a router without admin_ui pays one nil check per call site
// and nothing else: no namespace, no listeners, no timers.
//
// In a cluster the socket list (all_sockets) holds every node's sockets,
// as instrument() lists them with Socket.IO v4's fetchSockets; the other
// nodes' come through Host.OtherSockets without their transport and
// client id. The live events and server_stats go out through the admin
// namespace's adapter, so every node's admin namespace gets every node's
// stats and events, as with Node's Redis adapter, and the UI shows one
// server per node. The join, leave, disconnect and emit actions go
// through the namespace's adapter too, and reach the sockets of every
// node.
package adminui

import (
	"context"
	"crypto/subtle"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/internal/wire"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// Host is what the Admin UI reads from the router.
type Host interface {
	// Namespaces returns the namespaces clients may connect to, the
	// admin namespace excluded.
	Namespaces() []socket.Namespace
	// ClientAddress is the address of s's client, as the router's limits
	// see it (server.trusted_proxies applied).
	ClientAddress(s *socket.Socket) string
	// SocketData is what the UI shows as the socket's data: the rules'
	// socket.state. It must not be mutated.
	SocketData(s *socket.Socket) map[string]any
	// OtherSockets lists nsp's sockets on the other nodes of a cluster.
	// It is called only when Options.Clustered is set.
	OtherSockets(ctx context.Context, nsp socket.Namespace) ([]RemoteSocket, error)
	// ServerDisconnecting is called just before the UI's _disconnect
	// closes nsp's sockets in room (every socket of nsp when room is
	// ""), so the host can record why they go.
	ServerDisconnecting(nsp socket.Namespace, room string)
}

// fetchWait bounds how long the socket list waits for the other nodes;
// the cluster's own request timeout normally ends the wait first.
const fetchWait = 5 * time.Second

// RemoteSocket is a socket of another node, as that node describes it.
type RemoteSocket struct {
	// ID is the socket's id.
	ID string
	// Rooms are its rooms, its own included.
	Rooms []string
	// Handshake is its handshake as its node recorded it, or nil.
	Handshake *socket.Handshake
	// Data is its socket.state, or nil.
	Data map[string]any
}

// Options configure a Server.
type Options struct {
	// Namespace is the admin namespace's name, "/admin" by default.
	Namespace string
	// Username and PasswordHash (bcrypt) are the login. Both empty means
	// no login, which the caller must have been asked for explicitly.
	Username     string
	PasswordHash string
	// Readonly refuses the UI's join, leave, disconnect and emit actions.
	Readonly bool
	// Development turns on the socket list and the live events.
	Development bool
	// ServerID names this server in the UI; empty means the host name.
	ServerID string
	// Clustered says the admin namespace's adapter reaches other nodes,
	// whose admin sockets want this node's live events even when none is
	// connected here.
	Clustered bool
	// StatsInterval is the time between two server_stats; 2s by default,
	// as the UI expects.
	StatsInterval time.Duration
	// SessionTTL bounds how long a session id from a login stays valid;
	// 24h by default.
	SessionTTL time.Duration
	// Logger receives the Server's logs.
	Logger *zap.Logger
}

// The features the config message announces (typed-events.d.ts).
const (
	featureEmit             = "EMIT"
	featureJoin             = "JOIN"
	featureLeave            = "LEAVE"
	featureDisconnect       = "DISCONNECT"
	featureMJoin            = "MJOIN"
	featureMLeave           = "MLEAVE"
	featureMDisconnect      = "MDISCONNECT"
	featureAggregatedEvents = "AGGREGATED_EVENTS"
	featureAllEvents        = "ALL_EVENTS"
)

// invalidCredentials is the connect_error message of a failed login, as
// instrument() sends it.
const invalidCredentials = "invalid credentials"

// Server is the admin namespace of one Socket.IO server.
type Server struct {
	io       *socket.Server
	nsp      socket.Namespace
	host     Host
	opts     Options
	log      *zap.Logger
	features []any
	hostname string
	started  time.Time

	sessions *sessions
	logins   *loginThrottle // password checks per client address
	stats    *stats

	watchMu sync.Mutex
	watched map[string]bool // namespaces whose rooms are watched

	stop context.CancelFunc
	done chan struct{}
}

// New binds the admin namespace on io and starts its stats timer; Close
// stops it.
func New(io *socket.Server, host Host, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "/admin"
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = 2 * time.Second
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if (opts.Username == "") != (opts.PasswordHash == "") {
		return nil, fmt.Errorf("admin ui: username and password hash go together")
	}
	if opts.PasswordHash != "" {
		if _, err := bcrypt.Cost([]byte(opts.PasswordHash)); err != nil {
			return nil, fmt.Errorf("admin ui: password hash: %w", err)
		}
	}
	hostname, _ := os.Hostname()
	if opts.ServerID == "" {
		opts.ServerID = hostname
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Server{
		io: io, host: host, opts: opts, log: opts.Logger, hostname: hostname, started: time.Now(),
		sessions: newSessions(opts.SessionTTL, maxSessions), logins: newLoginThrottle(), stats: newStats(),
		watched: map[string]bool{}, stop: cancel, done: make(chan struct{}),
	}
	if !opts.Readonly {
		a.features = []any{featureEmit, featureJoin, featureLeave, featureDisconnect, featureMJoin, featureMLeave, featureMDisconnect}
	}
	a.features = append(a.features, featureAggregatedEvents)
	if opts.Development {
		a.features = append(a.features, featureAllEvents)
	}
	a.nsp = io.Of(opts.Namespace, nil)
	if opts.PasswordHash != "" {
		a.nsp.Use(a.authenticate)
	}
	_ = a.nsp.On("connection", func(args ...any) {
		if s, ok := args[0].(*socket.Socket); ok {
			a.onAdminConnection(s)
		}
	})
	_ = io.Engine().On("connection", func(args ...any) {
		if len(args) > 0 {
			if conn, ok := args[0].(engine.Socket); ok {
				a.stats.watchConn(conn)
			}
		}
	})
	if opts.Development {
		a.Watch(a.nsp)
		for _, nsp := range host.Namespaces() {
			a.Watch(nsp)
		}
	}
	go a.statsLoop(ctx)
	return a, nil
}

// Namespace is the admin namespace's name.
func (a *Server) Namespace() string { return a.opts.Namespace }

// Close stops the stats timer; the sockets close with the Socket.IO
// server.
func (a *Server) Close() {
	if a == nil {
		return
	}
	a.stop()
	<-a.done
}

// adminSession marks an admin socket that logged in with credentials: its
// connection handler sends it the session id.
type adminSession struct{ id string }

// authenticate is the admin namespace's middleware: a known session id, or
// the username and a password matching the hash.
func (a *Server) authenticate(s *socket.Socket, next func(*socket.ExtendedError)) {
	var auth map[string]any
	if hs := s.Handshake(); hs != nil {
		auth = hs.Auth
	}
	if id, _ := auth["sessionId"].(string); id != "" && a.sessions.valid(id) {
		next(nil)
		return
	}
	addr := a.host.ClientAddress(s)
	if !a.logins.allow(addr, time.Now()) {
		// Debug: the refused attempts it stands for were logged, at the
		// throttled rate, so a flood cannot flood the log.
		a.log.Debug("admin ui: login throttled", zap.String("address", addr))
		next(socket.NewExtendedError(tooManyAttempts, nil))
		return
	}
	user, _ := auth["username"].(string)
	password, _ := auth["password"].(string)
	// The hash is checked whatever the username, so a wrong one takes as
	// long as a wrong password: the timing tells nothing about usernames.
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(a.opts.Username)) == 1
	passwordOK := bcrypt.CompareHashAndPassword([]byte(a.opts.PasswordHash), []byte(password)) == nil
	if userOK && passwordOK {
		id, err := a.sessions.create()
		if err != nil {
			a.log.Error("admin ui: cannot make a session id", zap.Error(err))
			next(socket.NewExtendedError("internal error", nil))
			return
		}
		s.SetData(adminSession{id: id})
		next(nil)
		return
	}
	// What was typed is not logged: a password typed as the username
	// would land in the log.
	a.log.Info("admin ui: login refused", zap.String("address", addr), zap.Bool("known_username", userOK))
	next(socket.NewExtendedError(invalidCredentials, nil))
}

// onAdminConnection greets an admin socket: its session id (after a login
// with credentials), the features, and in development mode every socket.
func (a *Server) onAdminConnection(s *socket.Socket) {
	if sess, ok := s.Data().(adminSession); ok {
		_ = s.Emit("session", sess.id)
	}
	if !a.opts.Readonly {
		a.handleActions(s)
	}
	_ = s.Emit("config", map[string]any{"supportedFeatures": a.features})
	if a.opts.Development {
		a.SocketConnected(s)
		_ = s.On("disconnect", func(args ...any) {
			reason, _ := first[string](args)
			a.SocketDisconnected(s, reason)
		})
		_ = s.Emit("all_sockets", a.allSockets())
	}
}

// handleActions answers the UI's actions on sockets. A filter is a room
// (a socket's id is a room); empty means every socket of the namespace.
func (a *Server) handleActions(s *socket.Socket) {
	_ = s.On("emit", func(args ...any) {
		args = clean(args)
		nsp, filter, ev := str(args, 0), str(args, 1), str(args, 2)
		target, ok := a.target(nsp, filter)
		if !ok || ev == "" {
			return
		}
		var rest []any
		if len(args) > 3 {
			rest = args[3:]
		}
		a.log.Info("admin ui: emit", zap.String("namespace", nsp), zap.String("filter", filter), zap.String("event", ev))
		if err := target.Emit(ev, rest...); err != nil {
			a.log.Warn("admin ui: emit failed", zap.String("event", ev), zap.Error(err))
		}
	})
	a.onRoomAction(s, "join", (*socket.BroadcastOperator).SocketsJoin)
	a.onRoomAction(s, "leave", (*socket.BroadcastOperator).SocketsLeave)
	_ = s.On("_disconnect", func(args ...any) {
		args = clean(args)
		nsp, filter := str(args, 0), str(args, 2)
		closeConn, _ := at[bool](args, 1)
		if target, ok := a.target(nsp, filter); ok {
			a.log.Info("admin ui: disconnect", zap.String("namespace", nsp), zap.String("filter", filter), zap.Bool("close", closeConn))
			a.host.ServerDisconnecting(a.namespace(nsp), filter)
			target.DisconnectSockets(closeConn)
		}
	})
}

// onRoomAction answers the UI's join or leave (ev): (nsp, room, filter).
func (a *Server) onRoomAction(s *socket.Socket, ev string, do func(*socket.BroadcastOperator, ...socket.Room)) {
	_ = s.On(ev, func(args ...any) {
		args = clean(args)
		nsp, room, filter := str(args, 0), str(args, 1), str(args, 2)
		if target, ok := a.target(nsp, filter); ok && room != "" {
			a.log.Info("admin ui: "+ev, zap.String("namespace", nsp), zap.String("room", room), zap.String("filter", filter))
			do(target, socket.Room(room))
		}
	})
}

// target is the broadcast operator of the sockets an action names: those
// of namespace nsp in room filter, or all of them. Only a namespace that
// exists can be named: the library would create any other.
func (a *Server) target(nsp, filter string) (*socket.BroadcastOperator, bool) {
	ns := a.namespace(nsp)
	if ns == nil {
		return nil, false
	}
	if filter != "" {
		return ns.In(socket.Room(filter)), true
	}
	return ns.In(), true
}

// namespace finds a namespace by name, the admin one included.
func (a *Server) namespace(name string) socket.Namespace {
	if name == a.opts.Namespace {
		return a.nsp
	}
	for _, ns := range a.host.Namespaces() {
		if ns.Name() == name {
			return ns
		}
	}
	return nil
}

// namespaces are the client namespaces and the admin one, by name.
func (a *Server) namespaces() []socket.Namespace {
	out := append(a.host.Namespaces(), a.nsp)
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// allSockets serialises every socket in every namespace: this node's,
// and in a cluster the other nodes' as they describe them.
func (a *Server) allSockets() []any {
	out := []any{}
	for _, ns := range a.namespaces() {
		ns.Sockets().Range(func(id socket.SocketId, s *socket.Socket) bool {
			out = append(out, a.serialize(s))
			return true
		})
		if a.opts.Clustered {
			for _, rs := range a.fetchRemote(ns) {
				out = append(out, serializeRemote(ns.Name(), rs))
			}
		}
	}
	return out
}

// fetchRemote asks the other nodes for ns's sockets; on a failure it
// logs and returns none, so the UI still gets this node's.
func (a *Server) fetchRemote(ns socket.Namespace) []RemoteSocket {
	ctx, cancel := context.WithTimeout(context.Background(), fetchWait)
	defer cancel()
	sockets, err := a.host.OtherSockets(ctx, ns)
	if err != nil {
		a.log.Warn("admin ui: the socket list lacks the other nodes' sockets", zap.String("namespace", ns.Name()), zap.Error(err))
		return nil
	}
	return sockets
}

// Watch reports the room changes of nsp's sockets (room_joined and
// room_left) in development mode. The router calls it for each namespace
// it binds; a second call for the same namespace does nothing.
func (a *Server) Watch(nsp socket.Namespace) {
	if a == nil || !a.opts.Development {
		return
	}
	a.watchMu.Lock()
	defer a.watchMu.Unlock()
	if a.watched[nsp.Name()] {
		return
	}
	a.watched[nsp.Name()] = true
	name := nsp.Name()
	_ = nsp.Adapter().On("join-room", func(args ...any) {
		if !a.watching() {
			return
		}
		room, id := roomAndID(args)
		a.broadcast("room_joined", name, room, id, now())
	})
	_ = nsp.Adapter().On("leave-room", func(args ...any) {
		if !a.watching() {
			return
		}
		room, id := roomAndID(args)
		a.broadcast("room_left", name, room, id, now())
	})
}

// SocketConnected reports a new socket (socket_connected) in development
// mode, and from then on its events and transport upgrade. The router
// calls it once per socket, before the socket's connection rules run.
func (a *Server) SocketConnected(s *socket.Socket) {
	if a == nil || !a.opts.Development {
		return
	}
	nsp := s.Nsp().Name()
	if a.watching() {
		a.broadcast("socket_connected", a.serialize(s), now())
	}
	_ = s.Conn().Once("upgrade", func(args ...any) {
		if !a.watching() {
			return
		}
		a.broadcast("socket_updated", map[string]any{"id": string(s.Id()), "nsp": nsp, "transport": transportName(s)})
	})
	if nsp == a.opts.Namespace {
		return // the admin namespace's own traffic would echo forever
	}
	s.OnAny(func(args ...any) {
		if !a.watching() {
			return
		}
		a.broadcast("event_received", nsp, string(s.Id()), clean(args), now())
	})
	s.OnAnyOutgoing(func(args ...any) {
		if !a.watching() {
			return
		}
		a.broadcast("event_sent", nsp, string(s.Id()), clean(args), now())
	})
}

// SocketDisconnected reports that s is gone (socket_disconnected) in
// development mode. The router calls it once per socket.
func (a *Server) SocketDisconnected(s *socket.Socket, reason string) {
	if a == nil || !a.opts.Development || !a.watching() {
		return
	}
	a.broadcast("socket_disconnected", s.Nsp().Name(), string(s.Id()), reason, now())
}

// SocketUpdated reports a change of s's data (socket.state) in
// development mode.
func (a *Server) SocketUpdated(s *socket.Socket) {
	if a == nil || !a.opts.Development || !a.watching() {
		return
	}
	a.broadcast("socket_updated", map[string]any{"id": string(s.Id()), "nsp": s.Nsp().Name(), "data": a.data(s)})
}

// watching reports whether a live event may have a reader: an admin
// socket on this node, or, in a cluster, possibly on another. Without
// one, the live events are not built at all.
func (a *Server) watching() bool {
	return a.opts.Clustered || a.nsp.Sockets().Len() > 0
}

// broadcast emits to every admin socket.
func (a *Server) broadcast(ev string, args ...any) {
	if err := a.nsp.Emit(ev, args...); err != nil {
		a.log.Debug("admin ui: emit failed", zap.String("event", ev), zap.Error(err))
	}
}

// clean drops what an event's arguments carry besides the data: the
// parser's JSON texts and an ack callback.
func clean(args []any) []any {
	args, _ = wire.Split(args)
	if n := len(args); n > 0 {
		switch args[n-1].(type) {
		case socket.Ack:
			args = args[:n-1]
		}
	}
	return args
}

// roomAndID reads the adapter's join-room and leave-room arguments.
func roomAndID(args []any) (string, string) {
	var room, id string
	if len(args) > 0 {
		if r, ok := args[0].(socket.Room); ok {
			room = string(r)
		}
	}
	if len(args) > 1 {
		if s, ok := args[1].(socket.SocketId); ok {
			id = string(s)
		}
	}
	return room, id
}

// now is the time as JSON carries a JavaScript Date.
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// str is args[i] if it is a string.
func str(args []any, i int) string {
	s, _ := at[string](args, i)
	return s
}

// at is args[i] if it has type T.
func at[T any](args []any, i int) (T, bool) {
	var zero T
	if i >= len(args) {
		return zero, false
	}
	v, ok := args[i].(T)
	return v, ok
}

// first is args[0] if it has type T.
func first[T any](args []any) (T, bool) { return at[T](args, 0) }
