package engine

import (
	"github.com/eventrouter/eventrouter/router/wstransport"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/parsers/engine/v3/parser"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// wsTransport is a Conn seen as the library's transports.Transport, which
// engine.Socket.Transport must return. It is the same object under another
// type, so it costs nothing per connection, and it shares the connection's
// events. The Socket.IO layer only asks it Writable; router/fanout queues
// broadcast frames through DeliverFrame; the router asks its Name, which
// follows the session from polling to websocket. The rest are the
// library's hooks for its own engine, answered as no-ops.
type wsTransport Conn

var (
	_ transports.Transport       = (*wsTransport)(nil)
	_ wstransport.FrameDeliverer = (*wsTransport)(nil)
)

func (t *wsTransport) conn() *Conn { return (*Conn)(t) }

// DeliverFrame queues a complete websocket frame; see Conn.DeliverFrame.
func (t *wsTransport) DeliverFrame(frame []byte) bool { return t.conn().DeliverFrame(frame) }

// Prototype does nothing.
func (t *wsTransport) Prototype(transports.Transport) {}

// Proto is the transport itself.
func (t *wsTransport) Proto() transports.Transport { return t }

// SetSid does nothing: the id is the connection's.
func (t *wsTransport) SetSid(string) {}

// SetWritable does nothing: the transport is writable while open.
func (t *wsTransport) SetWritable(bool) {}

// SetSupportsBinary does nothing: websocket carries binary.
func (t *wsTransport) SetSupportsBinary(bool) {}

// SetReadyState closes the connection when set to "closed".
func (t *wsTransport) SetReadyState(s string) { t.conn().SetReadyState(s) }

// SetHttpCompression does nothing.
func (t *wsTransport) SetHttpCompression(*types.HttpCompression) {} //nolint:revive // the library's name

// SetPerMessageDeflate does nothing: no extension is negotiated.
func (t *wsTransport) SetPerMessageDeflate(*types.PerMessageDeflate) {}

// SetMaxHttpBufferSize does nothing: socketio.max_payload is fixed.
func (t *wsTransport) SetMaxHttpBufferSize(int64) {} //nolint:revive // the library's name

// Sid is the connection's id.
func (t *wsTransport) Sid() string { return t.id }

// Writable reports whether the connection takes packets.
func (t *wsTransport) Writable() bool { return t.state.Load() == stateOpen }

// Protocol is 4.
func (t *wsTransport) Protocol() int { return 4 }

// Discarded is false: the transport is never replaced.
func (t *wsTransport) Discarded() bool { return false }

// Parser is the library's Engine.IO v4 packet codec.
func (t *wsTransport) Parser() parser.Parser { return parser.Parserv4() }

// SupportsBinary is true.
func (t *wsTransport) SupportsBinary() bool { return true }

// ReadyState is the connection's.
func (t *wsTransport) ReadyState() string { return t.conn().ReadyState() }

// HttpCompression is nil.
func (t *wsTransport) HttpCompression() *types.HttpCompression { return nil } //nolint:revive // the library's name

// PerMessageDeflate is nil.
func (t *wsTransport) PerMessageDeflate() *types.PerMessageDeflate { return nil }

// MaxHttpBufferSize is socketio.max_payload.
func (t *wsTransport) MaxHttpBufferSize() int64 { return t.srv.opts.MaxPayload } //nolint:revive // the library's name

// HandlesUpgrades is true, as for every websocket transport.
func (t *wsTransport) HandlesUpgrades() bool { return true }

// Name is "websocket", or "polling" until a polling session upgrades.
func (t *wsTransport) Name() string {
	if t.onWS.Load() {
		return transports.WEBSOCKET
	}
	return transports.POLLING
}

// Construct does nothing: the Server builds connections.
func (t *wsTransport) Construct(*types.HttpContext) {}

// Discard does nothing.
func (t *wsTransport) Discard() {}

// OnRequest does nothing: a websocket takes no further requests.
func (t *wsTransport) OnRequest(*types.HttpContext) {}

// Close closes the connection, then calls fns.
func (t *wsTransport) Close(fns ...types.Callable) {
	t.conn().Close(false)
	for _, fn := range fns {
		if fn != nil {
			fn()
		}
	}
}

// OnError closes the connection with "transport error".
func (t *wsTransport) OnError(_ string, err error) { t.conn().end(reasonTransportError, err, 0) }

// OnPacket does nothing: packets arrive from the connection's reader.
func (t *wsTransport) OnPacket(*packet.Packet) {}

// OnData passes data to the Socket.IO layer as if it had been read.
func (t *wsTransport) OnData(data types.BufferInterface) { t.conn().deliver(data) }

// OnClose closes the connection with "transport close".
func (t *wsTransport) OnClose() { t.conn().end(reasonTransportClose, nil, 0) }

// Send queues packets, each as one frame.
func (t *wsTransport) Send(packets []*packet.Packet) {
	for _, p := range packets {
		data, err := parser.Parserv4().EncodePacket(p, true)
		if err != nil {
			t.OnError("encode", err)
			return
		}
		_, text := data.(*types.StringBuffer)
		t.conn().push(outPacket{binary: !text, data: data.Bytes()})
	}
}

// DoClose closes the connection, then calls fn.
func (t *wsTransport) DoClose(fn types.Callable) { t.Close(fn) }
