// Package router is the running daemon: the HTTP server, CORS, the
// Socket.IO server, and the execution of the actions that rules yield. The
// compiled rules live in a Runtime that Reload swaps atomically.
package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/internal/backend"
	"github.com/eventrouter/eventrouter/internal/wire"
	"github.com/eventrouter/eventrouter/router/adminui"
	"github.com/eventrouter/eventrouter/router/cluster"
	"github.com/eventrouter/eventrouter/router/engine"
	"github.com/eventrouter/eventrouter/router/fanout"
	"github.com/eventrouter/eventrouter/router/wsaccept"
	"github.com/eventrouter/eventrouter/router/wstransport"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/rs/cors"
	libengine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"go.uber.org/zap"
)

// Options are what a Router needs besides its first rule set.
type Options struct {
	// Logger receives the daemon's logs; rule log actions use it too.
	Logger *zap.Logger
	// Hash identifies the first config version; empty means ConfigHash.
	Hash string
	// Reload, when set, serves POST /-/reload on the admin listener: it
	// should feed the daemon's reload loop and return the reload's result.
	Reload func(ctx context.Context) error
	// Prepare, when set, is called with every event the router builds
	// (connection, socket event, disconnect, HTTP route, source message)
	// before it is evaluated, and may change it. It runs on the event's own goroutine
	// and must not block. The differential rule tests use it to replay
	// what a real client cannot send (a socket's id, state and rooms, a
	// disconnect reason); nil costs nothing.
	Prepare func(ev *rules.Event)
	// Trace, when set, is called once per evaluated event after its
	// actions ran, with the event and the actions handed to their
	// executors, in order (an action that failed included, one with no
	// executor left out). A refused connection is traced too; an accepted
	// one is traced once its actions ran after the connect completed. A
	// deferred log action (see rules.Ruleset.EvaluateInto) carries its
	// values in Args. Trace runs on the event's goroutine, must not block
	// and may keep both arguments. It is a debugging aid and what the
	// differential rule tests observe; nil costs nothing.
	Trace func(ev *rules.Event, executed []rules.Action)
	// WebhookBackoff, when set, is the wait before a webhook delivery's
	// retry n (1, 2, …) instead of exponential backoff with jitter; tests
	// make it short.
	WebhookBackoff func(n int) time.Duration
}

// Router serves Socket.IO clients and HTTP routes, and routes every event
// through the current Runtime.
type Router struct {
	log    *zap.Logger
	rt     atomic.Pointer[Runtime]
	io     *socket.Server
	engine http.Handler // the Engine.IO server under its CORS policy
	// wsEngine is the builtin engine itself, which takes websocket
	// upgrades; nil on the library's engine.
	wsEngine http.Handler
	sioPath  string // fixed at start; a reload cannot move it
	http     *http.Server
	reload   sync.Mutex // serialises reloads
	closing  atomic.Bool

	metrics   *metrics
	limited   *limitLog      // refusals by limits: counted, logged at a bounded rate
	httpRate  *clientLimiter // limits.http_requests_per_second, per client address
	boot      rules.Config   // the config New started from: restart-only settings
	reloadFn  func(ctx context.Context) error
	serving   atomic.Bool   // the public listener is serving
	srvMu     sync.Mutex    // guards http, admin and adminDone
	admin     *http.Server  // the admin listener, when served
	adminDone bool          // Shutdown has closed the admin listener
	ioClose   sync.Once     // closes the Socket.IO server once
	ioClosed  chan struct{} // closed when every socket is closed

	nspMu sync.Mutex                  // guards nsps
	nsps  map[string]socket.Namespace // bound namespaces, by name

	prepare func(ev *rules.Event)                          // Options.Prepare
	trace   func(ev *rules.Event, executed []rules.Action) // Options.Trace

	backends      *backend.Dispatcher // webhook() queues; they outlive reloads
	backendClient *http.Client        // sends forward()'s requests

	cluster *cluster.Cluster // nil on a single node
	adminUI *adminui.Server  // nil unless admin_ui is enabled

	conns connCounter // sockets by client address, for the connection limits
	peers peers       // open Engine.IO connections, see peerOf
}

// New builds a router for rs. Settings fixed for the process lifetime
// (socketio.path, ping, payload limits, transports) are taken from rs.
func New(rs *rules.Ruleset, opts Options) (*Router, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	r := &Router{log: opts.Logger, metrics: newMetrics(), httpRate: newClientLimiter(), boot: *rs.Config, reloadFn: opts.Reload, prepare: opts.Prepare, trace: opts.Trace, ioClosed: make(chan struct{}), nsps: map[string]socket.Namespace{}}
	if opts.Hash == "" {
		opts.Hash = ConfigHash(rs.Config)
	}
	rt, err := NewRuntime(rs, opts.Hash, r.routeHandler)
	if err != nil {
		return nil, fmt.Errorf("build runtime: %w", err)
	}
	rt.startTasks(r.log)
	r.rt.Store(rt)
	r.metrics.configLoaded(rt)
	r.limited = newLimitLog(r.log, r.metrics.reg)
	r.backends = r.newDispatcher(r.metrics.reg, opts)
	r.backendClient = &http.Client{}
	warnAnyOrigin(r.log, rs.Config)

	cfg := rs.Config.SocketIO
	sopts := socket.DefaultServerOptions()
	sopts.SetPath(cfg.Path)
	sopts.SetPingInterval(cfg.PingInterval)
	sopts.SetPingTimeout(cfg.PingTimeout)
	sopts.SetConnectTimeout(cfg.ConnectTimeout)
	sopts.SetMaxHttpBufferSize(int64(cfg.MaxPayload))
	sopts.SetServeClient(false)
	// The websocket origin check only consults the library's CORS option;
	// its origin function reads the current runtime, so reloads apply.
	sopts.SetCors(&types.Cors{
		Origin:         func(origin string) bool { return r.rt.Load().originAllowed(origin) },
		Methods:        rs.Config.Server.CORS.Methods,
		AllowedHeaders: corsHeaders(rs.Config.Server.CORS.Headers),
		Credentials:    rs.Config.Server.CORS.Credentials,
	})
	ts := types.NewSet[transports.TransportCtor]()
	for _, name := range cfg.Transports {
		switch name {
		case "polling":
			ts.Add(&transports.PollingBuilder{})
		case "websocket":
			ts.Add(wstransport.NewBuilder(wstransport.Options{WriteTimeout: cfg.WriteTimeout, Coalesce: cfg.WriteCoalesce, MaxQueue: cfg.MaxQueue}))
		}
	}
	sopts.SetTransports(ts)
	if d := cfg.Recovery.MaxDisconnection; d > 0 {
		rec := &socket.ConnectionStateRecovery{}
		rec.SetMaxDisconnectionDuration(d.Milliseconds())
		// The namespace middleware runs the connection rules: a client
		// that recovers its session goes through them again, with
		// socket.recovered set, so an auth gate still applies.
		rec.SetSkipMiddlewares(false)
		sopts.SetConnectionStateRecovery(rec)
	}
	if cc := rs.Config.Cluster; cc.Enabled() {
		c, err := cluster.New(cluster.Options{Config: cc, Recovery: cfg.Recovery.MaxDisconnection, Outgoing: rs.Config.AdminUI.Enabled, Logger: r.log, Registerer: r.metrics.reg})
		if err != nil {
			return nil, fmt.Errorf("join cluster: %w", err)
		}
		r.cluster = c
		sopts.SetAdapter(c.Builder())
	} else {
		sopts.SetAdapter(fanout.Builder{Recovery: cfg.Recovery.MaxDisconnection > 0, Outgoing: rs.Config.AdminUI.Enabled})
	}
	sopts.SetParser(wire.NewParser()) // keeps events' JSON text, so passed-along data stays as sent
	r.io = socket.NewServer(nil, sopts)
	if cfg.Engine == rules.EngineBuiltin {
		// Our own Engine.IO server under the library's Socket.IO layer
		// (router/engine); the config loader made sure no transport it
		// lacks is configured.
		eng := engine.New(engine.Options{
			PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, MaxPayload: int64(cfg.MaxPayload),
			WriteTimeout: cfg.WriteTimeout, Coalesce: cfg.WriteCoalesce, MaxQueue: cfg.MaxQueue,
			Polling: slices.Contains(cfg.Transports, "polling"), NoWebsocket: !slices.Contains(cfg.Transports, "websocket"),
		})
		r.io.Bind(eng)
		// The library's engine applies the Socket.IO path's CORS itself;
		// here the same policy wraps ours, the origins read from the
		// current runtime so that reloads apply.
		c := rs.Config.Server.CORS
		r.wsEngine = eng
		r.engine = cors.New(cors.Options{
			AllowOriginVaryRequestFunc: func(req *http.Request, _ string) (bool, []string) {
				return r.rt.Load().requestOriginAllowed(req), nil
			},
			AllowedMethods:   c.Methods,
			AllowedHeaders:   corsHeaders(c.Headers),
			AllowCredentials: c.Credentials,
		}).Handler(eng)
	} else {
		r.engine = r.io.ServeHandler(nil)
	}
	// Watch every Engine.IO connection from its handshake: its write
	// buffer is bounded by socketio.max_queue (see peerOf).
	_ = r.io.Engine().On("connection", func(args ...any) {
		if conn, ok := firstArg[libengine.Socket](args); ok {
			r.peerOf(conn)
		}
	})
	r.sioPath = strings.TrimSuffix(cfg.Path, "/") + "/"
	for _, ns := range rs.Config.Namespaces {
		r.bindNamespace(ns)
	}
	if err := r.startAdminUI(rs.Config.AdminUI); err != nil {
		return nil, err
	}
	r.applySources(rs)
	return r, nil
}

// Runtime returns the runtime serving new events now.
func (r *Router) Runtime() *Runtime { return r.rt.Load() }

// ServeHTTP routes a request to the Socket.IO engine, a rule route or a
// static file mount (server.static, see static.go), in that order, under
// the current runtime's CORS policy.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rt := r.rt.Load()
	if origin := req.Header.Get("Origin"); origin != "" && !rt.requestOriginAllowed(req) {
		// Refused before any rule or the engine sees it: a websocket
		// upgrade, every polling request, and routes, simple requests
		// (which browsers send without a preflight) included. Requests
		// without an Origin come from non-browser clients and pass.
		r.limited.hit("origin", "request from a foreign origin refused", zap.String("origin", origin),
			zap.String("method", req.Method), zap.String("path", req.URL.Path), zap.String("address", req.RemoteAddr))
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "origin not allowed"}, nil)
		return
	}
	limitBodyTime(w, req, rt.Rules.Config.Server.ReadTimeout)
	if strings.HasPrefix(req.URL.Path, r.sioPath) || req.URL.Path+"/" == r.sioPath {
		if isWebsocketUpgrade(req) {
			if r.wsEngine != nil {
				// The builtin engine keeps nothing of w, and its 101 carries
				// no CORS headers: the origin was checked above, once.
				r.wsEngine.ServeHTTP(w, req)
				return
			}
			w = &releasingWriter{w: w}
		}
		r.engine.ServeHTTP(w, req) // the engine applies CORS itself
		return
	}
	r.metrics.serveHTTP(rt.http, w, req)
	if isPreflight(req) && w.Header().Get("Access-Control-Allow-Origin") == "" {
		if ce := r.log.Check(zap.DebugLevel, "CORS preflight refused"); ce != nil {
			reason, key := rt.preflightRefusal(req)
			ce.Write(zap.String("path", req.URL.Path), zap.String("origin", req.Header.Get("Origin")),
				zap.String("method", req.Header.Get("Access-Control-Request-Method")),
				zap.String("headers", strings.Join(req.Header.Values("Access-Control-Request-Headers"), ", ")),
				zap.String("reason", reason), zap.String("config_key", key))
		}
	}
}

// Serve accepts connections on ln until Shutdown. It returns nil after a
// graceful shutdown. Headers must arrive within server.read_header_timeout
// and an idle keep-alive connection is closed after server.idle_timeout;
// route bodies are bounded per request (see limitBodyTime). When the
// process runs out of file descriptors, new connections wait in the
// kernel's backlog and the condition is logged as an error.
func (r *Router) Serve(ln net.Listener) error {
	sc := r.boot.Server
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: sc.ReadHeaderTimeout,
		IdleTimeout:       sc.IdleTimeout,
		ErrorLog:          zap.NewStdLog(r.log.Named("http")),
	}
	ln = r.fdListener(ln, "public", nil)
	if r.boot.SocketIO.Engine == rules.EngineBuiltin {
		// Websocket upgrades that open a connection skip net/http's
		// per-connection buffers (see router/wsaccept).
		ln = wsaccept.New(ln, r, sc.ReadHeaderTimeout, r.log.Named("http"))
	}
	// Shutdown closes the sockets itself before the listener; this is a
	// safety net for a server shut down another way.
	srv.RegisterOnShutdown(r.closeSockets)
	r.srvMu.Lock()
	if r.closing.Load() {
		r.srvMu.Unlock()
		_ = ln.Close()
		return nil
	}
	r.http = srv
	r.serving.Store(true)
	r.srvMu.Unlock()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops gracefully: readiness turns false, the public listener
// stops accepting, every socket is closed so clients reconnect elsewhere,
// in-flight HTTP requests finish, queued webhook deliveries are sent, and
// the admin listener closes last. It
// returns ctx's error if that takes longer than ctx allows.
func (r *Router) Shutdown(ctx context.Context) error {
	r.srvMu.Lock()
	r.closing.Store(true) // /readyz says draining; new namespace connects are refused
	srv := r.http
	r.srvMu.Unlock()
	defer r.rt.Load().stop()
	// No source message is delivered past this point; what rules
	// published is flushed.
	r.reload.Lock()
	r.stopSources(ctx)
	r.reload.Unlock()
	var err error
	if srv != nil {
		srv.SetKeepAlivesEnabled(false)
	}
	// Close the sockets while the listener still accepts, so that a polling
	// client's next request can still collect its close packet ("transport
	// close", after which clients reconnect elsewhere); closing them also
	// ends the long-polling requests that Shutdown would wait for.
	r.closeSockets()
	select {
	case <-r.ioClosed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if srv != nil {
		if serr := srv.Shutdown(ctx); err == nil {
			err = serr
		}
	}
	// Queued webhook deliveries are sent until ctx ends; the rest are
	// dropped and counted.
	if berr := r.backends.Close(ctx); err == nil {
		err = berr
	}
	if r.cluster != nil {
		if cerr := r.cluster.Close(); cerr != nil {
			r.log.Debug("cluster: closing the Redis clients", zap.Error(cerr))
		}
	}
	r.adminUI.Close()
	if aerr := r.shutdownAdmin(ctx); err == nil {
		err = aerr
	}
	return err
}

// closeSockets closes the Socket.IO server, and with it every socket in
// every namespace, once.
func (r *Router) closeSockets() {
	r.ioClose.Do(func() {
		r.io.Close(func(error) { close(r.ioClosed) })
	})
}

// warnAnyOrigin warns, once per config, when any web site may connect.
func warnAnyOrigin(log *zap.Logger, cfg *rules.Config) {
	if slices.Contains(cfg.Server.CORS.Origins, "*") {
		log.Warn(`server.cors.origins allows "*": any web site may connect and call the routes; list your sites' origins to lock it down`)
	}
}

// isWebsocketUpgrade reports whether req asks to become a websocket.
func isWebsocketUpgrade(req *http.Request) bool {
	return strings.EqualFold(req.Header.Get("Upgrade"), "websocket")
}
