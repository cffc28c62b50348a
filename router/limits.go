package router

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"
)

// limitLog reports what a limit refused or dropped: every hit is counted
// in eventrouter_limited_total{limit}, and logged at a bounded rate, so a
// flood of refusals cannot flood the log. A line that follows suppressed
// ones says how many it stands for.
type limitLog struct {
	log   *zap.Logger
	count *prometheus.CounterVec // limit

	mu     sync.Mutex
	limits map[string]*limitState
}

// limitState is the log budget of one limit.
type limitState struct {
	lim        *rate.Limiter
	suppressed int
}

// limitLogEvery and limitLogBurst bound the log lines per limit: a burst of
// limitLogBurst, then one every limitLogEvery.
const (
	limitLogEvery = time.Second
	limitLogBurst = 5
)

func newLimitLog(log *zap.Logger, reg prometheus.Registerer) *limitLog {
	l := &limitLog{
		log: log,
		count: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "eventrouter", Name: "limited_total",
			Help: "Requests, connections and events refused or dropped by a limit, by limit."}, []string{"limit"}),
		limits: map[string]*limitState{},
	}
	reg.MustRegister(l.count)
	return l
}

// hit counts one refusal by limit and logs it at info, unless the limit
// has used its log budget.
func (l *limitLog) hit(limit, msg string, fields ...zap.Field) {
	l.hitAt(zapcore.InfoLevel, limit, msg, fields...)
}

// hitAt is hit with a log level, for limits that need the operator's
// attention (the process's own, such as open files).
func (l *limitLog) hitAt(level zapcore.Level, limit, msg string, fields ...zap.Field) {
	l.count.WithLabelValues(limit).Inc()
	l.mu.Lock()
	st, ok := l.limits[limit]
	if !ok {
		st = &limitState{lim: rate.NewLimiter(rate.Every(limitLogEvery), limitLogBurst)}
		l.limits[limit] = st
	}
	if !st.lim.Allow() {
		st.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.suppressed = 0
	l.mu.Unlock()
	fields = append(fields, zap.String("limit", limit))
	if suppressed > 0 {
		fields = append(fields, zap.Int("suppressed", suppressed))
	}
	l.log.Log(level, msg, fields...)
}

// dropped counts a client that a limit disconnected and always logs it,
// naming the limit: each client is dropped once, so these lines are
// bounded by the clients, and an operator can find every one.
func (l *limitLog) dropped(limit, msg string, fields ...zap.Field) {
	l.count.WithLabelValues(limit).Inc()
	l.log.Info(msg, append(fields, zap.String("limit", limit))...)
}
