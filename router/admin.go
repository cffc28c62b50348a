package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// AdminHandler serves the admin endpoints. It must only be exposed on the
// admin listener (loopback by default), never on the public port:
//
//	GET  /metrics    Prometheus metrics of this router and the Go runtime
//	GET  /healthz    200 while the process runs
//	GET  /readyz     200 while serving with rules loaded; 503 before the public
//	                 listener serves and while draining
//	POST /-/reload   reload the config (when Options.Reload is set); 200 on
//	                 success, 500 with the reason otherwise
func (r *Router) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.metrics.reg, promhttp.HandlerOpts{
		Registry:          r.metrics.reg,
		ErrorLog:          zap.NewStdLog(r.log.Named("metrics")),
		EnableOpenMetrics: true,
	}))
	// Profiling, for the operator on the loopback admin port only.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := r.notReady(); why != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %s\n", why)
			return
		}
		if r.cluster != nil {
			if d := r.cluster.Degraded(); d != "" {
				_, _ = fmt.Fprintf(w, "ready, %s\n", d)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.reloadFn == nil {
			http.Error(w, "reload is not available", http.StatusNotImplemented)
			return
		}
		if err := r.reloadFn(req.Context()); err != nil {
			http.Error(w, fmt.Sprintf("reload failed: %v", err), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("reloaded\n"))
	})
	return mux
}

// Ready reports whether the router serves with rules loaded and is not
// draining; /readyz answers 200 exactly then.
func (r *Router) Ready() bool { return r.notReady() == "" }

func (r *Router) notReady() string {
	switch {
	case r.closing.Load():
		return "draining"
	case r.rt.Load() == nil:
		return "no rules loaded"
	case !r.serving.Load():
		return "not listening yet"
	case r.cluster != nil && r.cluster.NotReady() != "":
		return r.cluster.NotReady()
	}
	return ""
}

// ServeAdmin serves AdminHandler on ln until Shutdown, which closes it
// last, so /readyz reports the drain. It returns nil after Shutdown. The
// admin listener keeps a few file descriptors in reserve, so that health
// checks and scrapes are answered even when clients of the public listener
// hold every other one.
func (r *Router) ServeAdmin(ln net.Listener) error {
	reserve := newFDReserve(adminReserveFDs)
	defer reserve.close()
	srv := &http.Server{
		Handler:           r.AdminHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          zap.NewStdLog(r.log.Named("admin")),
	}
	ln = r.fdListener(ln, "admin", reserve)
	r.srvMu.Lock()
	if r.adminDone {
		r.srvMu.Unlock()
		return nil
	}
	r.admin = srv
	r.srvMu.Unlock()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// shutdownAdmin stops the admin listener, waiting for scrapes in flight
// until ctx ends.
func (r *Router) shutdownAdmin(ctx context.Context) error {
	r.srvMu.Lock()
	r.adminDone = true
	srv := r.admin
	r.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	return nil
}
