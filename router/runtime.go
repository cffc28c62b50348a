package router

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/rs/cors"
	"go.uber.org/zap"
)

// Runtime is everything that a reload replaces, built completely before it
// is swapped in: the compiled rules, the HTTP routes and the CORS policy.
// The static file mounts are part of it, so a reload adds, removes or
// changes them. A Runtime is immutable once built.
type Runtime struct {
	// Rules is the compiled rule set.
	Rules *rules.Ruleset
	// Hash identifies the config the runtime was built from.
	Hash string

	routes   *http.ServeMux
	cors     *cors.Cors
	corsOpts cors.Options // what cors was built from, to explain a refusal
	http     http.Handler // routes, then static files, under the CORS policy
	// stopTasks cancels the rule set's background tasks (rules.Task);
	// nil until they are started.
	stopTasks context.CancelFunc
	// redactor replaces the config's secrets (rules.Config.Secrets); nil
	// when it has none.
	redactor *strings.Replacer
	trusted  []netip.Prefix // server.trusted_proxies
}

// NewRuntime builds a runtime for rs. hash identifies the config version.
func NewRuntime(rs *rules.Ruleset, hash string, h routeHandlerFactory) (*Runtime, error) {
	rt := &Runtime{Rules: rs, Hash: hash, routes: http.NewServeMux(), trusted: trustedProxies(rs.Config.Server.TrustedProxies)}
	if secrets := rs.Secrets(); len(secrets) > 0 {
		pairs := make([]string, 0, 2*len(secrets))
		for _, s := range secrets {
			pairs = append(pairs, s, Redacted)
		}
		rt.redactor = strings.NewReplacer(pairs...)
	}
	c := rs.Config.Server.CORS
	rt.corsOpts = cors.Options{
		AllowedOrigins:   c.Origins,
		AllowedMethods:   c.Methods,
		AllowedHeaders:   corsHeaders(c.Headers),
		AllowCredentials: c.Credentials,
		MaxAge:           600,
	}
	rt.cors = cors.New(rt.corsOpts)
	for _, pattern := range rs.Routes {
		if err := handle(rt.routes, pattern, h(rt, pattern)); err != nil {
			return nil, err
		}
	}
	var inner http.Handler = rt.routes
	if mounts := rs.Config.Server.Static; len(mounts) > 0 {
		inner = withStatic(rt.routes, newStaticMounts(mounts))
	}
	rt.http = rt.cors.Handler(inner)
	return rt, nil
}

// startTasks runs the rule set's background tasks, such as the JWKS
// refresher, until stop is called. Their failures are logged; each keeps
// what it had.
func (rt *Runtime) startTasks(log *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	rt.stopTasks = cancel
	for _, task := range rt.Rules.Tasks() {
		tlog := log.With(zap.String("task", task.Name), zap.String("config_hash", rt.Hash))
		go task.Run(ctx, func(err error) {
			tlog.Warn("background task failed; keeping what it had", zap.Error(err))
		})
	}
}

// stop ends the runtime's background tasks; they return soon after.
func (rt *Runtime) stop() {
	if rt.stopTasks != nil {
		rt.stopTasks()
	}
}

// Redacted replaces a secret in log lines.
const Redacted = "[redacted]"

// redact replaces every secret of the runtime's config in s with Redacted.
// Without secrets it returns s as it is, at no cost.
func (rt *Runtime) redact(s string) string {
	if rt == nil || rt.redactor == nil {
		return s
	}
	return rt.redactor.Replace(s)
}

// routeHandlerFactory makes the handler of one route pattern.
type routeHandlerFactory func(rt *Runtime, pattern string) http.Handler

// corsHeaders allows the headers a JSON client sends unless the config
// lists its own.
func corsHeaders(h []string) []string {
	if len(h) > 0 {
		return h
	}
	return []string{"Content-Type", "Authorization", "X-Requested-With"}
}

// handle registers a pattern, turning ServeMux's panic into an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("route %s: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// allowsTransport reports whether the config allows the named transport.
func (rt *Runtime) allowsTransport(name string) bool {
	return slices.Contains(rt.Rules.Config.SocketIO.Transports, name)
}

// originAllowed applies the runtime's CORS origin policy to one origin,
// for the library's engine, whose CORS option is given only the origin.
func (rt *Runtime) originAllowed(origin string) bool {
	return rt.cors.OriginAllowed(&http.Request{Header: http.Header{"Origin": {origin}}})
}

// requestOriginAllowed applies the runtime's CORS origin policy to req's
// Origin header.
func (rt *Runtime) requestOriginAllowed(req *http.Request) bool {
	return rt.cors.OriginAllowed(req)
}

// isPreflight reports whether req is a CORS preflight, as rs/cors tells
// one.
func isPreflight(req *http.Request) bool {
	return req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != ""
}

// preflightRefusal explains why the CORS policy refused a preflight: it
// replays req through a copy of the policy whose logger keeps rs/cors's own
// reason ("method 'PUT' not allowed"), and names the config key that
// would allow it. (A foreign origin never gets here: ServeHTTP refuses it
// with 403 first.) It is meant for refused preflights only, at debug level,
// so the serving path pays nothing for it.
func (rt *Runtime) preflightRefusal(req *http.Request) (reason, key string) {
	var rec corsReasons
	opts := rt.corsOpts
	opts.Logger = &rec
	cors.New(opts).Handler(http.NotFoundHandler()).ServeHTTP(discardWriter{http.Header{}}, req)
	reason = strings.TrimSpace(strings.TrimPrefix(rec.aborted, "  Preflight aborted:"))
	switch {
	case strings.HasPrefix(reason, "method"):
		key = "server.cors.methods"
	case strings.HasPrefix(reason, "headers"):
		key = "server.cors.headers"
	}
	if reason == "" {
		reason = "unknown"
	}
	return reason, key
}

// corsReasons is a rs/cors Logger that keeps the reason a preflight was
// aborted.
type corsReasons struct{ aborted string }

// Printf implements cors.Logger.
func (c *corsReasons) Printf(format string, v ...any) {
	if msg := fmt.Sprintf(format, v...); strings.HasPrefix(msg, "  Preflight aborted:") {
		c.aborted = msg
	}
}

// discardWriter is a ResponseWriter that keeps headers and drops the rest.
type discardWriter struct{ h http.Header }

// Header implements http.ResponseWriter.
func (d discardWriter) Header() http.Header { return d.h }

// Write implements http.ResponseWriter.
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// WriteHeader implements http.ResponseWriter.
func (d discardWriter) WriteHeader(int) {}
