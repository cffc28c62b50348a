//go:build !linux

package wsaccept

import (
	"errors"
	"net"
)

// peekHeader is Linux-only; elsewhere every connection goes to net/http.
func peekHeader(*net.TCPConn, []byte) (int, error) {
	return 0, errors.New("peeking is not supported on this platform")
}
