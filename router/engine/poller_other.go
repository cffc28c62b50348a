//go:build !linux

package engine

import (
	"errors"
	"net"
)

// poller is Linux-only (epoll); elsewhere every websocket is read by a
// goroutine of its own.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("engine: no epoll on this platform") }

func (p *poller) watch(*Conn, net.Conn) bool { return false }

func (p *poller) unwatch(*Conn) {}

func (p *poller) close() {}

func (r *reader) readOnce([]byte) (int, bool) { return 0, true }
