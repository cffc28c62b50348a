//go:build linux

package engine

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller reads every websocket of a server from one goroutine, woken by
// epoll when a connection has bytes to read: an idle connection costs no
// goroutine and no stack, only its entry in the poller's table.
//
// It only reads. The connection stays a net.Conn registered with Go's own
// poller, which the writer goroutine keeps using (writev, write
// deadlines, blocking on a full socket), and which closes the descriptor.
// An epoll registration goes away by itself when its descriptor closes;
// the poller removes one explicitly only through syscall.RawConn.Control,
// which holds the descriptor open, so a descriptor number that a new
// connection reuses is never removed by mistake. Events carry the
// connection's registration number, not its descriptor, for the same
// reason.
//
// Reads are level-triggered and take at most one pooled buffer per event,
// so one busy connection cannot starve the others. Frames are handled on
// the poller goroutine, which must never block: messages go to the
// connection's handler goroutine (deliver), writes to its writer, and an
// ending connection runs its close handlers (the disconnect rules) on a
// goroutine of its own.
type poller struct {
	epfd int
	wake int // eventfd that ends run

	mu    sync.Mutex
	conns map[uint64]*Conn
	next  uint64

	done chan struct{}
}

// newPoller starts a poller; close stops it.
func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("engine: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("engine: eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("engine: epoll_ctl eventfd: %w", err)
	}
	p := &poller{epfd: epfd, wake: wake, conns: map[uint64]*Conn{}, next: 1, done: make(chan struct{})}
	go p.run()
	return p, nil
}

// watch registers c, whose connection nc is, for reading. It reports
// false when nc cannot be polled (TLS, or not a socket), and c must then
// be read by a goroutine of its own.
func (p *poller) watch(c *Conn, nc net.Conn) bool {
	if p == nil {
		return false
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	p.mu.Lock()
	id := p.next
	p.next++
	p.conns[id] = c
	c.rd.rc, c.rd.id = rc, id // before the poller can see c: it reads them after p.mu
	p.mu.Unlock()
	var ctlErr error
	err = rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(uint32(id)), Pad: int32(id >> 32)} //nolint:gosec // the event's 64-bit data, in two halves
		ctlErr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		p.forget(c)
		return false
	}
	return true
}

// unwatch stops reading c. It is safe to call more than once, and after
// the connection closed (its registration is gone with the descriptor).
func (p *poller) unwatch(c *Conn) {
	if p == nil || !p.forget(c) {
		return
	}
	_ = c.rd.rc.Control(func(fd uintptr) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// forget drops c's registration number; it reports whether c had one.
func (p *poller) forget(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.rd.id == 0 || p.conns[c.rd.id] != c {
		return false
	}
	delete(p.conns, c.rd.id)
	return true
}

// run waits for readable connections and reads them until close.
func (p *poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	ready := make([]*Conn, 0, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		ready = ready[:0]
		p.mu.Lock()
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 { // the eventfd: close was called
				p.mu.Unlock()
				return
			}
			if c := p.conns[id]; c != nil {
				ready = append(ready, c)
			}
		}
		p.mu.Unlock()
		for _, c := range ready {
			c.readReady()
		}
		clear(ready)
	}
}

// close stops the poller. Connections still registered are not closed.
func (p *poller) close() {
	if p == nil {
		return
	}
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	_ = unix.Close(p.epfd)
	_ = unix.Close(p.wake)
}

// readOnce reads what has arrived into buf without blocking: n is 0 with
// a nil error when nothing has (a spurious wake-up), eof is set when the
// client closed or the connection failed.
func (r *reader) readOnce(buf []byte) (n int, eof bool) {
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), buf)
		return true // never park: the poller waits, not Go's netpoller
	})
	switch {
	case err != nil:
		return 0, true
	case rerr == unix.EAGAIN || rerr == unix.EINTR: //nolint:errorlint // raw errno
		return 0, false
	case rerr != nil || n == 0:
		return 0, true
	}
	return n, false
}
