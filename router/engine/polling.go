package engine

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/eventrouter/eventrouter/router/wstransport"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// polling is the HTTP long-polling side of a session (Engine.IO v4:
// packets joined by the record separator 0x1E, binary ones as "b" +
// base64). A GET is held until there is something to send; a POST
// carries the client's packets. The fields are guarded by Conn.wmu.
type polling struct {
	queue     []outPacket   // waiting for the next GET
	wake      chan struct{} // tells the held GET that the queue changed
	get, post bool          // a GET is held; a POST is being read
	closed    bool          // the session ended; the held GET takes what is left
	upgrading bool          // a websocket is probing to take over
	tried     bool          // an upgrade was tried: one per session
	timer     *time.Timer   // ends an upgrade that does not complete
}

// upgradeNoopDelay is how long a poll is held during an upgrade before it
// gets a noop: Node's engine.io checks every 100 ms.
const upgradeNoopDelay = 100 * time.Millisecond

// recordSeparator joins the packets of a polling payload.
const recordSeparator = 0x1E

// Errors a polling client gets its session closed for, with "transport
// error".
var (
	errOverlap   = errors.New("two polling requests of the same kind at once")
	errUpgrade   = errors.New("invalid packet during the upgrade")
	errBadBase64 = errors.New("binary packet is not base64")
)

// pollPush queues p for the next GET while the session is on polling,
// and reports whether it did (false once the session is on websocket).
func (c *Conn) pollPush(p outPacket) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ps := c.poll
	if ps == nil || c.onWS.Load() {
		return false
	}
	if ps.closed {
		return true // dropped, as a write to a closed websocket is
	}
	if len(ps.queue) >= c.srv.opts.MaxQueue {
		ps.queue = nil
		// "forced close", as the router closes a slow poller on the
		// library's engine; the error is what the router names the limit
		// from.
		go c.end(reasonForcedClose, wstransport.ErrSlowClient, 0)
		return true
	}
	ps.queue = append(ps.queue, p)
	c.wakeLocked()
	return true
}

func (c *Conn) wakeLocked() {
	select {
	case c.poll.wake <- struct{}{}:
	default:
	}
}

// pollClose ends the polling side: the held GET, if any, takes what is
// queued and a close packet, or a noop when the client closed (as Node's
// engine.io does); an upgrade in progress is dropped. It reports false
// when the session turned out to be on websocket already.
func (c *Conn) pollClose(reason string) bool {
	last := outPacket{data: []byte{'1'}}
	if reason == reasonTransportClose {
		last = outPacket{data: []byte{'6'}}
	}
	c.wmu.Lock()
	ps := c.poll
	if ps == nil { // upgraded meanwhile
		c.wmu.Unlock()
		return false
	}
	ps.closed = true
	ps.queue = append(ps.queue, last)
	c.wakeLocked()
	nc := c.nc
	c.closing, c.pending = true, nil
	if ps.timer != nil {
		ps.timer.Stop()
	}
	c.wmu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
	return true
}

// openPolling opens a session over polling: the handshake's response is
// the open packet.
func (s *Server) openPolling(w http.ResponseWriter, r *http.Request) {
	c := s.newConn(nil, r)
	c.poll = &polling{wake: make(chan struct{}, 1)}
	if !s.register(c) {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wheel.open(c)
	s.Emit("connection", c)
	writePayload(w, []byte(s.openPacket(c.id, true)))
}

// pollRequest serves a GET or POST of a polling session.
func (s *Server) pollRequest(w http.ResponseWriter, r *http.Request, c *Conn) {
	switch r.Method {
	case http.MethodGet:
		c.pollGet(w, r)
	case http.MethodPost:
		c.pollPost(w, r)
	default:
		refuse(w, errBadRequest)
	}
}

// claimPoll marks the request of one kind (busy picks ps.get or ps.post)
// as the session's, and returns the session with c.wmu held. It returns
// nil, with the request refused, when the session went to websocket
// meanwhile, or when a request of that kind is already held: that closes
// the session.
func (c *Conn) claimPoll(w http.ResponseWriter, busy func(*polling) *bool) *polling {
	c.wmu.Lock()
	ps := c.poll
	if ps == nil { // upgraded meanwhile
		c.wmu.Unlock()
		refuse(w, errBadRequest)
		return nil
	}
	if flag := busy(ps); !*flag {
		*flag = true
		return ps
	}
	c.wmu.Unlock()
	refuse(w, errBadRequest)
	c.end(reasonTransportError, errOverlap, 0)
	return nil
}

// pollGet holds the request until there is something to send, then sends
// everything queued as one payload.
func (c *Conn) pollGet(w http.ResponseWriter, r *http.Request) {
	ps := c.claimPoll(w, func(ps *polling) *bool { return &ps.get })
	if ps == nil {
		return
	}
	for len(ps.queue) == 0 && !ps.closed {
		// During an upgrade the held poll gets a noop within
		// upgradeNoopDelay, so that the client can pause polling and
		// complete the upgrade; as Node's engine.io, not at once: a client
		// answered at once polls again in a tight loop while it upgrades.
		var noop *time.Timer
		var noopC <-chan time.Time
		if ps.upgrading {
			noop = time.NewTimer(upgradeNoopDelay)
			noopC = noop.C
		}
		c.wmu.Unlock()
		select {
		case <-ps.wake:
		case <-noopC:
			c.wmu.Lock()
			if ps.upgrading && len(ps.queue) == 0 {
				ps.queue = append(ps.queue, outPacket{data: []byte{'6'}})
			}
			c.wmu.Unlock()
		case <-r.Context().Done(): // the client went away
			c.wmu.Lock()
			ps.get = false
			c.wmu.Unlock()
			return
		}
		if noop != nil {
			noop.Stop()
		}
		c.wmu.Lock()
	}
	batch := ps.queue
	ps.queue, ps.get = nil, false
	c.wmu.Unlock()
	writePayload(w, encodePayload(batch))
}

// encodePayload joins packets with the record separator; binary ones are
// "b" + base64.
func encodePayload(batch []outPacket) []byte {
	var out []byte
	for i, p := range batch {
		if i > 0 {
			out = append(out, recordSeparator)
		}
		if p.binary {
			out = append(out, 'b')
			out = base64.StdEncoding.AppendEncode(out, p.data)
			continue
		}
		out = append(out, p.data...)
	}
	return out
}

func writePayload(w http.ResponseWriter, payload []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	_, _ = w.Write(payload)
}

// pollPost reads the client's packets. A payload over max_payload, or a
// packet that breaks the protocol, closes the session and gets 400 (413
// for the size).
func (c *Conn) pollPost(w http.ResponseWriter, r *http.Request) {
	ps := c.claimPoll(w, func(ps *polling) *bool { return &ps.post })
	if ps == nil {
		return
	}
	c.wmu.Unlock()
	defer func() {
		c.wmu.Lock()
		ps.post = false
		c.wmu.Unlock()
	}()
	max := c.srv.opts.MaxPayload
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		c.end(reasonTransportError, err, 0)
		refuse(w, errBadRequest)
		return
	}
	if int64(len(body)) > max {
		c.end(reasonTransportError, errTooBig, 0)
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	for p := range bytes.SplitSeq(body, []byte{recordSeparator}) {
		if e := c.postedPacket(p); e != nil {
			c.end(e.reason, e.err, 0)
			if e.reason != reasonTransportClose { // a close packet is no error
				refuse(w, errBadRequest)
				return
			}
			break
		}
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write([]byte("ok"))
}

// postedPacket handles one packet of a POST payload.
func (c *Conn) postedPacket(p []byte) *endRequest {
	if len(p) > 0 && p[0] == 'b' {
		raw, err := base64.StdEncoding.AppendDecode(nil, p[1:])
		if err != nil {
			return &endRequest{reasonParseError, errBadBase64, 0}
		}
		c.deliver(types.NewBytesBuffer(raw))
		return nil
	}
	return c.packet(opText, p)
}

// upgrade takes a websocket that asks to take over polling session c
// (Engine.IO v4): the client probes with "2probe", gets "3probe", its
// pending poll is answered with a noop, and its "5" completes the switch;
// from then on everything goes over the websocket, and a poll gets 400.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, c *Conn) {
	c.wmu.Lock()
	ps := c.poll
	busy := ps == nil || ps.closed || ps.upgrading || ps.tried
	c.wmu.Unlock()
	if busy {
		refuse(w, errBadRequest)
		return
	}
	nc, initial, ok := s.hijack(w, r, nil)
	if !ok {
		return
	}
	c.wmu.Lock()
	if c.poll != ps || ps.closed || ps.upgrading || ps.tried {
		c.wmu.Unlock()
		_ = nc.Close()
		return
	}
	ps.upgrading, ps.tried = true, true
	c.nc, c.raw = nc, rawConn(nc)
	c.wakeLocked() // a poll held since before: it now gets a noop in time
	ps.timer = time.AfterFunc(s.opts.UpgradeTimeout, func() { c.dropUpgrade() })
	c.wmu.Unlock()
	c.startReading(initial)
}

// upgradeMessage handles a websocket message while c is upgrading.
func (c *Conn) upgradeMessage(op byte, data []byte) *endRequest {
	switch {
	case op == opText && string(data) == "2probe":
		c.enqueue(probeFrame(), true) // the held poll gets its noop within upgradeNoopDelay (pollGet)
	case op == opText && string(data) == "5":
		c.completeUpgrade()
	default:
		c.dropUpgrade()
	}
	return nil
}

// probeFrame answers the upgrade probe.
func probeFrame() []byte { return outPacket{data: []byte("3probe")}.frame() }

// completeUpgrade moves the session to its websocket: what waited for a
// poll goes out on it first, and a poll still held gets a noop.
func (c *Conn) completeUpgrade() {
	c.wmu.Lock()
	ps := c.poll
	if ps == nil || ps.closed || !ps.upgrading || c.state.Load() != stateOpen {
		c.wmu.Unlock()
		return
	}
	for _, p := range ps.queue {
		c.pending = append(c.pending, p.frame())
	}
	ps.queue = nil
	ps.upgrading = false
	if ps.timer != nil {
		ps.timer.Stop()
	}
	if ps.get {
		ps.queue = []outPacket{{data: []byte{'6'}}}
		c.wakeLocked()
	} else {
		c.poll = nil // nothing refers to it any more
	}
	c.onWS.Store(true)
	start := len(c.pending) > 0 && !c.writing
	if start {
		c.writing = true
	}
	c.wmu.Unlock()
	if start {
		go c.writeLoop()
	}
	c.Emit("upgrade", c.Transport())
}

// dropUpgrade closes the websocket of an upgrade that did not complete;
// the session stays on polling. It reports whether there was one.
func (c *Conn) dropUpgrade() bool {
	c.wmu.Lock()
	ps := c.poll
	if c.onWS.Load() || ps == nil || !ps.upgrading {
		c.wmu.Unlock()
		return false
	}
	ps.upgrading = false
	nc := c.nc
	c.closing, c.pending = true, nil
	c.wmu.Unlock()
	c.srv.poller.unwatch(c)
	if nc != nil {
		_ = nc.Close()
	}
	return true
}
