package router

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// scriptedListener returns its errors in turn from Accept, then conns
// connections, then blocks until closed.
type scriptedListener struct {
	net.Listener // nil: only Accept and Close are used
	errs         []error
	conns        int
	closed       chan struct{}
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	if l.conns > 0 {
		l.conns--
		c, _ := net.Pipe()
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *scriptedListener) Close() error { close(l.closed); return nil }

func TestFDLimitedListener(t *testing.T) {
	emfile := fmt.Errorf("accept tcp: %w", syscall.EMFILE)
	tests := []struct {
		name        string
		errs        []error
		reserve     int
		wantErr     error
		wantLogs    int
		wantReserve int
	}{
		{"rides out EMFILE and ENFILE", []error{emfile, emfile, syscall.ENFILE}, 0, nil, 3, 0},
		{"other errors pass through", []error{errors.New("boom")}, 0, errors.New("boom"), 0, 0},
		{"a reserve is spent at once", []error{emfile, emfile}, 3, nil, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			r := &Router{limited: newLimitLog(zap.New(core), prometheus.NewRegistry())}
			var res *fdReserve
			if tc.reserve > 0 {
				res = newFDReserve(tc.reserve)
				defer res.close()
			}
			ln := r.fdListener(&scriptedListener{errs: tc.errs, conns: 1, closed: make(chan struct{})}, "public", res)
			c, err := ln.Accept()
			if tc.wantErr != nil {
				if err == nil || err.Error() != tc.wantErr.Error() {
					t.Fatalf("Accept: %v, want %v", err, tc.wantErr)
				}
				if c, err = ln.Accept(); err != nil { // the connection after the error
					t.Fatalf("Accept after the error: %v", err)
				}
			} else if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if n := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessage(fdHint).Len(); n != tc.wantLogs {
				t.Errorf("%d error lines, want %d", n, tc.wantLogs)
			}
			if got := testutil.ToFloat64(r.limited.count.WithLabelValues("open_files")); got != float64(tc.wantLogs) {
				t.Errorf("limited_total{open_files} %v, want %v", got, tc.wantLogs)
			}
			defer c.Close()
			if res != nil {
				if len(res.files) != tc.wantReserve {
					t.Errorf("%d descriptors in reserve, want %d", len(res.files), tc.wantReserve)
				}
				c.Close() // gives one back
				if len(res.files) != tc.reserve {
					t.Errorf("%d descriptors in reserve after close, want %d", len(res.files), tc.reserve)
				}
			}
			// Close ends an Accept that waits.
			done := make(chan error, 1)
			go func() { _, err := ln.Accept(); done <- err }()
			ln.Close()
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept after Close: %v", err)
			}
		})
	}
}
