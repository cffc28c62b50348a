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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"go.uber.org/zap"
)

// Options are what a Router needs besides its first rule set.
type Options struct {
	// Logger receives the daemon's logs; rule log actions use it too.
	Logger *zap.Logger
	// Hash identifies the first config version.
	Hash string
}

// Router serves Socket.IO clients and HTTP routes, and routes every event
// through the current Runtime.
type Router struct {
	log     *zap.Logger
	rt      atomic.Pointer[Runtime]
	io      *socket.Server
	engine  http.Handler
	sioPath string // fixed at start; a reload cannot move it
	http    *http.Server
	reload  sync.Mutex // serialises reloads
	closing atomic.Bool
}

// New builds a router for rs. Settings fixed for the process lifetime
// (socketio.path, ping, payload limits, transports) are taken from rs.
func New(rs *rules.Ruleset, opts Options) (*Router, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	r := &Router{log: opts.Logger}
	rt, err := NewRuntime(rs, opts.Hash, r.routeHandler)
	if err != nil {
		return nil, fmt.Errorf("build runtime: %w", err)
	}
	r.rt.Store(rt)

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
			ts.Add(&transports.WebSocketBuilder{})
		}
	}
	sopts.SetTransports(ts)
	r.io = socket.NewServer(nil, sopts)
	r.engine = r.io.ServeHandler(nil)
	r.sioPath = strings.TrimSuffix(cfg.Path, "/") + "/"
	for _, ns := range rs.Config.Namespaces {
		r.bindNamespace(ns)
	}
	return r, nil
}

// Runtime returns the runtime serving new events now.
func (r *Router) Runtime() *Runtime { return r.rt.Load() }

// ServeHTTP routes a request to the Socket.IO engine or to a rule route,
// under the current runtime's CORS policy.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rt := r.rt.Load()
	if strings.HasPrefix(req.URL.Path, r.sioPath) || req.URL.Path+"/" == r.sioPath {
		r.engine.ServeHTTP(w, req) // the engine applies CORS itself
		return
	}
	rt.cors.Handler(rt.routes).ServeHTTP(w, req)
}


// Serve accepts connections on ln until Shutdown. It returns nil after a
// graceful shutdown.
func (r *Router) Serve(ln net.Listener) error {
	r.http = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(r.log.Named("http")),
	}
	err := r.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, disconnects every socket so clients reconnect
// elsewhere, and waits for in-flight HTTP requests until ctx ends.
func (r *Router) Shutdown(ctx context.Context) error {
	r.closing.Store(true)
	var err error
	if r.http != nil {
		r.http.SetKeepAlivesEnabled(false)
	}
	r.disconnectAll()
	if r.http != nil {
		err = r.http.Shutdown(ctx)
	}
	done := make(chan struct{})
	go r.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// disconnectAll closes every socket in every namespace.
func (r *Router) disconnectAll() {
	for _, ns := range r.rt.Load().Rules.Config.Namespaces {
		r.io.Of(ns, nil).DisconnectSockets(true)
	}
}

// Reload swaps in a new rule set. Events already being handled finish on
// the old one; live connections are untouched. Settings that only a restart
// can change are kept, with a warning.
func (r *Router) Reload(rs *rules.Ruleset, hash string) error {
	r.reload.Lock()
	defer r.reload.Unlock()
	old := r.rt.Load()
	rt, err := NewRuntime(rs, hash, r.routeHandler)
	if err != nil {
		return fmt.Errorf("build runtime: %w", err)
	}
	oc, nc := old.Rules.Config, rs.Config
	if oc.Server.Listen != nc.Server.Listen {
		r.log.Warn("server.listen changed; restart to apply", zap.String("running", oc.Server.Listen), zap.String("config", nc.Server.Listen))
	}
	if oc.SocketIO.Path != nc.SocketIO.Path {
		r.log.Warn("socketio.path changed; restart to apply", zap.String("running", oc.SocketIO.Path), zap.String("config", nc.SocketIO.Path))
	}
	known := map[string]bool{}
	for _, ns := range oc.Namespaces {
		known[ns] = true
	}
	for _, ns := range nc.Namespaces {
		if !known[ns] {
			r.bindNamespace(ns)
		}
	}
	r.rt.Store(rt)
	return nil
}
