// Package wsaccept serves websocket upgrades that open a connection
// without net/http's per-connection machinery.
//
// net/http gives every connection a 4 KiB read buffer and a 4 KiB write
// buffer, and Hijack adds another 4 KiB writer; a hijacked websocket never
// uses them again, so each upgrade leaves about 12 KB of garbage. Under a
// burst of connections that garbage sets how far the heap grows between
// collections, and so the process's resident memory per connection.
//
// A Listener looks at each new TCP connection's first request with
// MSG_PEEK, which leaves the bytes in the kernel. When it is a websocket
// upgrade (GET, HTTP/1.1, Upgrade: websocket, no body) the Listener reads
// it into a pooled buffer, hands it to the handler with a ResponseWriter
// that hijacks to the bare connection, and net/http never sees the
// connection. Anything else, or a request it cannot peek in one buffer,
// is handed on untouched to the http.Server that accepts from the
// Listener, which reads it as if it came straight from the kernel.
package wsaccept

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// peekSize bounds the first request the Listener serves itself; a larger
// one (a browser with many cookies) goes to net/http, which has its own
// limit (http.Server.MaxHeaderBytes).
const peekSize = 4096

// errHeaderTooBig says a first request did not fit in one peek buffer.
var errHeaderTooBig = errors.New("request header larger than the peek buffer")

// Listener wraps the listener of an http.Server; see the package doc.
type Listener struct {
	inner         net.Listener
	handler       http.Handler
	headerTimeout time.Duration
	log           *zap.Logger

	handed    chan net.Conn // connections for the http.Server
	done      chan struct{} // closed by Close, or when inner fails
	startOnce sync.Once
	closeOnce sync.Once
	errMu     sync.Mutex
	err       error // why Accept fails: inner's error, or net.ErrClosed

	bufs    sync.Pool // *[peekSize]byte
	readers sync.Pool // *bufio.Reader, reset on each peeked header
}

// New wraps ln. Websocket upgrades that open a connection go to h, at
// most headerTimeout after the connection was accepted (0: no limit);
// every other connection is returned by Accept. log records a handler's
// panic.
func New(ln net.Listener, h http.Handler, headerTimeout time.Duration, log *zap.Logger) *Listener {
	l := &Listener{
		inner: ln, handler: h, headerTimeout: headerTimeout, log: log,
		handed: make(chan net.Conn), done: make(chan struct{}),
	}
	l.bufs.New = func() any { return new([peekSize]byte) }
	l.readers.New = func() any { return bufio.NewReaderSize(nil, peekSize) }
	return l
}

// Accept returns the next connection net/http is to serve.
func (l *Listener) Accept() (net.Conn, error) {
	l.startOnce.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.handed:
		return c, nil
	case <-l.done:
		l.errMu.Lock()
		defer l.errMu.Unlock()
		return nil, l.err
	}
}

// Close closes the wrapped listener. Connections whose first request is
// still being looked at are closed when they would be handed on;
// upgrades already identified are still served (the handler refuses them
// when it is shutting down).
func (l *Listener) Close() error {
	err := l.inner.Close()
	l.stop(net.ErrClosed)
	return err
}

// Addr is the wrapped listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

func (l *Listener) stop(err error) {
	l.closeOnce.Do(func() {
		l.errMu.Lock()
		l.err = err
		l.errMu.Unlock()
		close(l.done)
	})
}

// acceptLoop accepts from the wrapped listener until it fails; its error
// is what Accept then returns (the wrapped listener retries what can be
// retried, see router's fdLimitedListener).
func (l *Listener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			l.stop(err)
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			go l.serve(tc)
			continue
		}
		l.handOn(c)
	}
}

// handOn gives c to the http.Server, or closes it once the Listener is
// closed.
func (l *Listener) handOn(c net.Conn) {
	select {
	case l.handed <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// serve serves c's first request when it is a websocket upgrade, and
// hands c on otherwise.
func (l *Listener) serve(c *net.TCPConn) {
	if l.headerTimeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(l.headerTimeout))
	}
	buf := l.bufs.Get().(*[peekSize]byte)
	req, n := l.firstUpgrade(c, buf[:])
	if req == nil {
		l.bufs.Put(buf)
		// Not ours: net/http reads the request from the kernel, with its
		// own deadlines (it sets them on every request).
		_ = c.SetReadDeadline(time.Time{})
		l.handOn(c)
		return
	}
	_, err := io.ReadFull(c, buf[:n]) // the peeked header, now taken
	l.bufs.Put(buf)
	if err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	req.RemoteAddr = c.RemoteAddr().String()
	w := &responseWriter{conn: c, header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			l.log.Error("panic serving a websocket upgrade", zap.String("address", req.RemoteAddr),
				zap.String("path", req.URL.Path), zap.Any("panic", p), zap.Stack("stack"))
			if !w.hijacked {
				_ = c.Close()
			}
		}
	}()
	l.handler.ServeHTTP(w, req)
	if !w.hijacked {
		w.finish(req)
	}
}

// firstUpgrade peeks c's first request into buf and parses it. It returns
// the request and the length of its header when it is a websocket upgrade
// the Listener serves itself, and nil otherwise.
func (l *Listener) firstUpgrade(c *net.TCPConn, buf []byte) (*http.Request, int) {
	n, err := peekHeader(c, buf)
	if err != nil {
		return nil, 0
	}
	br := l.readers.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(buf[:n]))
	req, err := http.ReadRequest(br)
	br.Reset(nil)
	l.readers.Put(br)
	if err != nil || !isOpeningUpgrade(req) {
		return nil, 0
	}
	return req, n
}

// isOpeningUpgrade reports whether req is a websocket upgrade the
// Listener may serve: net/http would hand it to the handler unchanged.
func isOpeningUpgrade(req *http.Request) bool {
	return req.Method == http.MethodGet && req.ProtoMajor == 1 && req.ProtoMinor == 1 &&
		req.Host != "" && req.ContentLength == 0 && len(req.TransferEncoding) == 0 &&
		strings.EqualFold(req.Header.Get("Upgrade"), "websocket")
}

// responseWriter is what the handler writes to: a hijack hands it the
// connection itself; any other answer is buffered and written, with
// "Connection: close", when the handler returns.
type responseWriter struct {
	conn     *net.TCPConn
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Hijacker       = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

// Header returns the response's headers.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader records the status; the first one counts.
func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 && !w.hijacked {
		w.status = status
	}
}

// Write buffers body bytes.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush does nothing: the answer is written when the handler returns.
func (w *responseWriter) Flush() {}

// SetReadDeadline sets the connection's read deadline (for
// http.ResponseController).
func (w *responseWriter) SetReadDeadline(t time.Time) error { return w.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline (for
// http.ResponseController).
func (w *responseWriter) SetWriteDeadline(t time.Time) error { return w.conn.SetWriteDeadline(t) }

// Hijack hands over the connection. Nothing is buffered: the request's
// header was taken from the kernel to its last byte, so what the client
// sent after it is still there to be read.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.status != 0 {
		return nil, nil, fmt.Errorf("hijack after the status %d was written", w.status)
	}
	w.hijacked = true
	return w.conn, bufio.NewReadWriter(bufio.NewReaderSize(w.conn, 16), bufio.NewWriterSize(w.conn, 16)), nil
}

// finish writes the buffered answer, as net/http would, and closes the
// connection.
func (w *responseWriter) finish(req *http.Request) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	h := w.header
	if h.Get("Content-Type") == "" && w.body.Len() > 0 {
		h.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.Itoa(w.body.Len()))
	resp := &http.Response{
		StatusCode: w.status, ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Close: true, Request: req,
	}
	_ = w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_ = resp.Write(w.conn)
	_ = w.conn.Close()
}

// writeTimeout bounds writing a refusal to a client that does not read.
const writeTimeout = 10 * time.Second
