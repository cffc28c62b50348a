package engine_test

import (
	"fmt"
	"testing"
	"time"
)

// TestRoundTrips sends messages one at a time and waits for each echo:
// nothing may be lost between the reader, the handler and the writer.
func TestRoundTrips(t *testing.T) {
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			tg := startSIOPing(t, name, 25*time.Second, 20*time.Second) // no pings to answer
			c := connectSIO(t, tg)
			for i := range 3000 {
				c.send(fmt.Sprintf(`42["message",%d]`, i))
				if got, want := c.text(), fmt.Sprintf(`42["message-back",%d]`, i); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
		})
	}
}
