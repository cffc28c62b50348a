package router

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Label values that stand for many names, so that clients cannot grow the
// number of series: an event that no rule matched counts as unrouted, one
// matched only by a catch-all ("on: *") rule as wildcard, and an HTTP
// request outside every route (404, 405) as unmatched.
const (
	labelUnrouted  = "_unrouted"
	labelWildcard  = "_wildcard"
	labelUnmatched = "_unmatched"
	labelPreflight = "_preflight"
)

// metrics are the router's Prometheus collectors, registered in a registry
// that the Router owns (never the global default one), so several routers
// can live in one process, as tests do.
type metrics struct {
	reg *prometheus.Registry

	connections  prometheus.Gauge
	connects     prometheus.Counter
	disconnects  prometheus.Counter
	rejected     *prometheus.CounterVec // rule
	events       *prometheus.CounterVec // namespace, event
	ruleMatches  *prometheus.CounterVec // rule
	ruleErrors   *prometheus.CounterVec // rule
	actions      *prometheus.CounterVec // kind
	actionErrors *prometheus.CounterVec // kind
	deliveries   prometheus.Counter
	httpRequests *prometheus.CounterVec // route, status
	sourceMsgs   *prometheus.CounterVec // trigger

	reloadOK        prometheus.Gauge
	reloadOKTime    prometheus.Gauge
	reloadFailures  prometheus.Counter
	reloads         prometheus.Counter
	configHash      *prometheus.GaugeVec // hash
	configRules     prometheus.Gauge
	hashMu          sync.Mutex // serialises configHash updates
	eventNamesCache atomic.Pointer[eventNames]
}

// eventNames is the set of event names that rules of one runtime name
// explicitly, by namespace.
type eventNames struct {
	rt    *Runtime
	names map[[2]string]bool // {namespace, event}
}

func newMetrics() *metrics {
	const ns = "eventrouter"
	m := &metrics{reg: prometheus.NewRegistry()}
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "connections",
		Help: "Socket.IO sockets connected now, over every namespace."})
	m.connects = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "connects_total",
		Help: "Socket.IO sockets that completed a namespace connect."})
	m.disconnects = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "disconnects_total",
		Help: "Socket.IO sockets that disconnected, each once, after it counted as connected."})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "connections_rejected_total",
		Help: "Namespace connections refused, by the rule that refused them (by reject or by failing); rule is empty for refusals while shutting down."}, []string{"rule"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_total",
		Help: "Socket.IO events received. event is the name when a rule names it, _wildcard when only a catch-all rule matched, _unrouted when no rule matched."},
		[]string{"namespace", "event"})
	m.ruleMatches = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rule_matches_total",
		Help: "Events for which a rule's trigger matched and its when held."}, []string{"rule"})
	m.ruleErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rule_errors_total",
		Help: "Rule evaluations that failed at run time."}, []string{"rule"})
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "actions_total",
		Help: "Actions executed, by kind (failed ones included)."}, []string{"kind"})
	m.actionErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "action_errors_total",
		Help: "Actions whose execution failed, by kind."}, []string{"kind"})
	m.deliveries = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "broadcast_deliveries_total",
		Help: "Sockets addressed by broadcasts: the local sockets of the namespace, or of the target rooms, counted when the broadcast is sent."})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
		Help: "HTTP requests to rule routes and static files, by route pattern and status (static:PATH: a server.static mount; _unmatched: no route and no file; _preflight: CORS preflight). The Socket.IO path is not counted."},
		[]string{"route", "status"})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_last_reload_successful",
		Help: "Whether the last config reload attempt succeeded (1) or failed (0)."})
	m.reloadOKTime = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful config load (start-up or reload)."})
	m.reloadFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "config_reload_failures_total",
		Help: "Config reloads that failed; the running config was kept."})
	m.reloads = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "config_reloads_total",
		Help: "Config reload attempts, successful or not, unchanged ones included."})
	m.configHash = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "config_hash",
		Help: "Hash of the running config, as the hash label; the value is always 1."}, []string{"hash"})
	m.sourceMsgs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "source_messages_total",
		Help: "Messages source plugins delivered to the rules. trigger is the on: they were delivered for (nats:orders.>)."},
		[]string{"trigger"})
	m.configRules = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_rules",
		Help: "Rules in the running config."})

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.connections, m.connects, m.disconnects, m.rejected, m.events, m.ruleMatches, m.ruleErrors,
		m.actions, m.actionErrors, m.deliveries, m.httpRequests, m.sourceMsgs,
		m.reloadOK, m.reloadOKTime, m.reloadFailures, m.reloads, m.configHash, m.configRules,
	)
	return m
}

// Registry is the Prometheus registry holding the router's metrics; the
// admin listener serves it on /metrics.
func (r *Router) Registry() *prometheus.Registry { return r.metrics.reg }

// configLoaded records rt as the running config after a successful start or
// reload.
func (m *metrics) configLoaded(rt *Runtime) {
	m.reloadOK.Set(1)
	m.reloadOKTime.Set(float64(time.Now().UnixNano()) / 1e9)
	m.configRules.Set(float64(len(rt.Rules.Rules)))
	m.hashMu.Lock()
	m.configHash.Reset()
	m.configHash.WithLabelValues(rt.Hash).Set(1)
	m.hashMu.Unlock()
}

// reloadFailed records a reload that kept the running config.
func (m *metrics) reloadFailed() {
	m.reloadOK.Set(0)
	m.reloadFailures.Inc()
}

// forgetRules drops the series of rules that a reload removed.
func (m *metrics) forgetRules(names []string) {
	for _, n := range names {
		m.ruleMatches.DeleteLabelValues(n)
		m.ruleErrors.DeleteLabelValues(n)
	}
}

// connected and disconnected track sockets that completed their connect.
// The socket lifecycle (lifecycle.go) calls each once per socket, so the
// gauge returns to 0 when every client is gone, whatever the library
// reports.
func (m *metrics) connected()    { m.connections.Inc(); m.connects.Inc() }
func (m *metrics) disconnected() { m.connections.Dec(); m.disconnects.Inc() }

// result counts the rules an evaluation matched and the ones that failed.
func (m *metrics) result(res rules.Result) {
	for _, name := range res.Matched {
		m.ruleMatches.WithLabelValues(name).Inc()
	}
	for _, e := range res.Errors {
		m.ruleErrors.WithLabelValues(e.Rule).Inc()
	}
}

// event counts one client event under a bounded label (see labelUnrouted).
func (m *metrics) event(rt *Runtime, namespace, name string, res rules.Result) {
	label := labelUnrouted
	if len(res.Matched) > 0 || len(res.Errors) > 0 {
		label = labelWildcard
		if m.namesOf(rt)[[2]string{namespace, name}] {
			label = name
		}
	}
	m.events.WithLabelValues(namespace, label).Inc()
}

// namesOf returns the explicit event names of rt's rules, cached for the
// runtime in use.
func (m *metrics) namesOf(rt *Runtime) map[[2]string]bool {
	if c := m.eventNamesCache.Load(); c != nil && c.rt == rt {
		return c.names
	}
	names := map[[2]string]bool{}
	for _, rule := range rt.Rules.Rules {
		if rule.Kind == rules.TriggerEvent && rule.On != "*" {
			ns := rule.Namespace
			if ns == "" {
				ns = "/"
			}
			names[[2]string{ns, rule.On}] = true
		}
	}
	m.eventNamesCache.Store(&eventNames{rt: rt, names: names})
	return names
}

// action counts one executed action.
func (m *metrics) action(kind string, err error) {
	m.actions.WithLabelValues(kind).Inc()
	if err != nil {
		m.actionErrors.WithLabelValues(kind).Inc()
	}
}

// broadcast counts the sockets a broadcast addresses in nsp: every socket
// of the namespace, or those in rooms, less the sender when exceptSender.
// It counts local sockets only (the in-memory adapter is the only one), at
// the time the broadcast is sent.
func (m *metrics) broadcast(nsp socket.Namespace, rooms []string, exceptSender bool, sender socket.SocketId) {
	var except socket.SocketId
	if exceptSender {
		except = sender
	}
	var n int
	if len(rooms) == 0 {
		n = nsp.Sockets().Len()
		if except != "" {
			if _, ok := nsp.Sockets().Load(except); ok {
				n--
			}
		}
	} else {
		ids := nsp.Adapter().Sockets(types.NewSet(toRooms(rooms)...))
		n = ids.Len()
		if except != "" && ids.Has(except) {
			n--
		}
	}
	if n > 0 {
		m.deliveries.Add(float64(n))
	}
}

// serveHTTP serves a non-Socket.IO request with h and counts it by route
// pattern and status.
func (m *metrics) serveHTTP(h http.Handler, w http.ResponseWriter, req *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	h.ServeHTTP(sw, req)
	route := req.Pattern // set by the ServeMux when a route matched, by withStatic for a file
	if route == "" {
		route = labelUnmatched
		if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
			route = labelPreflight
		}
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
