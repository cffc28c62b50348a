// Package emitter is a small types.EventEmitter for objects the library's
// Socket.IO layer listens to (an Engine.IO connection, a packet decoder):
// one slice of listeners under a mutex. The library's emitter keeps a
// concurrent map of slices per object, about 1 KB for the few listeners
// such an object has; this one costs 32 bytes a listener.
package emitter

import (
	"reflect"
	"sync"

	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Emitter is a types.EventEmitter; its zero value is ready to use.
// Listeners run in registration order; one that panics is recovered, so
// one bad listener cannot take the daemon down.
type Emitter struct {
	mu sync.Mutex
	ls []listener
}

type listener struct {
	ev   types.EventName
	fn   types.EventListener
	once bool
}

var _ types.EventEmitter = (*Emitter)(nil)

func (e *Emitter) add(ev types.EventName, once bool, fns []types.EventListener) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, fn := range fns {
		if fn != nil {
			e.ls = append(e.ls, listener{ev: ev, fn: fn, once: once})
		}
	}
}

// AddListener registers listeners for ev.
func (e *Emitter) AddListener(ev types.EventName, fns ...types.EventListener) error {
	e.add(ev, false, fns)
	return nil
}

// On registers listeners for ev.
func (e *Emitter) On(ev types.EventName, fns ...types.EventListener) error {
	e.add(ev, false, fns)
	return nil
}

// Once registers listeners for the next ev only.
func (e *Emitter) Once(ev types.EventName, fns ...types.EventListener) error {
	e.add(ev, true, fns)
	return nil
}

// Emit calls ev's listeners in registration order, outside the lock; a
// listener that panics is recovered, so one bad listener cannot take the
// daemon down (as the library's emitter does).
func (e *Emitter) Emit(ev types.EventName, args ...any) {
	var buf [4]types.EventListener
	fns := buf[:0]
	e.mu.Lock()
	kept := e.ls[:0]
	for _, l := range e.ls {
		if l.ev == ev {
			fns = append(fns, l.fn)
			if l.once {
				continue
			}
		}
		kept = append(kept, l)
	}
	clear(e.ls[len(kept):])
	e.ls = kept
	e.mu.Unlock()
	for _, fn := range fns {
		call(fn, args)
	}
}

func call(fn types.EventListener, args []any) {
	defer func() { _ = recover() }()
	fn(args...)
}

// EventNames lists the events with listeners.
func (e *Emitter) EventNames() []types.EventName {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []types.EventName
	for _, l := range e.ls {
		if !containsName(out, l.ev) {
			out = append(out, l.ev)
		}
	}
	return out
}

func containsName(names []types.EventName, n types.EventName) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// ListenerCount counts ev's listeners.
func (e *Emitter) ListenerCount(ev types.EventName) int {
	return len(e.Listeners(ev))
}

// Listeners returns a copy of ev's listeners.
func (e *Emitter) Listeners(ev types.EventName) []types.EventListener {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []types.EventListener
	for _, l := range e.ls {
		if l.ev == ev {
			out = append(out, l.fn)
		}
	}
	return out
}

// RemoveAllListeners removes ev's listeners and reports whether there
// were any.
func (e *Emitter) RemoveAllListeners(ev types.EventName) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	kept := e.ls[:0]
	for _, l := range e.ls {
		if l.ev != ev {
			kept = append(kept, l)
		}
	}
	found := len(kept) != len(e.ls)
	clear(e.ls[len(kept):])
	e.ls = kept
	return found
}

// RemoveListener removes the first listener of ev that is fn (compared
// by code pointer, as the library does) and reports whether it found one.
func (e *Emitter) RemoveListener(ev types.EventName, fn types.EventListener) bool {
	if fn == nil {
		return false
	}
	ptr := reflect.ValueOf(fn).Pointer()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, l := range e.ls {
		if l.ev == ev && reflect.ValueOf(l.fn).Pointer() == ptr {
			e.ls = append(e.ls[:i], e.ls[i+1:]...)
			e.ls[len(e.ls):cap(e.ls)][0] = listener{}
			return true
		}
	}
	return false
}

// Clear removes every listener.
func (e *Emitter) Clear() {
	e.mu.Lock()
	e.ls = nil
	e.mu.Unlock()
}

// Len counts the events with listeners.
func (e *Emitter) Len() int { return len(e.EventNames()) }
