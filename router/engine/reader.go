package engine

import (
	"net"
	"syscall"
)

// reader is a websocket's state on the poller, used by the poller's
// goroutine only (id is set before the connection is registered).
type reader struct {
	id uint64      // registration number in the poller, 0 when not registered
	in *unfinished // what one read left for the next, when it left anything
}

// unfinished is what a read leaves for the next: allocated only then, so
// an idle connection does not carry it.
type unfinished struct {
	rest []byte  // the start of a frame not read whole yet, with room for all of it
	part partial // a fragmented message being assembled
}

// startReading reads c's websocket (c.nc, c.raw), from the server's
// poller when it can (no goroutine while idle), else from a goroutine of
// its own.
// initial is what the client sent right behind the handshake; it is
// handled first, on the caller's goroutine.
func (c *Conn) startReading(initial []byte) {
	p := c.srv.poller
	if p == nil || c.raw == nil {
		go c.readLoop(initial)
		return
	}
	if len(initial) > 0 && c.consume(initial) {
		return
	}
	if !p.watch(c, c.raw) {
		go c.readerEnded(reasonTransportClose, nil, 0) // closed meanwhile
	}
}

// readReady reads what arrived for c and handles its frames; the poller
// calls it when c is readable. It reads at most one pooled buffer, or,
// while a frame larger than that arrives, into the frame's own buffer.
func (c *Conn) readReady() {
	var rest []byte
	if c.rd.in != nil {
		rest = c.rd.in.rest
	}
	buf := rest
	if buf == nil {
		buf = c.srv.getBuf()
	}
	n, eof := readNow(c.raw, buf[len(buf):cap(buf)])
	if eof || n == 0 {
		if rest == nil {
			c.srv.putBuf(buf)
		}
		if eof {
			c.stopReading(reasonTransportClose, nil, 0)
		}
		return // n == 0: woken for nothing
	}
	buf = buf[:len(buf)+n]
	c.consume(buf)
	if rest == nil {
		c.srv.putBuf(buf)
	}
}

// consume handles the complete frames in buf and keeps what is left, an
// incomplete frame (in a buffer of its own sized for the whole frame) or
// a fragmented message, in c.rd.in. It reports whether the connection
// ended.
//
//go:noinline
func (c *Conn) consume(buf []byte) (ended bool) {
	var part partial
	if c.rd.in != nil {
		part = c.rd.in.part
	}
	var rest []byte
	off := 0
	for off < len(buf) {
		f, need, ferr := parseFrame(buf[off:], c.srv.opts.MaxPayload)
		if ferr != nil {
			c.stopReading(reasonTransportError, ferr.err, ferr.code)
			return true
		}
		if need > 0 {
			rest = make([]byte, len(buf)-off, max(need, 2*(len(buf)-off)))
			copy(rest, buf[off:])
			break
		}
		off += f.size
		if e := c.frame(f, &part); e != nil {
			c.stopReading(e.reason, e.err, e.code)
			return true
		}
	}
	if rest == nil && part.op == 0 {
		c.rd.in = nil
	} else {
		c.rd.in = &unfinished{rest: rest, part: part}
	}
	return false
}

// stopReading takes c off the poller and ends it (on a goroutine: the
// close handlers run the disconnect rules, and the poller must not wait).
func (c *Conn) stopReading(reason string, err error, code int) {
	c.srv.poller.unwatch(c)
	c.rd.in = nil
	go c.readerEnded(reason, err, code)
}

// rawConn is nc's descriptor, or nil when it has none to read and write
// directly (a TLS connection).
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
