// Package rawjson keeps the JSON text that decoded values came from, so a
// value passed along unchanged can be written out as its sender wrote it:
// key order and number spelling included.
//
// Two mechanisms serve two readers:
//
//   - Text is a JSON value carried verbatim. Encoders that see it (through
//     json.Marshaler, or the socket.io parser in internal/wire) write its
//     bytes as they are.
//   - A registry maps decoded objects and arrays (map[string]any and []any,
//     by identity) to their text while the event they arrived with is being
//     handled, so code that only sees the decoded value (the log action
//     formatting its arguments) can still find the text.
//
// The package has no dependencies beyond the standard library, so rules and
// action plugins may use it.
package rawjson

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Text is one JSON value carried verbatim. Its zero value encodes as null.
// It is a struct, not a []byte, so that nothing mistakes it for binary data.
type Text struct{ b []byte }

// Of returns b as a Text. b must be one valid, compact JSON value; it is not
// copied.
func Of(b []byte) Text { return Text{b: b} }

// RawJSON returns the JSON text.
func (t *Text) RawJSON() []byte {
	if t == nil || len(t.b) == 0 {
		return []byte("null")
	}
	return t.b
}

// MarshalJSON returns the JSON text, so json.Marshal embeds it unchanged
// (apart from its usual HTML escaping).
func (t *Text) MarshalJSON() ([]byte, error) { return t.RawJSON(), nil }

// key identifies a map (n < 0) or a non-empty []any (its backing array and
// length).
type key struct {
	p unsafe.Pointer
	n int
}

func keyOf(v any) (key, bool) {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return key{}, false
		}
		return key{p: *(*unsafe.Pointer)(unsafe.Pointer(&x)), n: -1}, true
	case []any:
		if len(x) == 0 {
			return key{}, false // empty slices share one address; "[]" needs no text anyway
		}
		return key{p: unsafe.Pointer(unsafe.SliceData(x)), n: len(x)}, true
	}
	return key{}, false
}

const shards = 32

type shard struct {
	mu sync.Mutex
	m  map[key][]byte
	_  [48]byte // keep shards on separate cache lines
}

var (
	table [shards]shard
	live  atomic.Int64 // registered entries; Lookup skips the table at 0
)

func shardOf(k key) *shard {
	h := uintptr(k.p) >> 4
	h ^= h >> 7
	return &table[h%shards]
}

// Register remembers raw as the text of v, a map[string]any or a non-empty
// []any, until Unregister. It reports whether v can be registered. The
// caller must keep v alive and unmodified until it unregisters it.
func Register(v any, raw []byte) bool {
	k, ok := keyOf(v)
	if !ok {
		return false
	}
	s := shardOf(k)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[key][]byte)
	}
	if _, dup := s.m[k]; !dup {
		live.Add(1)
	}
	s.m[k] = raw
	s.mu.Unlock()
	return true
}

// Unregister forgets v's text.
func Unregister(v any) {
	k, ok := keyOf(v)
	if !ok {
		return
	}
	s := shardOf(k)
	s.mu.Lock()
	if _, ok := s.m[k]; ok {
		delete(s.m, k)
		live.Add(-1)
	}
	s.mu.Unlock()
}

// Lookup returns the JSON text v was decoded from: a Text's own bytes, or
// the registered text of a map or slice. ok is false when there is none,
// and the caller should encode v itself.
func Lookup(v any) (raw []byte, ok bool) {
	switch x := v.(type) {
	case *Text:
		return x.RawJSON(), true
	case interface{ RawJSON() []byte }:
		return x.RawJSON(), true
	case map[string]any, []any:
		if live.Load() == 0 {
			return nil, false
		}
		k, ok := keyOf(v)
		if !ok {
			return nil, false
		}
		s := shardOf(k)
		s.mu.Lock()
		raw, ok = s.m[k]
		s.mu.Unlock()
		return raw, ok
	}
	return nil, false
}
