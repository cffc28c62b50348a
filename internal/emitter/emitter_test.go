package emitter

import (
	"testing"
)

type holder struct{ n int }

func (h *holder) on(...any) { h.n++ }

// TestEmitterRemovesMethodValues checks what the Socket.IO layer relies
// on: a listener registered as a method value is removed by the same
// method value, Once fires once, and a panicking listener does not stop
// the others.
func TestEmitterRemovesMethodValues(t *testing.T) {
	var e Emitter
	h := &holder{}
	_ = e.On("data", h.on)
	_ = e.Once("close", h.on)
	_ = e.On("data", func(...any) { panic("listener failure") })
	e.Emit("data")
	e.Emit("close")
	e.Emit("close")
	if h.n != 2 {
		t.Fatalf("listener ran %d times, want 2 (data, then close once)", h.n)
	}
	if !e.RemoveListener("data", h.on) {
		t.Fatal("RemoveListener did not find the method value")
	}
	e.Emit("data")
	if h.n != 2 || e.ListenerCount("data") != 1 || e.ListenerCount("close") != 0 {
		t.Errorf("after removal: ran %d times, %d data and %d close listeners; want 2, 1, 0", h.n, e.ListenerCount("data"), e.ListenerCount("close"))
	}
}
