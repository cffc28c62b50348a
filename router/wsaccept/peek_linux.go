package wsaccept

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
)

// peekHeader peeks at c's first bytes, without taking them from the
// kernel, until they hold a whole request header, and returns its length.
// It waits for more bytes as they come, until c's read deadline.
func peekHeader(c *net.TCPConn, buf []byte) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			m, _, e := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
			switch {
			case errors.Is(e, syscall.EINTR):
				continue
			case errors.Is(e, syscall.EAGAIN):
				return false // wait for bytes
			case e != nil:
				perr = e
				return true
			case m == 0:
				perr = io.EOF
				return true
			}
			if end := bytes.Index(buf[:m], []byte("\r\n\r\n")); end >= 0 {
				n = end + 4
				return true
			}
			if m == len(buf) {
				perr = errHeaderTooBig
				return true
			}
			// Part of the header: wait for more. The poller signals only
			// new bytes, so this does not spin.
			return false
		}
	})
	if err != nil {
		return 0, err
	}
	return n, perr
}
