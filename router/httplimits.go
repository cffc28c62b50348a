package router

import (
	"io"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// limitBodyTime gives the client d to send req's body, counted from now
// (its headers are in). The read deadline is cleared once the body has been
// read to its end, so that net/http's background read, which watches for
// the client going away while the handler runs, cannot time out and cancel
// the request's context. A request without a body gets no deadline: the
// engine's long-polling GET in particular is held open on purpose. A
// server-wide http.Server.ReadTimeout would cut those.
func limitBodyTime(w http.ResponseWriter, req *http.Request, d time.Duration) {
	if d <= 0 || req.Body == nil || req.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return // not a net/http connection (a test recorder): nothing to bound
	}
	req.Body = &deadlineBody{ReadCloser: req.Body, rc: rc}
}

// deadlineBody clears the connection's read deadline at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

// Read reads the body, clearing the read deadline once it is all read.
func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// clientLimiter is a token bucket per client address, for the requests to
// HTTP routes (limits.http_requests_per_second and limits.http_burst).
// A bucket left alone long enough to fill up again is the same as a new
// one, so it is dropped: sweeps, at most one per sweepEvery and done by
// the requests themselves, keep the map to the addresses seen lately.
type clientLimiter struct {
	mu        sync.Mutex
	every     rate.Limit
	burst     int
	buckets   map[string]*bucket
	nextSweep time.Time
}

// bucket is one client address's token bucket.
type bucket struct {
	lim  *rate.Limiter
	last time.Time // the last request
}

// sweepEvery is the shortest time between two sweeps of idle buckets.
const sweepEvery = 10 * time.Second

func newClientLimiter() *clientLimiter {
	return &clientLimiter{buckets: map[string]*bucket{}}
}

// reserve takes a token from addr's bucket for a request at now, under a
// rate of perSecond (0: no limit) and a bucket of burst (at least 1). It
// returns 0 when the request may go, or how long the client should wait.
// Changed settings start every bucket afresh.
func (l *clientLimiter) reserve(addr string, perSecond float64, burst int, now time.Time) time.Duration {
	if perSecond <= 0 {
		return 0
	}
	burst = max(burst, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if rate.Limit(perSecond) != l.every || burst != l.burst {
		l.every, l.burst = rate.Limit(perSecond), burst
		clear(l.buckets)
	}
	if !now.Before(l.nextSweep) {
		l.sweep(now)
	}
	b, ok := l.buckets[addr]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[addr] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // refused requests do not use up tokens
		return d
	}
	return 0
}

// sweep drops the buckets that have been idle long enough to be full again.
func (l *clientLimiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.every) * float64(time.Second))
	for addr, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, addr)
		}
	}
	l.nextSweep = now.Add(max(full, sweepEvery))
}

// size returns the number of buckets held.
func (l *clientLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// rateKey is the key of a client address in clientLimiter: the address
// itself for IPv4, its /64 network for IPv6, since one IPv6 client usually
// holds a whole /64 and could otherwise change address at every request.
func rateKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() {
		return addr
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}

// overRate applies limits.http_requests_per_second to a route request: a
// client address over its rate is answered 429 with Retry-After, in whole
// seconds, and overRate reports true.
func (r *Router) overRate(rt *Runtime, w http.ResponseWriter, req *http.Request) bool {
	lc := rt.Rules.Config.Limits
	if lc.HTTPRequestsPerSecond <= 0 {
		return false
	}
	addr := rt.clientAddr(req.RemoteAddr, req.Header)
	wait := r.httpRate.reserve(rateKey(addr), lc.HTTPRequestsPerSecond, lc.HTTPBurst, time.Now())
	if wait == 0 {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	r.limited.hit("http_rate", "HTTP request over the rate refused", zap.String("address", addr),
		zap.String("method", req.Method), zap.String("path", req.URL.Path))
	_ = writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "too many requests", "retry_after": secs},
		map[string]string{"Retry-After": strconv.Itoa(secs)})
	return true
}
