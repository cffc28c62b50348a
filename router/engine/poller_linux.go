//go:build linux

package engine

import (
	"fmt"
	"os"
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
	file *os.File        // epfd, as Go's netpoller sees it
	raw  syscall.RawConn // file's descriptor, for waiting on it

	mu    sync.Mutex
	conns map[uint64]*Conn
	next  uint64

	done chan struct{}
}

// newPoller starts a poller; close stops it.
//
// The poller's goroutine never blocks a thread in epoll_wait: that would
// hold the scheduler's P until sysmon takes it back (up to 10 ms when the
// process was idle, and with GOMAXPROCS 1 the whole process stalls). An
// epoll descriptor is itself pollable, readable while it has events, so it
// is registered with Go's netpoller like a socket, and the goroutine waits
// for it the way a net.Conn read waits: epoll_wait with a zero timeout,
// and when nothing is ready, parked until the descriptor becomes readable.
func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("engine: epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("engine: epoll descriptor: %w", err)
	}
	file := os.NewFile(uintptr(epfd), "epoll") // non-blocking: Go's netpoller takes it
	raw, err := file.SyscallConn()
	if err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("engine: epoll descriptor: %w", err)
	}
	p := &poller{epfd: epfd, file: file, raw: raw, conns: map[uint64]*Conn{}, next: 1, done: make(chan struct{})}
	go p.run()
	return p, nil
}

// watch registers c, whose websocket's descriptor rc is, for reading. It
// reports false when that fails (the connection closed meanwhile).
func (p *poller) watch(c *Conn, rc syscall.RawConn) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	id := p.next
	p.next++
	p.conns[id] = c
	c.rd.id = id // before the poller can see c: it reads it after p.mu
	p.mu.Unlock()
	var ctlErr error
	err := rc.Control(func(fd uintptr) {
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
	_ = c.raw.Control(func(fd uintptr) {
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
		var n int
		var werr error
		err := p.raw.Read(func(uintptr) bool {
			n, werr = unix.EpollWait(p.epfd, events, 0)
			return n > 0 || (werr != nil && werr != unix.EINTR) //nolint:errorlint // raw errno
		})
		if err != nil || werr != nil { // closed
			return
		}
		ready = ready[:0]
		p.mu.Lock()
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
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
	_ = p.file.Close() // wakes run, whose wait then fails
	<-p.done
}

// readNow reads what has arrived into buf without blocking: n is 0 when
// nothing has (a spurious wake-up), eof is set when the client closed or
// the connection failed.
func readNow(rc syscall.RawConn, buf []byte) (n int, eof bool) {
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
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

// writeNow writes what the socket takes of b at once, without blocking:
// n < len(b) with a nil error when its buffer is full.
func writeNow(rc syscall.RawConn, b []byte) (n int, err error) {
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		n, werr = unix.Write(int(fd), b)
		return true // never park: what is left is queued for the writer
	}); err != nil {
		return 0, err
	}
	switch {
	case werr == unix.EAGAIN || werr == unix.EINTR: //nolint:errorlint // raw errno
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}
