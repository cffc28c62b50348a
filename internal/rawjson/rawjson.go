// Package rawjson keeps the JSON text that decoded values came from, so a
// value passed along unchanged can be written out as its sender wrote it:
// key order and number spelling included.
//
// Text is a JSON value carried verbatim. Encoders that see it (through
// json.Marshaler, or the socket.io parser in internal/wire) write its bytes
// as they are. Code that only sees a decoded value finds its text through
// rules.RawTexts, which the router implements per event.
package rawjson

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
