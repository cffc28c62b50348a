package engine_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router/engine"
	"github.com/eventrouter/eventrouter/router/wsaccept"
	"github.com/eventrouter/eventrouter/router/wstransport"
	ws "github.com/gorilla/websocket"
	libengine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/config"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"go.uber.org/zap"
)

// The protocol suite's settings.
const (
	pingInterval = 300 * time.Millisecond
	pingTimeout  = 200 * time.Millisecond
	maxPayload   = 1_000_000
	// wait bounds every wait for the server; nothing sleeps.
	wait = 5 * time.Second
)

// engines are the Engine.IO servers under test: the library's, and ours
// with its poller (epoll) and with a reading goroutine per websocket.
var engines = []string{"library", "builtin", "builtin-goroutines"}

// engineKind is "library" or "builtin": the engine, whatever its reader.
func engineKind(name string) string {
	if name == "library" {
		return name
	}
	return "builtin"
}

// target is one running server.
type target struct {
	engine string
	base   string      // http://127.0.0.1:port/socket.io/
	closes chan string // the server side's close reasons, in order
}

// newEngine builds one of the engines with the suite's settings: the
// library's with polling and the router's websocket transport, or ours.
func newEngine(name string) (libengine.BaseServer, http.Handler) {
	switch name {
	case "library":
		opts := config.DefaultServerOptions()
		opts.SetPingInterval(pingInterval)
		opts.SetPingTimeout(pingTimeout)
		opts.SetMaxHttpBufferSize(maxPayload)
		ts := types.NewSet[transports.TransportCtor](&transports.PollingBuilder{}, wstransport.NewBuilder(wstransport.Options{}))
		opts.SetTransports(ts)
		s := libengine.NewServer(opts)
		return s, s
	default:
		s := engine.New(engine.Options{PingInterval: pingInterval, PingTimeout: pingTimeout, MaxPayload: maxPayload, Polling: true,
			ReadGoroutines: name == "builtin-goroutines"})
		return s, s
	}
}

// serve serves h on a random port, as the daemon serves it: the builtin
// engine behind router/wsaccept, which takes websocket upgrades that open
// a connection away from net/http; the library's engine behind net/http
// alone.
func serve(name string, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	if engineKind(name) == "builtin" {
		srv.Listener = wsaccept.New(srv.Listener, h, wait, zap.NewNop())
	}
	srv.Start()
	return srv
}

// startEIO serves a bare Engine.IO echo server: every message comes back.
func startEIO(t *testing.T, name string) *target {
	t.Helper()
	eng, h := newEngine(name)
	tg := &target{engine: name, closes: make(chan string, 16)}
	_ = eng.On("connection", func(args ...any) {
		conn := args[0].(libengine.Socket)
		_ = conn.On("data", func(a ...any) {
			conn.Send(a[0].(types.BufferInterface), nil, nil)
		})
		_ = conn.Once("close", func(a ...any) {
			reason, _ := a[0].(string)
			tg.closes <- reason
		})
	})
	srv := serve(name, h)
	t.Cleanup(func() { eng.Close(); srv.Close() })
	tg.base = srv.URL + "/engine.io/"
	return tg
}

// startSIO serves Socket.IO on one of the engines, with the suite's
// handlers on "/" and "/custom": "auth" sent on connect, "message"
// echoed as "message-back", "message-with-ack" acknowledged with its
// arguments.
func startSIO(t *testing.T, name string) *target {
	t.Helper()
	return startSIOPing(t, name, pingInterval, pingTimeout)
}

// startSIOPing is startSIO with another heartbeat.
func startSIOPing(t *testing.T, name string, interval, timeout time.Duration) *target {
	t.Helper()
	h, tg, stop := newSIO(t, name, interval, timeout)
	srv := serve(name, h)
	t.Cleanup(func() { stop(); srv.Close() }) // sessions first: a held poll would keep srv.Close waiting
	tg.base = srv.URL + "/socket.io/"
	return tg
}

// newSIO builds startSIO's server without serving it: its handler, the
// target to which it reports closes, and what stops it.
func newSIO(t *testing.T, name string, interval, timeout time.Duration) (http.Handler, *target, func()) {
	t.Helper()
	opts := socket.DefaultServerOptions()
	opts.SetPingInterval(interval)
	opts.SetPingTimeout(timeout)
	opts.SetMaxHttpBufferSize(maxPayload)
	opts.SetServeClient(false)
	io := socket.NewServer(nil, opts)
	var h http.Handler
	var eng libengine.BaseServer
	if name == "library" {
		h = io.ServeHandler(nil)
		eng = io.Engine()
	} else {
		e := engine.New(engine.Options{PingInterval: interval, PingTimeout: timeout, MaxPayload: maxPayload, Polling: true,
			ReadGoroutines: name == "builtin-goroutines"})
		io.Bind(e)
		h, eng = e, e
	}
	tg := &target{engine: name, closes: make(chan string, 16)}
	_ = eng.On("connection", func(args ...any) {
		_ = args[0].(libengine.Socket).Once("close", func(a ...any) {
			reason, _ := a[0].(string)
			tg.closes <- reason
		})
	})
	onConnect := func(args ...any) {
		s := args[0].(*socket.Socket)
		auth := s.Handshake().Auth
		if auth == nil {
			auth = map[string]any{}
		}
		_ = s.Emit("auth", auth)
		_ = s.On("message", func(a ...any) { _ = s.Emit("message-back", a...) })
		_ = s.On("message-with-ack", func(a ...any) {
			if ack, ok := a[len(a)-1].(socket.Ack); ok {
				ack(a[:len(a)-1], nil)
			}
		})
	}
	_ = io.On("connection", onConnect)
	_ = io.Of("/custom", nil).On("connection", onConnect)
	return h, tg, func() { io.Close(nil) }
}

// reason waits for the server to close a connection and returns why.
func (tg *target) reason(t *testing.T) string {
	t.Helper()
	select {
	case r := <-tg.closes:
		return r
	case <-time.After(wait):
		t.Fatalf("%s: the server did not close the connection", tg.engine)
		return ""
	}
}

func (tg *target) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(tg.base, "http") + "?" + query
}

// client is a raw websocket client; gorilla buffers what it reads, so two
// frames in one TCP segment are two messages.
type client struct {
	t    *testing.T
	conn *ws.Conn
}

// dial opens a websocket with query, or fails the test.
func dial(t *testing.T, tg *target, query string) *client {
	t.Helper()
	c, resp, err := ws.DefaultDialer.Dial(tg.wsURL(query), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial %s: %v (HTTP %d)", tg.engine, query, err, status)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, conn: c}
}

// dialStatus tries a websocket handshake with query and returns the HTTP
// status of the refusal, or 101.
func dialStatus(tg *target, query string) int {
	c, resp, err := ws.DefaultDialer.Dial(tg.wsURL(query), nil)
	if err == nil {
		_ = c.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// refusedAfterUpgrade reports whether a websocket handshake with query
// is accepted and then closed without an open packet.
func refusedAfterUpgrade(tg *target, query string) bool {
	c, _, err := ws.DefaultDialer.Dial(tg.wsURL(query), nil)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return true
		}
		if strings.HasPrefix(string(data), "0") {
			return false
		}
	}
}

// open dials an Engine.IO v4 websocket session and reads its open packet.
func open(t *testing.T, tg *target) (*client, map[string]any) {
	t.Helper()
	c := dial(t, tg, "EIO=4&transport=websocket")
	first := c.text()
	if !strings.HasPrefix(first, "0") {
		t.Fatalf("%s: first packet %q, want an open packet", tg.engine, first)
	}
	var hs map[string]any
	if err := json.Unmarshal([]byte(first[1:]), &hs); err != nil {
		t.Fatalf("%s: open packet %q: %v", tg.engine, first, err)
	}
	return c, hs
}

// read returns the next message other than a ping.
func (c *client) read() (int, []byte) {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(wait))
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if mt == ws.TextMessage && string(data) == "2" {
			continue
		}
		return mt, data
	}
}

// text returns the next text message other than a ping.
func (c *client) text() string {
	c.t.Helper()
	mt, data := c.read()
	if mt != ws.TextMessage {
		c.t.Fatalf("got a binary message %v, want text", data)
	}
	return string(data)
}

// binary returns the next binary message.
func (c *client) binary() []byte {
	c.t.Helper()
	mt, data := c.read()
	if mt != ws.BinaryMessage {
		c.t.Fatalf("got text %q, want a binary message", data)
	}
	return data
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(ws.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

func (c *client) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(ws.BinaryMessage, b); err != nil {
		c.t.Fatalf("send %v: %v", b, err)
	}
}

// closed waits until the server closes the connection, answering nothing
// (pings included), and returns the close frame's code, or -1 when the
// connection ended without one.
func (c *client) closed() int {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := c.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *ws.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("the server did not close the connection")
		}
		return -1
	}
}

// raw writes bytes straight to the connection, below gorilla.
func (c *client) raw(b []byte) {
	c.t.Helper()
	if _, err := c.conn.NetConn().Write(b); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

// maskedFrame builds a client frame (RFC 6455 §5.2), masked as clients must.
func maskedFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i&3])
	}
	return out
}

// rawHandshake dials tg over TCP and writes the websocket handshake with
// extra right behind it in the same write, then returns the connection
// and a reader positioned after the 101 response.
func rawHandshake(t *testing.T, tg *target, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	u, err := url.Parse(tg.base)
	if err != nil {
		t.Fatal(err)
	}
	host, path := u.Host, u.Path
	nc, err := net.DialTimeout("tcp", host, wait)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := fmt.Sprintf("GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n",
		path, host, base64.StdEncoding.EncodeToString(key[:]))
	_ = nc.SetDeadline(time.Now().Add(wait))
	if _, err := nc.Write(append([]byte(req), extra...)); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

// readServerFrame reads one unmasked server frame.
func readServerFrame(t *testing.T, r io.Reader) (byte, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		_, _ = io.ReadFull(r, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, _ = io.ReadFull(r, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return h[0] & 0x0F, p
}

// httpDo sends method to tg's path with query and body and returns the
// status and response body, or fails the test.
func httpDo(t *testing.T, tg *target, method, query, body string) (int, string) {
	t.Helper()
	code, resp, err := httpTry(tg, method, query, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, query, err)
	}
	return code, resp
}

// httpTry is httpDo for goroutines other than the test's: it returns the
// error instead of failing the test.
func httpTry(tg *target, method, query, body string) (int, string, error) {
	req, err := http.NewRequest(method, tg.base+"?"+query, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Timeout: wait}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
