package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// How the monitor checks Redis: every checkInterval while it answers, and
// with a backoff from minBackoff to maxBackoff while it does not.
const (
	checkInterval = time.Second
	checkTimeout  = 500 * time.Millisecond
	minBackoff    = 100 * time.Millisecond
	maxBackoff    = 5 * time.Second
)

// health is what this node knows of Redis. up starts false: a node counts
// as degraded until Redis first answers.
type health struct {
	up   atomic.Bool
	kick chan struct{} // a failure seen on the event path wakes the monitor

	mu        sync.Mutex
	downSince time.Time
	lastError string
}

func (h *health) init() { h.kick = make(chan struct{}, 1) }

// failed records a Redis error seen by op. The first one of an outage
// marks Redis down, logs once, and wakes the monitor to retry with backoff;
// the rest of the outage is counted, not logged.
func (c *Cluster) failed(op string, err error) {
	c.metrics.errors.Inc()
	if !c.health.up.CompareAndSwap(true, false) {
		return
	}
	c.health.mu.Lock()
	c.health.downSince, c.health.lastError = time.Now(), err.Error()
	c.health.mu.Unlock()
	c.metrics.up.Set(0)
	c.metrics.outages.Inc()
	c.log.Warn("cluster: Redis is unreachable; serving local clients only until it is back",
		zap.String("op", op), zap.String("error", err.Error()))
	select {
	case c.health.kick <- struct{}{}:
	default:
	}
}

// recovered records that Redis answered again.
func (c *Cluster) recovered(first bool) {
	if !c.health.up.CompareAndSwap(false, true) {
		return
	}
	c.metrics.up.Set(1)
	c.health.mu.Lock()
	since := c.health.downSince
	c.health.mu.Unlock()
	if first {
		c.log.Info("cluster: Redis is reachable; broadcasts cross nodes")
		return
	}
	c.log.Info("cluster: Redis is back; broadcasts cross nodes again", zap.Duration("outage", time.Since(since).Round(time.Millisecond)))
}

// monitor pings Redis until ctx ends, keeping health up to date.
func (c *Cluster) monitor(ctx context.Context) {
	defer close(c.done)
	backoff := minBackoff
	first := true
	for {
		pctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := c.write.Ping(pctx).Err()
		cancel()
		if ctx.Err() != nil {
			return
		}
		wait := checkInterval
		if err == nil {
			c.recovered(first)
			first = false
			backoff = minBackoff
		} else {
			if first { // down at start: say so once
				first = false
				c.health.up.Store(true)
			}
			c.failed("ping", err)
			wait, backoff = backoff, min(backoff*2, maxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.health.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// metrics are the cluster's Prometheus metrics.
type metrics struct {
	up              prometheus.Gauge
	outages         prometheus.Counter
	errors          prometheus.Counter
	published       prometheus.Counter
	unpublished     prometheus.Counter
	requestFailures prometheus.Counter
	queueFull       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, nodeID string) *metrics {
	labels := prometheus.Labels{"node": nodeID}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels})
	}
	m := &metrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "eventrouter_cluster_redis_up", ConstLabels: labels,
			Help: "1 while this node reaches the cluster's Redis, 0 during an outage (broadcasts then reach local clients only)."}),
		outages:   counter("eventrouter_cluster_outages_total", "Redis outages this node went through."),
		errors:    counter("eventrouter_cluster_redis_errors_total", "Redis commands that failed."),
		published: counter("eventrouter_cluster_published_total", "Broadcasts published to the other nodes."),
		unpublished: counter("eventrouter_cluster_unpublished_total",
			"Broadcasts, joins, leaves and disconnects done on this node only because Redis was unreachable: the other nodes never saw them."),
		queueFull: counter("eventrouter_cluster_queue_full_total",
			"Messages for the other nodes dropped because 16384 were already waiting for Redis (a Redis too slow for the broadcast rate); each is also counted as unpublished."),
		requestFailures: counter("eventrouter_cluster_request_failures_total",
			"room_size() and socket_rooms() reads that the other nodes did not answer in cluster.request_timeout, or made while Redis was down."),
	}
	if reg != nil {
		reg.MustRegister(m.up, m.outages, m.errors, m.published, m.unpublished, m.requestFailures, m.queueFull)
	}
	return m
}

// RouteRedisLogs sends go-redis's own log lines to log, at debug level.
// go-redis logs every failed dial of its connection pools, many lines a
// second during an outage, which the monitor already reports once.
// go-redis keeps its logger process-wide, so the daemon's main calls this
// once, before New.
func RouteRedisLogs(log *zap.Logger) { goredis.SetLogger(redisLogger{log.Named("redis")}) }

// redisLogger is go-redis's Logging on zap.
type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	if ce := l.log.Check(zap.DebugLevel, "go-redis"); ce != nil {
		ce.Write(zap.String("message", fmt.Sprintf(format, v...)))
	}
}
