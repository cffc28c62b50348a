// Package siolog silences the socket.io library's own logger. The library
// captures its log output when its packages initialise, so this package must
// be imported (blank) by main: its import path sorts before the library's,
// so its init runs first. eventrouter recovers and logs handler panics
// itself, with zap, so nothing of value is lost.
package siolog

import (
	"io"

	sioLog "github.com/zishang520/socket.io/v3/pkg/log"
)

func init() {
	sioLog.Output = io.Discard
}
