package router

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// fdHint is the log message of a listener that ran out of file descriptors.
const fdHint = "out of file descriptors: new connections wait until some close; raise the limit " +
	"(LimitNOFILE= in the systemd unit, ulimit -n in a shell)"

// Accept back-off while out of file descriptors, as net/http's own.
const (
	fdBackoffMin = 5 * time.Millisecond
	fdBackoffMax = time.Second
)

// adminReserveFDs is how many descriptors the admin listener keeps in
// reserve, so that /healthz, /readyz and /metrics answer while the public
// listener has used up every other one: the connections an operator and a
// scraper make at once.
const adminReserveFDs = 4

// fdLimitedListener handles running out of file descriptors (EMFILE,
// ENFILE) on Accept itself, rather than letting net/http log it at info
// and retry: it logs an error with what to do (at a bounded rate, counted
// in eventrouter_limited_total{limit="open_files"}) and retries with a
// back-off. With a reserve, Accept frees one reserved descriptor and
// retries at once, so that its connection gets served; the connection
// returns the descriptor to the reserve when it closes.
type fdLimitedListener struct {
	net.Listener
	name    string
	limited *limitLog
	reserve *fdReserve // nil: no reserve

	closeOnce sync.Once
	done      chan struct{} // closed by Close, ends a back-off
}

// fdListener wraps ln, named name in logs, with an optional reserve.
func (r *Router) fdListener(ln net.Listener, name string, reserve *fdReserve) net.Listener {
	return &fdLimitedListener{Listener: ln, name: name, limited: r.limited, reserve: reserve, done: make(chan struct{})}
}

// Accept waits for the next connection, riding out a shortage of file
// descriptors.
func (l *fdLimitedListener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if backoff > 0 {
				l.limited.log.Info("file descriptors available again: accepting connections", zap.String("listener", l.name))
			}
			if l.reserve != nil {
				return &reserveConn{Conn: c, reserve: l.reserve}, nil
			}
			return c, nil
		}
		if !outOfFDs(err) {
			return nil, err
		}
		l.limited.hitAt(zapcore.ErrorLevel, "open_files", fdHint, zap.String("listener", l.name), zap.Error(err))
		if l.reserve != nil && l.reserve.release() {
			continue
		}
		backoff = min(max(2*backoff, fdBackoffMin), fdBackoffMax)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

// Close closes the listener and ends a back-off in Accept.
func (l *fdLimitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// outOfFDs reports whether err says the process or the system has no file
// descriptor left.
func outOfFDs(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// fdReserve holds open descriptors (of the null device) to give up when
// the process has no other one left.
type fdReserve struct {
	mu    sync.Mutex
	size  int
	files []*os.File
}

// newFDReserve opens size descriptors, as many as it can.
func newFDReserve(size int) *fdReserve {
	res := &fdReserve{size: size}
	res.refill()
	return res
}

// release closes one reserved descriptor; false when none is left.
func (res *fdReserve) release() bool {
	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.files) == 0 {
		return false
	}
	f := res.files[len(res.files)-1]
	res.files = res.files[:len(res.files)-1]
	_ = f.Close()
	return true
}

// refill reopens reserved descriptors up to size, as many as it can.
func (res *fdReserve) refill() {
	res.mu.Lock()
	defer res.mu.Unlock()
	for len(res.files) < res.size {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return
		}
		res.files = append(res.files, f)
	}
}

// close closes every reserved descriptor and stops refills.
func (res *fdReserve) close() {
	res.mu.Lock()
	defer res.mu.Unlock()
	res.size = 0
	for _, f := range res.files {
		_ = f.Close()
	}
	res.files = nil
}

// reserveConn gives its descriptor back to the reserve when it closes.
type reserveConn struct {
	net.Conn
	reserve *fdReserve
	once    sync.Once
}

// Close closes the connection and refills the reserve.
func (c *reserveConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.reserve.refill)
	return err
}
