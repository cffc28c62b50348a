package engine

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
	"weak"

	"github.com/eventrouter/eventrouter/internal/emitter"
	"github.com/eventrouter/eventrouter/router/wstransport"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	eio "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Ready states, as the Socket.IO layer reads them.
const (
	stateOpen int32 = iota
	stateClosed
)

// Websocket opcodes and close codes (RFC 6455 §5.2, §7.4.1).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	closeNormal        = 1000
	closeProtocolError = 1002
	closeInvalidData   = 1007
	closeTooBig        = 1009
)

// Close reasons, as the Socket.IO layer and the disconnect rules see them
// (the same words as the library and Node's engine.io).
const (
	reasonTransportClose = "transport close"
	reasonTransportError = "transport error"
	reasonParseError     = "parse error"
	reasonPingTimeout    = "ping timeout"
	reasonForcedClose    = "forced close"
)

// errProtocol wraps a client's breach of the websocket or Engine.IO
// protocol: the second argument of the connection's close event.
var errProtocol = errors.New("protocol error")

// Conn is one Engine.IO connection over websocket. It implements the
// library's engine.Socket, which is all the Socket.IO layer sees of it.
type Conn struct {
	emitter.Emitter
	srv   *Server
	id    string
	nc    net.Conn
	hs    handshake
	state atomic.Int32
	hb    heartbeat // guarded by srv.wheel.mu
	// onWS is set once the connection is on websocket: from the start, or
	// once a polling session completed its upgrade. It never goes back.
	onWS atomic.Bool
	poll *polling // the polling side of a session opened over polling; guarded by wmu

	reqMu sync.Mutex
	req   weak.Pointer[types.HttpContext] // the last Request(), while someone holds it

	wmu      sync.Mutex
	pending  net.Buffers // frames waiting for the writer
	writing  bool        // a writer goroutine is running
	closing  bool        // no frame is taken any more; nc closes once pending is written
	deadline int64       // the write deadline set on nc, Unix ns; the writer's own

	inMu     sync.Mutex
	inbox    []types.BufferInterface // messages waiting for the Socket.IO layer
	handling bool                    // a handler goroutine is running
	ended    *endRequest             // the reader ended; close once inbox is empty

	// raw is the websocket's descriptor, for writes that must not block
	// (enqueue); nil when it has none (TLS) or before the websocket opened.
	// Set with nc, under wmu.
	raw syscall.RawConn
	rd  reader // the poller's reading state
}

// handshake is what a connection keeps of its handshake request: what the
// Socket.IO layer and the rules read (headers, query, address, URL, TLS).
type handshake struct {
	header   string // packHeader's form: one string instead of a map and a slice per name
	host     string
	path     string
	rawQuery string
	uri      string
	remote   string
	tls      *tls.ConnectionState
}

type endRequest struct {
	reason string
	err    error
	code   int
}

var _ eio.Socket = (*Conn)(nil)

// Id is the Engine.IO session id.
func (c *Conn) Id() string { return c.id } //nolint:revive // the library's name

// Protocol is the Engine.IO protocol revision, 4.
func (c *Conn) Protocol() int { return 4 }

// RemoteAddress is the client's "host:port", as net/http saw it.
func (c *Conn) RemoteAddress() string { return c.hs.remote }

// Transport is the connection's websocket transport.
func (c *Conn) Transport() transports.Transport { return (*wsTransport)(c) }

// ReadyState is "open" or "closed".
func (c *Conn) ReadyState() string {
	if c.state.Load() == stateOpen {
		return "open"
	}
	return "closed"
}

// SetReadyState closes the connection when set to "closed"; other states
// are the engine's own business.
func (c *Conn) SetReadyState(s string) {
	if s == "closed" {
		c.end(reasonForcedClose, nil, closeNormal)
	}
}

// Upgraded is false: the connection starts on websocket.
func (c *Conn) Upgraded() bool { return false }

// Upgrading is false: the connection starts on websocket.
func (c *Conn) Upgrading() bool { return false }

// Construct does nothing: the Server builds connections.
func (c *Conn) Construct(string, eio.BaseServer, transports.Transport, *types.HttpContext, int) {}

// MaybeUpgrade does nothing: there is nothing to upgrade to.
func (c *Conn) MaybeUpgrade(transports.Transport) {}

// Request rebuilds the handshake request from what the connection keeps.
// The context is shared while a caller holds it (the Socket.IO layer
// calls Request several times while it builds its own handshake copy)
// and collected afterwards, so an idle connection does not keep it.
func (c *Conn) Request() *types.HttpContext {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	if ctx := c.req.Value(); ctx != nil {
		return ctx
	}
	r := &http.Request{
		Method: http.MethodGet, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		URL:    &url.URL{Path: c.hs.path, RawQuery: c.hs.rawQuery},
		Header: unpackHeader(c.hs.header), Host: c.hs.host, RequestURI: c.hs.uri, RemoteAddr: c.hs.remote, TLS: c.hs.tls,
	}
	ctx := types.NewHttpContext(noResponse{}, r)
	c.req = weak.Make(ctx)
	return ctx
}

// packHeader keeps h in one string: name, NUL, value, NUL, for every
// value in order. HTTP field values cannot hold a NUL (net/http refuses
// them), so the form is unambiguous.
func packHeader(h http.Header) string {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 2
		}
	}
	var b strings.Builder
	b.Grow(n)
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k)
			b.WriteByte(0)
			b.WriteString(v)
			b.WriteByte(0)
		}
	}
	return b.String()
}

// unpackHeader is the header packHeader packed; its strings share the
// packed one.
func unpackHeader(s string) http.Header {
	h := http.Header{}
	for s != "" {
		var k, v string
		k, s, _ = strings.Cut(s, "\x00")
		v, s, _ = strings.Cut(s, "\x00")
		h[k] = append(h[k], v)
	}
	return h
}

// noResponse is the ResponseWriter of a rebuilt handshake request: the
// response went out long ago.
type noResponse struct{}

func (noResponse) Header() http.Header       { return http.Header{} }
func (noResponse) Write([]byte) (int, error) { return 0, http.ErrHijacked }
func (noResponse) WriteHeader(int)           {}

// Send queues a message packet; see Write.
func (c *Conn) Send(data io.Reader, opts *packet.Options, fn eio.SendCallback) eio.Socket {
	return c.Write(data, opts, fn)
}

// Write queues a message packet: text data as "4…", binary data as a
// binary message. It never blocks; fn, when set, is called once the
// packet is queued.
func (c *Conn) Write(data io.Reader, opts *packet.Options, fn eio.SendCallback) eio.Socket {
	var p outPacket
	switch {
	case opts != nil && opts.WsPreEncodedFrame != nil:
		p = outPacket{data: opts.WsPreEncodedFrame.Bytes()} // "4…" already
	default:
		var ok bool
		if p, ok = messagePacket(data); !ok {
			return c
		}
	}
	if c.push(p) && fn != nil {
		fn(c.Transport())
	}
	return c
}

// outPacket is an Engine.IO packet for the client: a text packet ("4…",
// "2", "6"…) or the raw bytes of a binary message.
type outPacket struct {
	binary bool
	data   []byte
}

// frame is the packet as a websocket frame.
func (p outPacket) frame() []byte {
	if p.binary {
		return wstransport.Frame(opBinary, p.data)
	}
	return wstransport.Frame(opText, p.data)
}

// messagePacket is the message packet holding data.
func messagePacket(data io.Reader) (outPacket, bool) {
	switch d := data.(type) {
	case *types.StringBuffer:
		return outPacket{data: append([]byte{'4'}, d.Bytes()...)}, true
	case types.BufferInterface:
		return outPacket{binary: true, data: d.Bytes()}, true
	case nil:
		return outPacket{data: []byte{'4'}}, true
	}
	b, err := io.ReadAll(data)
	if err != nil {
		return outPacket{}, false
	}
	return outPacket{binary: true, data: b}, true
}

// push queues p on the connection's current transport.
func (c *Conn) push(p outPacket) bool {
	if !c.onWS.Load() && c.pollPush(p) {
		return true
	}
	return c.enqueue(p.frame(), true)
}

// Close closes the connection after the packets already queued: a close
// frame follows them, then the TCP connection closes. The close event
// fires at once with "forced close".
func (c *Conn) Close(bool) { c.end(reasonForcedClose, nil, closeNormal) }

// DeliverFrame queues one complete websocket frame (broadcasts frame
// once for every socket; see router/fanout). A connection still on
// polling refuses it; the broadcast then takes the engine's path (Write).
func (c *Conn) DeliverFrame(frame []byte) bool {
	return c.state.Load() == stateOpen && c.onWS.Load() && c.enqueue(frame, false)
}

// end closes the connection once, with reason: with a close frame of code
// after what is queued when code is set, at once otherwise. The close
// event carries reason and err.
func (c *Conn) end(reason string, err error, code int) {
	if !c.state.CompareAndSwap(stateOpen, stateClosed) {
		return
	}
	switch {
	case !c.onWS.Load() && c.pollClose(reason):
	case code > 0:
		c.flushAndClose(code)
	default:
		c.abort()
	}
	c.srv.poller.unwatch(c)
	c.srv.wheel.remove(c)
	c.srv.forget(c)
	c.Emit("close", reason, err)
	c.Clear()
}

// enqueue adds a frame for the writer, starting one if none runs.
//
// With now set (the connection's own packets: the CONNECT ack, an emit to
// this socket, an ack, a ping) a frame for an idle connection (no writer
// running, nothing queued) is written at once on the caller's goroutine,
// without blocking: only what the socket does not take then is queued. So
// an idle socket's packets go out in separate writes, as Node writes them,
// and no writer goroutine is started for them. Broadcast frames
// (DeliverFrame) always queue, so that under load a connection's frames
// keep going out together in one writev.
func (c *Conn) enqueue(frame []byte, now bool) bool {
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return false
	}
	if now && !c.writing && len(c.pending) == 0 && c.raw != nil {
		n, err := writeNow(c.raw, frame)
		if err != nil {
			c.closing, c.pending = true, nil
			c.wmu.Unlock()
			go c.end(reasonTransportError, err, 0) // not on the caller's goroutine: see below
			return false
		}
		if n == len(frame) {
			c.wmu.Unlock()
			return true
		}
		frame = frame[n:]
	}
	if len(c.pending) >= c.srv.opts.MaxQueue {
		c.closing, c.pending = true, nil
		c.wmu.Unlock()
		// Not on the caller's goroutine: a broadcaster may be iterating
		// sockets, and the close runs the disconnect rules. The connection
		// closes inside end, so that the writer and the reader, which
		// fail only then, cannot end it first with a lesser reason.
		go c.end(reasonTransportError, wstransport.ErrSlowClient, 0)
		return false
	}
	c.pending = append(c.pending, frame)
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// flushAndClose queues a close frame with code after the pending frames;
// the writer closes the connection once it is written.
func (c *Conn) flushAndClose(code int) {
	var payload [2]byte
	binary.BigEndian.PutUint16(payload[:], uint16(code))
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return
	}
	c.closing = true
	c.pending = append(c.pending, wstransport.Frame(opClose, payload[:]))
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// abort drops what is queued and closes the connection now.
func (c *Conn) abort() {
	c.wmu.Lock()
	c.closing, c.pending = true, nil
	nc := c.nc
	c.wmu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
}

// writeLoop writes queued frames, all that have accumulated in one
// writev, until none is left; it closes the connection when it is closing.
// With Options.Coalesce it waits that long after each write, so a busy
// connection gets one syscall per interval, while an idle one has each
// packet written as it comes.
func (c *Conn) writeLoop() {
	for {
		c.wmu.Lock()
		batch := c.pending
		c.pending = nil
		if len(batch) == 0 {
			c.writing = false
			closing := c.closing
			c.wmu.Unlock()
			if closing {
				_ = c.nc.Close()
			}
			return
		}
		c.wmu.Unlock()
		if err := c.writeBatch(batch); err != nil {
			c.abort()
			c.wmu.Lock()
			c.writing = false
			c.wmu.Unlock()
			c.end(reasonTransportError, err, 0)
			return
		}
		if d := c.srv.opts.Coalesce; d > 0 {
			time.Sleep(d)
		}
	}
}

// writeBatch writes frames with one syscall, under a write deadline that
// moves only once half of it has run out (moving it costs a timer update).
func (c *Conn) writeBatch(batch net.Buffers) error {
	now := time.Now()
	if wt := c.srv.opts.WriteTimeout; time.Duration(c.deadline-now.UnixNano()) < wt/2 {
		dl := now.Add(wt)
		c.deadline = dl.UnixNano()
		if err := c.nc.SetWriteDeadline(dl); err != nil {
			return err
		}
	}
	if len(batch) == 1 {
		_, err := c.nc.Write(batch[0])
		return err
	}
	_, err := batch.WriteTo(c.nc)
	return err
}

// readLoop reads the websocket when the poller cannot (no epoll, a TLS
// connection), with the poller's frame handling (consume). While idle it
// waits for one byte into a one-byte array, holding no buffer, in a frame
// small enough that the goroutine's stack stays at its 2 KB minimum (or
// shrinks back to it at the next collection): the work happens in
// consume, whose frames are gone by the next wait.
func (c *Conn) readLoop(initial []byte) {
	if len(initial) > 0 && c.consume(initial) {
		return
	}
	var one [1]byte
	for {
		var lead []byte
		if u := c.rd.in; u == nil || u.rest == nil { // idle
			n, err := c.nc.Read(one[:])
			if n == 0 {
				if err != nil {
					c.readerEnded(reasonTransportClose, nil, 0)
					return
				}
				continue
			}
			lead = one[:n]
		}
		if c.readMore(lead) {
			return
		}
	}
}

// readMore reads what has arrived after lead (the byte that ended an idle
// wait; none while a frame is under way, which is read into its own
// buffer) and handles it. A frame has at least two bytes, so after lead
// more is coming. It reports whether the connection ended.
//
//go:noinline
func (c *Conn) readMore(lead []byte) (ended bool) {
	var buf []byte
	pooled := len(lead) > 0
	if pooled {
		buf = append(c.srv.getBuf(), lead...)
	} else {
		buf = c.rd.in.rest
	}
	n, err := c.nc.Read(buf[len(buf):cap(buf)])
	if n > 0 || err == nil {
		ended = c.consume(buf[:len(buf)+n])
	}
	if pooled {
		c.srv.putBuf(buf)
	}
	if n == 0 && err != nil && !ended {
		c.readerEnded(reasonTransportClose, nil, 0)
		return true
	}
	return ended
}

// partial is a fragmented message being assembled across reads.
type partial struct {
	msg []byte
	op  byte
}

// frame handles one frame: a control frame at once, a data frame as (part
// of) a message. It returns why the connection must end, if it must.
func (c *Conn) frame(f frame, p *partial) *endRequest {
	switch {
	case f.op >= opClose:
		if code, done := c.control(f); done {
			return &endRequest{reasonTransportClose, nil, code}
		}
		return nil
	case f.op == opContinuation:
		if p.op == 0 {
			return protocolEnd("continuation without a message")
		}
		p.msg = append(p.msg, f.payload...)
	default:
		if p.op != 0 {
			return protocolEnd("new message inside a fragmented one")
		}
		p.op = f.op
		if !f.fin {
			p.msg = append([]byte(nil), f.payload...)
		}
	}
	if int64(len(p.msg)) > c.srv.opts.MaxPayload {
		return &endRequest{reasonTransportError, errTooBig, closeTooBig}
	}
	if !f.fin {
		return nil
	}
	data := f.payload
	if p.msg != nil {
		data = p.msg
	}
	op := p.op
	p.msg, p.op = nil, 0
	return c.message(op, data)
}

// protocolEnd ends a connection whose client broke the websocket protocol.
//
//go:noinline
func protocolEnd(what string) *endRequest {
	return &endRequest{reasonTransportError, errors.Join(errProtocol, errors.New(what)), closeProtocolError}
}

var errTooBig = errors.New("message larger than socketio.max_payload")

// control handles a control frame. A close frame ends the connection:
// done is true, and code is what the answering close frame carries (the
// client's code, echoed as RFC 6455 §5.5.1 asks).
func (c *Conn) control(f frame) (code int, done bool) {
	switch f.op {
	case opPing:
		c.enqueue(wstransport.Frame(opPong, bytes.Clone(f.payload)), true)
	case opClose:
		code = closeNormal
		if len(f.payload) >= 2 {
			if got := int(binary.BigEndian.Uint16(f.payload)); sendableCloseCode(got) {
				code = got
			}
		}
		return code, true
	}
	return 0, false
}

// sendableCloseCode reports whether code may appear in a close frame.
func sendableCloseCode(code int) bool {
	switch {
	case code >= 3000 && code < 5000:
		return true
	case code >= 1000 && code <= 1014:
		return code != 1004 && code != 1005 && code != 1006
	}
	return false
}

// message handles one complete websocket message: an Engine.IO packet.
// It returns why the connection must close, if it must.
func (c *Conn) message(op byte, data []byte) *endRequest {
	if !c.onWS.Load() {
		return c.upgradeMessage(op, data)
	}
	return c.packet(op, data)
}

// packet handles one Engine.IO packet from the client, over either
// transport. It returns why the connection must close, if it must.
func (c *Conn) packet(op byte, data []byte) *endRequest {
	if op == opBinary {
		c.deliver(types.NewBytesBuffer(bytes.Clone(data)))
		return nil
	}
	if !utf8.Valid(data) {
		e := protocolEnd("text message is not UTF-8")
		e.code = closeInvalidData
		return e
	}
	if len(data) == 0 {
		return &endRequest{reasonParseError, nil, closeNormal}
	}
	switch data[0] {
	case '4': // message
		c.deliver(types.NewStringBuffer(bytes.Clone(data[1:])))
	case '3': // pong
		c.srv.wheel.pong(c)
	case '1': // close
		return &endRequest{reasonTransportClose, nil, closeNormal}
	case '6', '5': // noop; upgrade, meaningless on a websocket session
	case '2': // ping: in Engine.IO v4 the server pings, never the client
		e := protocolEnd("invalid heartbeat direction")
		e.code = closeNormal
		return e
	default:
		return &endRequest{reasonParseError, nil, closeNormal}
	}
	return nil
}

// deliver hands a message to the Socket.IO layer on a short-lived
// goroutine, in arrival order. Handling a message runs the Socket.IO
// parser and the rules, which would grow the reader's stack to several KB
// for the connection's whole life.
func (c *Conn) deliver(buf types.BufferInterface) {
	c.inMu.Lock()
	c.inbox = append(c.inbox, buf)
	start := !c.handling
	c.handling = true
	c.inMu.Unlock()
	if start {
		go c.handle()
	}
}

// readerEnded closes the connection once the messages read before the end
// have been handled, so that the disconnect comes after them.
func (c *Conn) readerEnded(reason string, err error, code int) {
	if !c.onWS.Load() && c.dropUpgrade() {
		return // the websocket of an upgrade that did not complete
	}
	c.inMu.Lock()
	if c.handling {
		c.ended = &endRequest{reason, err, code}
		c.inMu.Unlock()
		return
	}
	c.inMu.Unlock()
	c.end(reason, err, code)
}

// handle passes queued messages on until none is left.
func (c *Conn) handle() {
	for {
		c.inMu.Lock()
		batch := c.inbox
		c.inbox = nil
		if len(batch) == 0 {
			c.handling = false
			ended := c.ended
			c.ended = nil
			c.inMu.Unlock()
			if ended != nil {
				c.end(ended.reason, ended.err, ended.code)
			}
			return
		}
		c.inMu.Unlock()
		for _, buf := range batch {
			c.Emit("data", buf)
		}
	}
}
