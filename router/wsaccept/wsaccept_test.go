package wsaccept_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router/wsaccept"
	"go.uber.org/zap"
)

const wait = 5 * time.Second

// served is what the handler saw of one request.
type served struct {
	writer string // the ResponseWriter's type: who served the request
	path   string
	remote string
	header http.Header
	after  string // with ?hijack: what the client sent after the header
}

// serve runs an http.Server on a wsaccept.Listener over a random port. Its
// handler reports each request on the returned channel and answers by its
// path: /hijack hijacks and reads 5 bytes, /refuse answers 403, /panic
// panics, anything else answers 200 "ok".
func serve(t *testing.T) (string, <-chan served) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan served, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := served{writer: fmt.Sprintf("%T", w), path: r.URL.Path, remote: r.RemoteAddr, header: r.Header}
		switch r.URL.Path {
		case "/hijack":
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = c.SetDeadline(time.Now().Add(wait))
			b := make([]byte, 5)
			if _, err := io.ReadFull(brw, b); err != nil {
				t.Errorf("reading after the hijack: %v", err)
			}
			s.after = string(b)
			_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
			seen <- s
			_ = c.Close()
			return
		case "/refuse":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"origin not allowed"}`))
		case "/panic":
			seen <- s
			panic("handler failed")
		default:
			_, _ = w.Write([]byte("ok"))
		}
		seen <- s
	})
	l := wsaccept.New(ln, h, wait, zap.NewNop())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: wait}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), seen
}

func upgrade(path string, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// send dials addr and writes each of writes, in its own write; the
// connection closes with the test.
func send(t *testing.T, addr string, writes ...string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	for _, w := range writes {
		if _, err := c.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestListener(t *testing.T) {
	const ours, netHTTP = "*wsaccept.responseWriter", "*http.response"
	tests := []struct {
		name   string
		writes []string // what the client sends, write by write
		writer string   // who must serve it
		status string   // the response's status line; "" for the hijack
		after  string   // bytes read after a hijack
	}{
		{"upgrade hijacked, the next frame left in the kernel", []string{upgrade("/hijack", "") + "frame"}, ours, "HTTP/1.1 101 Switching Protocols", "frame"},
		{"upgrade whose header comes in pieces", []string{"GET /hijack HTTP/1.1\r\nHost: ex", "ample\r\nUpgrade: websocket\r\n", "\r\n", "frame"}, ours, "HTTP/1.1 101 Switching Protocols", "frame"},
		{"upgrade refused: a whole response", []string{upgrade("/refuse", "")}, ours, "HTTP/1.1 403 Forbidden", ""},
		{"plain request: net/http", []string{"GET /plain HTTP/1.1\r\nHost: example\r\n\r\n"}, netHTTP, "HTTP/1.1 200 OK", ""},
		{"upgrade over HTTP/1.0: net/http", []string{"GET /plain HTTP/1.0\r\nHost: example\r\nUpgrade: websocket\r\n\r\n"}, netHTTP, "HTTP/1.0 200 OK", ""},
		{"upgrade with a body: net/http", []string{upgrade("/plain", "Content-Length: 2\r\n") + "{}"}, netHTTP, "HTTP/1.1 200 OK", ""},
		{"upgrade without a Host: net/http refuses it", []string{"GET /plain HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"}, "", "HTTP/1.1 400 Bad Request: missing required Host header", ""},
		{"upgrade larger than the peek buffer: net/http", []string{upgrade("/plain", "Cookie: "+strings.Repeat("c", 5000)+"\r\n")}, netHTTP, "HTTP/1.1 200 OK", ""},
		{"POST: net/http", []string{"POST /plain HTTP/1.1\r\nHost: example\r\nContent-Length: 0\r\n\r\n"}, netHTTP, "HTTP/1.1 200 OK", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, seen := serve(t)
			c := send(t, addr, tt.writes...)
			br := bufio.NewReader(c)
			status, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			if got := strings.TrimSpace(status); got != tt.status {
				t.Errorf("status line %q, want %q", got, tt.status)
			}
			if tt.writer == "" {
				return
			}
			var s served
			select {
			case s = <-seen:
			case <-time.After(wait):
				t.Fatal("the handler never saw the request")
			}
			if s.writer != tt.writer {
				t.Errorf("served by %s, want %s", s.writer, tt.writer)
			}
			if s.remote != c.LocalAddr().String() {
				t.Errorf("RemoteAddr %q, want %q", s.remote, c.LocalAddr())
			}
			if s.after != tt.after {
				t.Errorf("read %q after the hijack, want %q", s.after, tt.after)
			}
		})
	}
}

// TestRefusalIsWholeResponse: an upgrade the handler refuses gets its
// headers and body, and the connection closes after them.
func TestRefusalIsWholeResponse(t *testing.T) {
	addr, _ := serve(t)
	c := send(t, addr, upgrade("/refuse", "Origin: https://evil.example\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	if resp.StatusCode != http.StatusForbidden || string(body) != `{"error":"origin not allowed"}` ||
		resp.Header.Get("Content-Type") != "application/json" || !resp.Close || resp.Header.Get("Date") == "" {
		t.Errorf("got %d %q, headers %v, close %v", resp.StatusCode, body, resp.Header, resp.Close)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the response: read %d, %v; want EOF", n, err)
	}
}

// TestPanicDropsOnlyItsConnection: a handler's panic on an upgrade closes
// that connection; the listener serves the next one.
func TestPanicDropsOnlyItsConnection(t *testing.T) {
	addr, seen := serve(t)
	c := send(t, addr, upgrade("/panic", ""))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the panic: read %d, %v; want EOF", n, err)
	}
	<-seen
	resp, err := (&http.Client{Timeout: wait}).Get("http://" + addr + "/plain")
	if err != nil {
		t.Fatalf("the next request: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the next request: %s", resp.Status)
	}
}

// TestCloseEndsAccept: once closed, Accept fails with net.ErrClosed.
func TestCloseEndsAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := wsaccept.New(ln, http.NotFoundHandler(), wait, zap.NewNop())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != net.ErrClosed {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Accept did not return after Close")
	}
}
