package router

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/rs/cors"
)

// Runtime is everything that a reload replaces, built completely before it
// is swapped in: the compiled rules, the HTTP routes and the CORS policy.
// A Runtime is immutable once built.
type Runtime struct {
	// Rules is the compiled rule set.
	Rules *rules.Ruleset
	// Hash identifies the config the runtime was built from.
	Hash string

	routes *http.ServeMux
	cors   *cors.Cors
}

// NewRuntime builds a runtime for rs. hash identifies the config version.
func NewRuntime(rs *rules.Ruleset, hash string, h routeHandlerFactory) (*Runtime, error) {
	rt := &Runtime{Rules: rs, Hash: hash, routes: http.NewServeMux()}
	c := rs.Config.Server.CORS
	rt.cors = cors.New(cors.Options{
		AllowedOrigins:   c.Origins,
		AllowedMethods:   c.Methods,
		AllowedHeaders:   corsHeaders(c.Headers),
		AllowCredentials: c.Credentials,
		MaxAge:           600,
	})
	for _, pattern := range rs.Routes {
		if err := handle(rt.routes, pattern, h(rt, pattern)); err != nil {
			return nil, err
		}
	}
	return rt, nil
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

// originAllowed applies the runtime's CORS origin policy to one origin.
func (rt *Runtime) originAllowed(origin string) bool {
	return rt.cors.OriginAllowed(&http.Request{Header: http.Header{"Origin": {origin}}})
}
