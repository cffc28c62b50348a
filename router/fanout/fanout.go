// Package fanout is a Socket.IO adapter (ServerOptions.SetAdapter) that
// keeps the library's in-memory rooms and overrides only Broadcast: a
// broadcast is encoded and framed once, and the same websocket frame is
// queued directly on every websocket client's transport (wstransport),
// skipping the engine's per-socket write path. That path copies the
// encoded packet for every socket and runs several event emitters per
// delivery, which profiles showed as the largest cost of fan-out after the
// write syscall. Sockets not on a wstransport websocket (polling, or in the
// middle of an upgrade) and packets with binary attachments take the
// library's path unchanged.
//
// It is the single-node adapter; router/cluster wraps the Redis streams
// adapter around the same Deliver for clusters.
package fanout

import (
	"github.com/eventrouter/eventrouter/router/wstransport"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Builder creates the adapter of each namespace.
type Builder struct {
	// Recovery, set when connection state recovery is on, builds on the
	// library's session-aware adapter, which keeps every broadcast for
	// clients that come back; its broadcasts take the library's path,
	// because that adapter records a packet in the same call that
	// delivers it.
	Recovery bool
	// Outgoing is set when some sockets may have "any outgoing" listeners
	// (Socket.OnAnyOutgoing; the Admin UI adds them): broadcasts then call
	// them. Looking them up costs a lock, a copy and an allocation per
	// socket per broadcast, about a tenth of the CPU of a large fan-out.
	Outgoing bool
}

var _ socket.AdapterConstructor = Builder{}

// New creates the adapter for nsp.
func (b Builder) New(nsp socket.Namespace) socket.Adapter {
	if b.Recovery {
		return socket.NewSessionAwareAdapter(nsp)
	}
	a := &adapter{Adapter: socket.MakeAdapter(), outgoing: b.Outgoing}
	a.Prototype(a)
	a.Construct(nsp)
	return a
}

// adapter is the library's in-memory adapter with a faster Broadcast.
type adapter struct {
	socket.Adapter
	outgoing bool // Builder.Outgoing
}

// Broadcast sends packet to the sockets opts selects.
func (a *adapter) Broadcast(p *parser.Packet, opts *socket.BroadcastOptions) {
	Deliver(a, a.Adapter.Broadcast, p, opts, a.outgoing)
}

// Deliver sends packet to the sockets of this node that opts selects,
// reading rooms from rooms, the namespace's adapter. Packets Deliver cannot
// frame once (binary attachments) go to slow, which must deliver them to
// this node's sockets only: the library's in-memory Broadcast, or a
// cluster adapter's Broadcast with the local flag. With outgoing set, each
// socket's "any outgoing" listeners are called (see Builder.Outgoing).
func Deliver(rooms socket.Adapter, slow func(*parser.Packet, *socket.BroadcastOptions), p *parser.Packet, opts *socket.BroadcastOptions, outgoing bool) {
	nsp := rooms.Nsp()
	p.Nsp = nsp.Name()
	encoded := nsp.Server().Encoder().Encode(p)
	if len(encoded) != 1 {
		slow(p, opts) // binary attachments: the library's path
		return
	}
	text, ok := encoded[0].(*types.StringBuffer)
	if !ok {
		slow(p, opts)
		return
	}
	frame := wstransport.TextFrame(text.Bytes())

	var writeOpts *socket.WriteOptions // built on the first socket the engine must write to
	each(rooms, opts, func(s *socket.Socket) {
		if outgoing {
			s.NotifyOutgoingListeners()(p)
		}
		if wstransport.Deliver(s.Conn().Transport(), frame) {
			return
		}
		if writeOpts == nil {
			writeOpts = engineWriteOptions(opts, text)
		}
		s.Client().WriteToEngine(encoded, writeOpts)
	})
}

// engineWriteOptions are the options of the library's own broadcast path,
// for sockets Deliver cannot reach (polling, or in the middle of an upgrade).
func engineWriteOptions(opts *socket.BroadcastOptions, text *types.StringBuffer) *socket.WriteOptions {
	flags := &socket.BroadcastFlags{}
	if opts != nil && opts.Flags != nil {
		flags = opts.Flags
	}
	w := &socket.WriteOptions{}
	w.PreEncoded = true
	w.Volatile = flags.Volatile
	w.Compress = flags.Compress
	w.WsPreEncodedFrame = types.NewStringBufferString("4" + text.String())
	return w
}

// each calls fn for every connected socket in opts.Rooms (every socket of
// the namespace when none), once each, skipping sockets in opts.Except.
func each(a socket.Adapter, opts *socket.BroadcastOptions, fn func(*socket.Socket)) {
	sockets := a.Nsp().Sockets()
	var except map[socket.SocketId]struct{}
	if opts != nil && opts.Except != nil && opts.Except.Len() > 0 {
		except = map[socket.SocketId]struct{}{}
		for _, room := range opts.Except.Keys() {
			if ids, ok := a.Rooms().Load(room); ok {
				for _, id := range ids.Keys() {
					except[id] = struct{}{}
				}
			}
		}
	}
	visit := func(id socket.SocketId) {
		if _, skip := except[id]; skip {
			return
		}
		if s, ok := sockets.Load(id); ok && s.Connected() {
			fn(s)
		}
	}
	if opts != nil && opts.Rooms != nil && opts.Rooms.Len() > 0 {
		seen := map[socket.SocketId]struct{}{}
		for _, room := range opts.Rooms.Keys() {
			ids, ok := a.Rooms().Load(room)
			if !ok {
				continue
			}
			for _, id := range ids.Keys() {
				if _, dup := seen[id]; dup {
					continue
				}
				seen[id] = struct{}{}
				visit(id)
			}
		}
		return
	}
	a.Sids().Range(func(id socket.SocketId, _ *types.Set[socket.Room]) bool {
		visit(id)
		return true
	})
}
