package router

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// releasingWriter wraps the ResponseWriter handed to the library's Engine.IO server.
// The engine keeps each connection's handshake context, ResponseWriter
// included, for the connection's life; net/http's ResponseWriter in turn
// keeps its connection's 4 KiB read and write buffers, which a hijacked
// websocket never uses again. Once the engine hijacks the connection, this
// wrapper drops its reference, so those buffers (about 9 KB per websocket
// client in heap profiles) are freed.
type releasingWriter struct {
	mu       sync.Mutex
	w        http.ResponseWriter // nil once hijacked
	header   http.Header
	hijacked bool
}

var (
	_ http.ResponseWriter = (*releasingWriter)(nil)
	_ http.Hijacker       = (*releasingWriter)(nil)
	_ http.Flusher        = (*releasingWriter)(nil)
)

func (rw *releasingWriter) inner() http.ResponseWriter {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.w
}

// Header returns the response headers; after a hijack, a detached map.
func (rw *releasingWriter) Header() http.Header {
	if w := rw.inner(); w != nil {
		return w.Header()
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.header == nil {
		rw.header = http.Header{}
	}
	return rw.header
}

// Write writes body bytes, or fails after a hijack.
func (rw *releasingWriter) Write(b []byte) (int, error) {
	if w := rw.inner(); w != nil {
		return w.Write(b)
	}
	return 0, http.ErrHijacked
}

// WriteHeader writes the status, unless hijacked.
func (rw *releasingWriter) WriteHeader(status int) {
	if w := rw.inner(); w != nil {
		w.WriteHeader(status)
	}
}

// Flush flushes buffered data, unless hijacked.
func (rw *releasingWriter) Flush() {
	if f, ok := rw.inner().(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack takes the connection over and forgets the ResponseWriter.
func (rw *releasingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	h, ok := rw.w.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	conn, brw, err := h.Hijack()
	if err == nil {
		rw.w, rw.hijacked = nil, true
	}
	return conn, brw, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (rw *releasingWriter) Unwrap() http.ResponseWriter { return rw.inner() }
