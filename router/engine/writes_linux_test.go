package engine_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIdleWritesAreSeparate checks the low-load write-through: on an idle
// connection the server's own packets (the CONNECT ack, then the "auth"
// event emitted in the connection handler) leave in separate writes, as
// Node writes them, and not batched into one. The server is served over a
// SOCK_SEQPACKET socket pair, which keeps the boundaries of every write:
// each read on the client's end returns exactly one server write. (With
// the poller only: a reading goroutine's one-byte read would cut the
// client's records; the write path is the same.)
func TestIdleWritesAreSeparate(t *testing.T) {
	h, _, stop := newSIO(t, "builtin", pingInterval, pingTimeout)
	t.Cleanup(stop)
	client := serveSeqpacket(t, h)

	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(client, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(key[:]))
	first := readRecord(t, client) // the 101 and the open packet, one write
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(first)), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if _, err := client.Write(maskedFrame(true, 1, []byte("40"))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`40{"sid":`, `42["auth",`} {
		op, payload, rest := splitFrame(t, readRecord(t, client))
		for op == 1 && string(payload) == "2" && len(rest) == 0 { // a ping, alone: the heartbeat is short here
			op, payload, rest = splitFrame(t, readRecord(t, client))
		}
		if op != 1 || !strings.HasPrefix(string(payload), want) {
			t.Fatalf("write holds %q (opcode %d), want a text frame starting %s", payload, op, want)
		}
		if len(rest) > 0 {
			t.Fatalf("the write after %q also holds %q: packets of an idle socket were batched", payload, rest)
		}
	}
}

// serveSeqpacket serves h on one end of a SOCK_SEQPACKET socket pair and
// returns the other end.
func serveSeqpacket(t *testing.T, h http.Handler) net.Conn {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conn := func(fd int, name string) net.Conn {
		f := os.NewFile(uintptr(fd), name)
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			t.Fatalf("FileConn: %v", err)
		}
		return c
	}
	server, client := conn(fds[0], "server"), conn(fds[1], "client")
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(&oneConnListener{c: server}) }()
	t.Cleanup(func() { _ = client.Close(); _ = srv.Close() })
	return client
}

// readRecord reads one record: one write of the server.
func readRecord(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n]
}

// splitFrame splits an unmasked server frame off b.
func splitFrame(t *testing.T, b []byte) (op byte, payload, rest []byte) {
	t.Helper()
	if len(b) < 2 || b[1]&0x7F >= 126 {
		t.Fatalf("not a short server frame: %q", b)
	}
	n := int(b[1] & 0x7F)
	if len(b) < 2+n {
		t.Fatalf("truncated frame: %q", b)
	}
	return b[0] & 0x0F, b[2 : 2+n], b[2+n:]
}

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	c      net.Conn
	once   sync.Once
	closed chan struct{}
	mu     sync.Mutex
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed == nil {
		l.closed = make(chan struct{})
	}
	c, closed := l.c, l.closed
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.mu.Lock()
	if l.closed == nil {
		l.closed = make(chan struct{})
	}
	closed := l.closed
	l.mu.Unlock()
	l.once.Do(func() { close(closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.UnixAddr{Name: "seqpacket", Net: "unixpacket"} }
