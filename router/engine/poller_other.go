//go:build !linux

package engine

import (
	"errors"
	"syscall"
)

// poller is Linux-only (epoll); elsewhere every websocket is read by a
// goroutine of its own.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("engine: no epoll on this platform") }

func (p *poller) watch(*Conn, syscall.RawConn) bool { return false }

func (p *poller) unwatch(*Conn) {}

func (p *poller) close() {}

func readNow(syscall.RawConn, []byte) (int, bool) { return 0, true }

// writeNow writes nothing: every frame goes through the writer goroutine.
func writeNow(syscall.RawConn, []byte) (int, error) { return 0, nil }
