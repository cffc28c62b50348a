package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// role says what a connection does with the events it receives.
type role int

const (
	roleIdle     role = iota // answers pings, discards everything else
	roleReceiver             // records the latency of every bench delivery
	roleSender               // emits; discards the broadcasts it gets back
)

// step is the measurement window the receivers currently record into.
type step struct {
	firstSeq uint64       // deliveries of earlier messages are ignored
	received atomic.Int64 // deliveries recorded, for the drain wait
	disorder atomic.Int64 // deliveries whose keys arrived reordered
	lastRecv atomic.Int64 // Unix nanoseconds of the latest delivery
	groups   []groupCount // per receiver group, when --receiver-urls is set
}

// groupCount is a step's running count for one receiver group.
type groupCount struct {
	received atomic.Int64 // deliveries recorded
	disorder atomic.Int64 // deliveries whose keys arrived reordered
	lastRecv atomic.Int64 // Unix nanoseconds of the latest delivery
}

// hub is the state the read loops share.
type hub struct {
	recvPrefix  []byte               // `["receive_message"`
	cur         atomic.Pointer[step] // nil between steps
	stopping    atomic.Bool          // closes are expected from now on
	disconnects atomic.Int64         // connections lost while running
	badFrames   atomic.Int64         // frames that did not decode
	errMu       sync.Mutex           // guards errs
	errs        []string             // first few errors, for the report
	wg          sync.WaitGroup       // read loops
}

// noteErr keeps the first few distinct errors.
func (h *hub) noteErr(err error) {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	if len(h.errs) >= 10 {
		return
	}
	s := err.Error()
	for _, e := range h.errs {
		if e == s {
			return
		}
	}
	h.errs = append(h.errs, s)
}

// errList returns the errors noted so far.
func (h *hub) errList() []string {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	return append([]string(nil), h.errs...)
}

// client is one Socket.IO connection.
type client struct {
	conn  *websocket.Conn
	role  role
	group int        // receiver group (index into ReceiverGroups.URLs)
	wmu   sync.Mutex // gorilla allows one concurrent writer

	mu      sync.Mutex // guards samples
	samples []int64    // latencies (ns) of the current step
	buf     []byte     // read buffer, reused across frames
}

// write sends one text frame.
func (c *client) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

// take returns the samples recorded so far and starts a new set.
func (c *client) take() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.samples
	c.samples = nil
	return s
}

// readFrame reads one whole websocket message into c.buf.
func (c *client) readFrame() ([]byte, error) {
	_, r, err := c.conn.NextReader()
	if err != nil {
		return nil, err
	}
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if err == io.EOF {
			return c.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// dial connects one client: websocket upgrade, Engine.IO open, Socket.IO
// CONNECT to "/" and its acknowledgement.
func dial(ctx context.Context, d *websocket.Dialer, url string, r role) (*client, error) {
	conn, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, role: r, buf: make([]byte, 0, 512)}
	if err := c.handshake(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return c, nil
}

// handshake runs the Engine.IO and Socket.IO handshakes on a fresh
// websocket.
func (c *client) handshake(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetReadDeadline(deadline)
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()

	frame, err := c.readFrame()
	if err != nil {
		return fmt.Errorf("read open: %w", err)
	}
	p, err := DecodePacket(frame)
	if err != nil {
		return err
	}
	if p.EIO != eioOpen {
		return fmt.Errorf("expected open packet, got %q", frame)
	}
	if _, err := ParseOpen(p.Data); err != nil {
		return err
	}
	if err := c.write([]byte{eioMessage, sioConnect}); err != nil {
		return fmt.Errorf("send connect: %w", err)
	}
	for {
		frame, err := c.readFrame()
		if err != nil {
			return fmt.Errorf("read connect ack: %w", err)
		}
		p, err := DecodePacket(frame)
		if err != nil {
			return err
		}
		switch {
		case p.EIO == eioPing:
			if err := c.write([]byte{eioPong}); err != nil {
				return err
			}
		case p.EIO == eioMessage && p.SIO == sioConnect && p.Namespace == "/":
			_, err := ParseConnectAck(p.Data)
			return err
		case p.EIO == eioMessage && p.SIO == sioConnectError:
			return fmt.Errorf("connect refused: %s", p.Data)
		case p.EIO == eioClose:
			return errors.New("server closed during handshake")
		}
	}
}

// readLoop answers pings and, for receivers, records deliveries until the
// connection ends.
func (h *hub) readLoop(c *client) {
	defer h.wg.Done()
	for {
		frame, err := c.readFrame()
		if err != nil {
			if !h.stopping.Load() {
				h.disconnects.Add(1)
				h.noteErr(fmt.Errorf("connection lost: %w", err))
			}
			return
		}
		if len(frame) == 0 {
			continue
		}
		switch frame[0] {
		case eioPing:
			if err := c.write([]byte{eioPong}); err != nil && !h.stopping.Load() {
				h.noteErr(fmt.Errorf("pong: %w", err))
			}
		case eioMessage:
			if c.role == roleReceiver {
				h.deliver(c, frame)
			}
		case eioClose:
			if !h.stopping.Load() {
				h.disconnects.Add(1)
				h.noteErr(errors.New("server sent close"))
			}
			_ = c.conn.Close()
			return
		}
	}
}

// deliver records one delivered frame on a receiver.
func (h *hub) deliver(c *client, frame []byte) {
	now := time.Now().UnixNano()
	p, err := DecodePacket(frame)
	if err != nil || p.SIO != sioEvent || !bytes.HasPrefix(p.Data, h.recvPrefix) {
		if err != nil {
			h.badFrames.Add(1)
		}
		return
	}
	pr, ok := ProbeFrame(p.Data)
	if !ok {
		h.badFrames.Add(1)
		return
	}
	st := h.cur.Load()
	if st == nil || pr.Seq < st.firstSeq {
		return // between steps, or a late delivery from an earlier step
	}
	c.mu.Lock()
	c.samples = append(c.samples, now-pr.TS)
	c.mu.Unlock()
	st.received.Add(1)
	if now > st.lastRecv.Load() {
		st.lastRecv.Store(now) // racy max; close enough for a rate
	}
	if !pr.Ordered {
		st.disorder.Add(1)
	}
	if c.group < len(st.groups) {
		g := &st.groups[c.group]
		g.received.Add(1)
		if now > g.lastRecv.Load() {
			g.lastRecv.Store(now)
		}
		if !pr.Ordered {
			g.disorder.Add(1)
		}
	}
}

// ConnectStats reports how a batch of connections went.
type ConnectStats struct {
	// Attempted is the number of clients dialled.
	Attempted int `json:"attempted"`
	// Connected is how many completed the Socket.IO handshake.
	Connected int `json:"connected"`
	// Errors is how many failed.
	Errors int `json:"errors"`
	// Concurrency is the maximum number of handshakes in flight.
	Concurrency int `json:"concurrency"`
	// Seconds is the wall time from the first dial to the last handshake.
	Seconds float64 `json:"seconds"`
	// PerSecond is Connected / Seconds.
	PerSecond float64 `json:"connects_per_s"`
	// Latency is the distribution of single-handshake times.
	Latency Summary `json:"handshake_latency"`
}

// dialSpec says where client i of a batch connects and what it does.
type dialSpec struct {
	url   string // websocket URL
	role  role
	group int // receiver group
}

// connectAll dials n clients, client i as specOf(i) says, with at most
// conc handshakes in flight, and starts their read loops. The clients
// returned are those that connected, in the order of i.
func (h *hub) connectAll(ctx context.Context, d *websocket.Dialer, n, conc int, specOf func(i int) dialSpec) ([]*client, ConnectStats) {
	if conc < 1 {
		conc = 1
	}
	clients := make([]*client, n)
	lat := make([]int64, n)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < min(conc, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				sp := specOf(i)
				c, err := dial(ctx, d, sp.url, sp.role)
				if err != nil {
					failed.Add(1)
					h.noteErr(fmt.Errorf("connect: %w", err))
					lat[i] = -1
					continue
				}
				lat[i] = int64(time.Since(t0))
				c.group = sp.group
				clients[i] = c
				h.wg.Add(1)
				go h.readLoop(c)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	ok := clients[:0]
	okLat := lat[:0]
	for i, c := range clients {
		if c != nil {
			ok = append(ok, c)
			okLat = append(okLat, lat[i])
		}
	}
	st := ConnectStats{
		Attempted:   n,
		Connected:   len(ok),
		Errors:      int(failed.Load()),
		Concurrency: conc,
		Seconds:     float64(elapsed.Round(time.Millisecond)) / 1e9,
		PerSecond:   PerSecond(int64(len(ok)), elapsed),
		Latency:     Summarize(okLat),
	}
	return ok, st
}

// closeAll closes every connection and waits for the read loops.
func (h *hub) closeAll(clients []*client) {
	h.stopping.Store(true)
	for _, c := range clients {
		_ = c.conn.Close()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}
