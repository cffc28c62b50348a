// Package wstransport is an Engine.IO websocket transport for the
// zishang520 engine, registered through its public extension point
// (ServerOptions.SetTransports). It replaces the library's websocket send
// path, which profiles showed spending most of a broadcast's CPU in
// per-socket work:
//
//   - A broadcast frame is framed once and the same bytes are written to
//     every socket. The library builds a gorilla PreparedMessage per socket
//     and per broadcast (about a quarter of the CPU under fan-out load).
//   - Every packet the engine hands over in one Send is written with a
//     single writev, instead of one write syscall per packet.
//   - A socket's writer goroutine exists only while it has data to write,
//     and writes carry a deadline, so a stalled client cannot pin memory or
//     a goroutine forever.
//
// Reading is left to gorilla/websocket, as in the library. Frames are
// written to the connection below gorilla in whole frames, one write call
// per batch; gorilla's own writes (close and pong control frames) are also
// whole-frame single writes, and net.Conn serialises concurrent writes, so
// the two never interleave inside a frame.
package wstransport

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Options tunes the transport.
type Options struct {
	// WriteTimeout bounds one batch write; a client that cannot take its
	// data in that time is disconnected. Zero means 10s.
	WriteTimeout time.Duration
	// Coalesce is the shortest time between two writes to one socket. A
	// packet for a socket written to less than Coalesce ago waits for the
	// rest of the interval and goes out with whatever else arrived, in one
	// syscall. Zero writes every packet as soon as it arrives.
	Coalesce time.Duration
	// MaxQueue is how many packets may wait for one socket; a client that
	// falls further behind is disconnected. Zero means 4096.
	MaxQueue int
}

// Builder creates websocket transports; pass it to
// ServerOptions.SetTransports in place of the library's WebSocketBuilder.
type Builder struct {
	opts   Options
	frames frameCache
}

var _ transports.TransportCtor = (*Builder)(nil)

// NewBuilder returns a Builder with opts.
func NewBuilder(opts Options) *Builder {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 4096
	}
	return &Builder{opts: opts}
}

// Name is the Engine.IO transport name.
func (*Builder) Name() string { return transports.WEBSOCKET }

// HandlesUpgrades is true: the engine hands websocket upgrades to it.
func (*Builder) HandlesUpgrades() bool { return true }

// UpgradesTo is empty: websocket is the last transport.
func (*Builder) UpgradesTo() []string { return nil }

// New creates the transport for one upgraded connection.
func (b *Builder) New(ctx *types.HttpContext) transports.Transport {
	t := &transport{Transport: transports.MakeTransport(), b: b, conn: ctx.Websocket, idle: ctx.IdleTimeout}
	t.Prototype(t)
	t.Construct(ctx)
	_ = t.conn.On("error", func(errs ...any) {
		var err error
		if len(errs) > 0 {
			err, _ = errs[0].(error)
		}
		t.OnError("websocket error", err)
	})
	_ = t.conn.Once("close", func(...any) { t.OnClose() })
	// Every frame on the connection goes through this transport's queue,
	// control frames included, so that their order is the queue's.
	t.conn.SetPingHandler(func(data string) error {
		t.enqueue([][]byte{Frame(byte(ws.PongMessage), []byte(data))}, false)
		return nil
	})
	t.conn.SetCloseHandler(func(code int, _ string) error {
		t.enqueue([][]byte{Frame(byte(ws.CloseMessage), ws.FormatCloseMessage(code, ""))}, false)
		return nil
	})
	t.SetWritable(true)
	t.SetPerMessageDeflate(nil)
	transports.StartReader(t, ctx.TransportReadPermission(), t.read)
	return t
}

// transport is one websocket connection.
type transport struct {
	transports.Transport
	b    *Builder
	conn *types.WebSocketConn
	idle time.Duration

	mu      sync.Mutex
	pending net.Buffers // framed packets waiting for the writer
	drains  int         // Send calls whose packets are pending
	writing bool        // a writer goroutine is running
	// deadline is the write deadline set on the connection, in Unix ns.
	deadline atomic.Int64
	closed   bool

	inMu     sync.Mutex
	inbox    []types.BufferInterface // messages waiting for the engine
	handling bool                    // a handler goroutine is running
}

// Name is the Engine.IO transport name.
func (*transport) Name() string { return transports.WEBSOCKET }

// HandlesUpgrades is true for websocket.
func (*transport) HandlesUpgrades() bool { return true }

// read delivers incoming messages to the engine until the connection ends.
func (t *transport) read() {
	defer t.conn.Emit("close")
	for {
		if t.idle > 0 {
			_ = t.conn.SetReadDeadline(time.Now().Add(t.idle))
		}
		mt, r, err := t.conn.NextReader()
		if err != nil {
			if !ws.IsUnexpectedCloseError(err) && !errors.Is(err, net.ErrClosed) && !ws.IsCloseError(err, ws.CloseNormalClosure, ws.CloseGoingAway, ws.CloseNoStatusReceived) {
				t.conn.Emit("error", err)
			}
			return
		}
		var buf types.BufferInterface
		switch mt {
		case ws.TextMessage:
			buf = types.NewStringBuffer(nil)
		case ws.BinaryMessage:
			buf = types.NewBytesBuffer(nil)
		default:
			continue
		}
		if _, err := buf.ReadFrom(r); err != nil {
			t.conn.Emit("error", err)
			return
		}
		t.deliver(buf)
	}
}

// deliver hands an incoming message to the engine on a short-lived
// goroutine, in arrival order. Handling a message runs the engine, the
// Socket.IO parser and the rules, which grows a goroutine's stack to
// several KB; doing it off the reader keeps the reader's stack small for
// the connection's whole life, which is most of an idle connection's cost.
func (t *transport) deliver(buf types.BufferInterface) {
	t.inMu.Lock()
	t.inbox = append(t.inbox, buf)
	start := !t.handling
	t.handling = true
	t.inMu.Unlock()
	if start {
		go t.handle()
	}
}

// handle passes queued messages to the engine until none is left.
func (t *transport) handle() {
	for {
		t.inMu.Lock()
		batch := t.inbox
		t.inbox = nil
		if len(batch) == 0 {
			t.handling = false
			t.inMu.Unlock()
			return
		}
		t.inMu.Unlock()
		for _, buf := range batch {
			t.OnData(buf)
		}
	}
}

// Send queues packets for the writer goroutine and returns at once. The
// transport stays writable, so the engine hands over each packet as it
// comes; the writer sends whatever has accumulated in one syscall, then
// answers each Send with the "drain" the engine counts on.
func (t *transport) Send(packets []*packet.Packet) {
	frames := make([][]byte, 0, len(packets))
	for _, p := range packets {
		if p.Options != nil && p.Options.WsPreEncodedFrame != nil {
			frames = append(frames, t.b.frames.get(p.Options.WsPreEncodedFrame))
			continue
		}
		data, err := t.Parser().EncodePacket(p, t.SupportsBinary())
		if err != nil {
			t.OnError("websocket encode error", err)
			return
		}
		frames = append(frames, frame(data))
	}
	t.enqueue(frames, true)
}

// enqueue adds framed packets for the writer; drain says whether they
// came from an engine Send, which expects one "drain" back.
func (t *transport) enqueue(frames [][]byte, drain bool) bool {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return false
	}
	if len(t.pending)+len(frames) > t.b.opts.MaxQueue {
		t.closed, t.pending = true, nil
		t.mu.Unlock()
		t.OnError("websocket write queue full", ErrSlowClient)
		return false
	}
	t.pending = append(t.pending, frames...)
	if drain {
		t.drains++
	}
	start := !t.writing
	t.writing = true
	t.mu.Unlock()
	if start {
		go t.writeLoop()
	}
	return true
}

// refreshDeadline moves the connection's write deadline WriteTimeout
// ahead. Moving it costs a timer update, so it is moved only once half of
// it has run out: a write may take from half to all of WriteTimeout before
// the client is dropped.
func (t *transport) refreshDeadline() error {
	now := time.Now()
	if time.Duration(t.deadline.Load()-now.UnixNano()) >= t.b.opts.WriteTimeout/2 {
		return nil
	}
	dl := now.Add(t.b.opts.WriteTimeout)
	t.deadline.Store(dl.UnixNano())
	return t.conn.NetConn().SetWriteDeadline(dl)
}

// Deliver queues one complete websocket frame (see TextFrame) on tr when
// tr is an open transport of this package, and reports whether it did.
// Broadcasts use it to skip the engine's per-socket write path; anything
// else, such as a socket still on polling, takes the engine's path.
// A transport of another package that implements FrameDeliverer (the
// builtin engine's) takes the frame through DeliverFrame.
func Deliver(tr transports.Transport, frame []byte) bool {
	if d, ok := tr.(FrameDeliverer); ok {
		return d.DeliverFrame(frame)
	}
	t, ok := tr.(*transport)
	if !ok || t.ReadyState() != "open" {
		return false
	}
	return t.enqueue([][]byte{frame}, false)
}

// FrameDeliverer is a websocket transport that can queue a complete
// server frame, as Deliver does for this package's transports.
type FrameDeliverer interface {
	// DeliverFrame queues frame, one complete websocket frame, and
	// reports whether it did (false when the connection is not open).
	DeliverFrame(frame []byte) bool
}

// TextFrame frames an Engine.IO message packet ("4" + payload) as one
// websocket text frame, ready for Deliver to many sockets.
func TextFrame(payload []byte) []byte {
	buf := types.NewStringBufferString("4")
	_, _ = buf.Write(payload)
	return frame(buf)
}

// ErrSlowClient is why a client that does not read what it is sent, with
// more than Options.MaxQueue packets waiting, is closed: the description
// of its "transport error" close.
var ErrSlowClient = errors.New("client is not reading; too many packets queued")

// writeLoop writes queued packets until none is left, then exits. With
// Coalesce set, it waits out the interval after each write, so a busy
// socket gets one syscall per interval however many packets it receives.
func (t *transport) writeLoop() {
	for {
		t.mu.Lock()
		batch, drains := t.pending, t.drains
		t.pending, t.drains = nil, 0
		if len(batch) == 0 || t.closed {
			t.writing = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		if err := t.writeBatch(batch); err != nil {
			t.mu.Lock()
			t.closed, t.writing, t.pending = true, false, nil
			t.mu.Unlock()
			t.OnError("websocket write error", err)
			return
		}
		for range drains {
			t.Emit("drain")
		}
		if t.b.opts.Coalesce > 0 {
			time.Sleep(t.b.opts.Coalesce)
		}
	}
}

// writeBatch writes framed packets with one writev.
func (t *transport) writeBatch(batch net.Buffers) error {
	nc := t.conn.NetConn()
	if err := t.refreshDeadline(); err != nil {
		return err
	}
	if len(batch) == 1 {
		_, err := nc.Write(batch[0]) // write(2) is cheaper than a one-buffer writev(2)
		return err
	}
	_, err := batch.WriteTo(nc)
	return err
}

// DoClose closes the connection.
func (t *transport) DoClose(fn types.Callable) {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	defer func() { _ = t.conn.Close() }()
	if fn != nil {
		fn()
	}
}

// OnClose releases the connection on every close path.
func (t *transport) OnClose() {
	t.mu.Lock()
	t.closed = true
	t.pending = nil
	t.mu.Unlock()
	t.Transport.OnClose()
	_ = t.conn.Close()
}

// frame builds one unmasked, unfragmented server frame (RFC 6455 §5.2):
// text for string buffers, binary otherwise.
func frame(data types.BufferInterface) []byte {
	opcode := byte(ws.BinaryMessage)
	if _, ok := data.(*types.StringBuffer); ok {
		opcode = byte(ws.TextMessage)
	}
	return Frame(opcode, data.Bytes())
}

// Frame builds one unmasked, unfragmented server frame (RFC 6455 §5.2)
// with opcode (1 text, 2 binary, 8 close, 9 ping, 10 pong) around payload.
func Frame(opcode byte, payload []byte) []byte {
	n := len(payload)
	var hdr [10]byte
	hdr[0] = 0x80 | opcode // FIN
	h := 2
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xFFFF:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	out := make([]byte, h+n)
	copy(out, hdr[:h])
	copy(out[h:], payload)
	return out
}

// frameCache shares the framed bytes of a broadcast between the sockets it
// goes to. The engine gives every socket of one broadcast the same
// pre-encoded buffer, so its identity is the key; a few recent entries
// cover broadcasts from concurrent senders.
type frameCache struct {
	mu      sync.Mutex
	entries [16]frameEntry
	next    int
}

type frameEntry struct {
	key   types.BufferInterface
	frame []byte
}

func (c *frameCache) get(key types.BufferInterface) []byte {
	c.mu.Lock()
	for i := range c.entries {
		if c.entries[i].key == key {
			f := c.entries[i].frame
			c.mu.Unlock()
			return f
		}
	}
	c.mu.Unlock()
	f := frame(key)
	c.mu.Lock()
	c.entries[c.next] = frameEntry{key: key, frame: f}
	c.next = (c.next + 1) % len(c.entries)
	c.mu.Unlock()
	return f
}
