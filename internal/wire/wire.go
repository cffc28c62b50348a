// Package wire is eventrouter's Socket.IO parser. It speaks the standard
// protocol, and differs from the library's default parser in one way: for a
// plain-text EVENT packet it keeps each argument's JSON text next to its
// decoded value, and it writes such texts back verbatim. So data that the
// rules pass along without reading its fields reaches the other clients as
// the sender wrote it, key order and number spelling included, as it does
// through the Node server.
//
// Decoding. A plain-text EVENT packet whose payload is a JSON array starting
// with a (non-reserved) event name is decoded here. The decoded arguments
// are followed, as the packet data's last element, by an *Args holding
// their JSON text; Split removes it again. Every other packet (CONNECT,
// DISCONNECT, ACK, binary events and their attachments, and anything
// unusual or invalid) goes to the default decoder unchanged, so binary
// attachments, limits and error behaviour are the library's.
//
// Encoding. An EVENT or ACK packet whose data holds *rawjson.Text values at
// top level, and no binary, is written here with the texts as they are;
// everything else goes to the default encoder, which also handles a Text
// nested in a binary packet through its MarshalJSON.
package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/eventrouter/eventrouter/internal/emitter"
	"github.com/eventrouter/eventrouter/internal/rawjson"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// NewParser returns the parser, for socket.ServerOptions.SetParser.
func NewParser() parser.Parser { return wireParser{def: parser.NewParser()} }

type wireParser struct{ def parser.Parser }

func (p wireParser) NewEncoder() parser.Encoder { return &encoder{def: p.def.NewEncoder()} }

func (p wireParser) NewDecoder() parser.Decoder {
	return &decoder{parser: p.def}
}

// Args is the JSON text of an event's arguments (the event name excluded),
// as the client sent them.
type Args struct {
	vals  []any          // the decoded arguments, for identity checks
	texts []rawjson.Text // texts[i] is the JSON text of vals[i]

	once        sync.Once      // builds nested
	nested      map[ident]int  // nested objects and arrays -> index in nestedTexts
	nestedTexts []rawjson.Text // their texts
}

// Split removes the *Args the decoder appended from an event's arguments
// (given without the event name and the ack callback). raw is nil when the
// packet did not come through this parser's text path (a binary event).
func Split(args []any) (rest []any, raw *Args) {
	if n := len(args); n > 0 {
		if a, ok := args[n-1].(*Args); ok {
			return args[:n-1], a
		}
	}
	return args, nil
}

// Len is the number of arguments.
func (a *Args) Len() int {
	if a == nil {
		return 0
	}
	return len(a.texts)
}

// Raw returns argument i's JSON text.
func (a *Args) Raw(i int) []byte { return a.texts[i].RawJSON() }

// Match returns the verbatim text to send for v, the argument at position
// pos of an outgoing event or ack, when v is an incoming argument passed
// along unchanged: the same object or array (by identity, at any position),
// or an equal string, number or boolean at the same position. It returns
// nil otherwise, and v must then be encoded as usual. A negative pos
// matches objects and arrays only.
func (a *Args) Match(pos int, v any) *rawjson.Text {
	if a == nil {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return nil
		}
		for i, in := range a.vals {
			if m, ok := in.(map[string]any); ok && sameMap(m, x) {
				return &a.texts[i]
			}
		}
		return a.nestedText(x)
	case []any:
		if len(x) == 0 {
			return nil
		}
		for i, in := range a.vals {
			if s, ok := in.([]any); ok && len(s) == len(x) && &s[0] == &x[0] {
				return &a.texts[i]
			}
		}
		return a.nestedText(x)
	case string:
		if pos >= 0 && pos < len(a.vals) {
			if s, ok := a.vals[pos].(string); ok && s == x {
				return &a.texts[pos]
			}
		}
	case float64:
		if pos >= 0 && pos < len(a.vals) {
			// Bitwise, so that 0 and -0 stay apart.
			if f, ok := a.vals[pos].(float64); ok && math.Float64bits(f) == math.Float64bits(x) {
				return &a.texts[pos]
			}
		}
	case bool:
		if pos >= 0 && pos < len(a.vals) {
			if b, ok := a.vals[pos].(bool); ok && b == x {
				return &a.texts[pos]
			}
		}
	}
	return nil
}

// ident identifies a map (n < 0) or a non-empty []any by identity.
type ident struct {
	p unsafe.Pointer
	n int
}

func identOf(v any) (ident, bool) {
	switch x := v.(type) {
	case map[string]any:
		if x != nil {
			return ident{p: *(*unsafe.Pointer)(unsafe.Pointer(&x)), n: -1}, true
		}
	case []any:
		if len(x) > 0 {
			return ident{p: unsafe.Pointer(unsafe.SliceData(x)), n: len(x)}, true
		}
	}
	return ident{}, false
}

// nestedText finds v among the objects and arrays nested inside the
// arguments (data.meta passed along). The index is built on first use, so
// events whose rules pass whole arguments, or none, never pay for it.
func (a *Args) nestedText(v any) *rawjson.Text {
	a.once.Do(func() {
		for i, in := range a.vals {
			a.index(in, a.texts[i].RawJSON(), 0)
		}
	})
	k, ok := identOf(v)
	if !ok {
		return nil
	}
	if i, ok := a.nested[k]; ok {
		return &a.nestedTexts[i]
	}
	return nil
}

// maxIndexDepth bounds how deep index looks; deeper values are re-encoded.
const maxIndexDepth = 32

// index records the text of every object and array inside v, whose text
// is b (compact and valid, as decodeEvent guarantees).
func (a *Args) index(v any, b []byte, depth int) {
	if depth > maxIndexDepth || len(b) < 2 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if b[0] != '{' {
			return
		}
		for i := 1; i < len(b) && b[i] == '"'; {
			ke := valueEnd(b, i)
			var child any
			if raw := b[i+1 : ke-1]; bytes.IndexByte(raw, '\\') < 0 {
				child = x[string(raw)]
			} else {
				var key string
				if json.Unmarshal(b[i:ke], &key) != nil {
					return
				}
				child = x[key]
			}
			// Later duplicates of a key overwrite earlier ones, as in the map.
			vs := ke + 1 // after the ':'
			ve := valueEnd(b, vs)
			a.record(child, b[vs:ve:ve], depth)
			i = ve + 1 // after the ',' (or past the '}')
		}
	case []any:
		if b[0] != '[' {
			return
		}
		for n, i := 0, 1; n < len(x) && i < len(b) && b[i] != ']'; n++ {
			ve := valueEnd(b, i)
			a.record(x[n], b[i:ve:ve], depth)
			i = ve + 1
		}
	}
}

func (a *Args) record(child any, text []byte, depth int) {
	k, ok := identOf(child)
	if !ok {
		return
	}
	if a.nested == nil {
		a.nested = make(map[ident]int)
	}
	if i, dup := a.nested[k]; dup {
		a.nestedTexts[i] = rawjson.Of(text)
	} else {
		a.nested[k] = len(a.nestedTexts)
		a.nestedTexts = append(a.nestedTexts, rawjson.Of(text))
	}
	a.index(child, text, depth+1)
}

// valueEnd returns the index just after the JSON value starting at b[i], in
// compact, valid JSON.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return min(i+1, len(b))
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a scalar, at its container's close
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ':':
			if depth == 0 {
				return i
			}
		}
	}
	return len(b)
}

// sameMap reports whether a and b are the same map, not equal ones.
func sameMap(a, b map[string]any) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

// decoder decodes plain-text EVENT packets itself and hands everything else
// to the default decoder.
type decoder struct {
	emitter.Emitter // the library's Client listens here, once per connection: kept small
	parser          parser.Parser
	// def is the default decoder while a packet needs it (see defAdd);
	// atomic, as the library destroys a decoder from another goroutine.
	def atomic.Pointer[defDecoder]
	// binary is set while the default decoder reassembles a binary packet:
	// text packets must then reach it, so that it reports the protocol error.
	// The default decoder leaves that state only when an attachment
	// completes a packet (not when a header announces none), and so do we.
	binary  atomic.Bool
	emitted atomic.Bool // the default decoder emitted a packet
}

func (d *decoder) forward(args ...any) {
	d.emitted.Store(true)
	d.Emit("decoded", args...)
}

// Add decodes one Engine.IO message.
func (d *decoder) Add(data any) error {
	var b []byte
	switch x := data.(type) {
	case *types.StringBuffer:
		b = x.Bytes() // does not consume it: the default decoder may still read it
	case string:
		b = []byte(x)
	default:
		d.emitted.Store(false)
		return d.defAdd(data, func(error) {
			if d.emitted.Load() {
				d.binary.Store(false) // the last attachment arrived
			}
		})
	}
	if !d.binary.Load() {
		if p := decodeEvent(b); p != nil {
			d.Emit("decoded", p)
			return nil
		}
	}
	if len(b) > 0 && (b[0] == '0'+byte(parser.BINARY_EVENT) || b[0] == '0'+byte(parser.BINARY_ACK)) {
		d.binary.Store(true)
		return d.defAdd(data, func(err error) {
			if err != nil {
				d.binary.Store(false)
			}
		})
	}
	return d.defAdd(data, nil)
}

// defAdd passes data to the default decoder, made for it if there is
// none; then runs after with the decoder's error, and drops the default decoder unless a binary
// packet is half reassembled in it. Most clients send nothing but plain
// events once connected, so an idle client keeps no default decoder (and
// no emitter of the library's, about 500 bytes).
func (d *decoder) defAdd(data any, after func(error)) error {
	def := d.def.Load()
	if def == nil {
		def = &defDecoder{d.parser.NewDecoder()}
		_ = def.On("decoded", d.forward)
		d.def.Store(def)
	}
	err := def.Add(data)
	if after != nil {
		after(err)
	}
	if !d.binary.Load() {
		d.def.CompareAndSwap(def, nil)
	}
	return err
}

// defDecoder holds a default decoder, for an atomic pointer.
type defDecoder struct{ parser.Decoder }

// Destroy releases the default decoder's state.
func (d *decoder) Destroy() {
	if def := d.def.Swap(nil); def != nil {
		def.Destroy()
	}
}

// decodeEvent decodes b when it is a well-formed plain-text EVENT packet, or
// returns nil to let the default decoder handle it (and report any error).
func decodeEvent(b []byte) *parser.Packet {
	if len(b) < 2 || b[0] != '0'+byte(parser.EVENT) {
		return nil
	}
	i := 1
	nsp := "/"
	if b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		if j < 0 || j > parser.DefaultMaxNamespaceLength {
			return nil
		}
		nsp = string(b[i : i+j])
		i += j + 1
	}
	var id *uint64
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i > start {
		if i-start > parser.DefaultMaxPacketIDLength {
			return nil
		}
		n, err := strconv.ParseUint(string(b[start:i]), 10, 64)
		if err != nil {
			return nil
		}
		id = &n
	}
	if i >= len(b) || b[i] != '[' || !utf8.Valid(b[i:]) {
		// Invalid UTF-8 is left to the default decoder, which replaces it:
		// forwarding it verbatim would make browsers drop the connection.
		return nil
	}
	payload := b[i:]
	var data []any
	if err := json.Unmarshal(payload, &data); err != nil || len(data) == 0 {
		return nil
	}
	if name, ok := data[0].(string); !ok || parser.ReservedEvents.Has(name) {
		return nil
	}
	// The texts outlive the Engine.IO buffer: keep a copy, compacted when
	// the sender used insignificant whitespace (log lines stay one line).
	var own []byte
	if hasSpace(payload) {
		var buf bytes.Buffer
		if json.Compact(&buf, payload) != nil {
			return nil
		}
		own = buf.Bytes()
	} else {
		own = bytes.Clone(payload)
	}
	args := &Args{vals: data[1:], texts: make([]rawjson.Text, len(data)-1)}
	if !split(own, args.texts) {
		return nil
	}
	return &parser.Packet{Type: parser.EVENT, Nsp: nsp, Data: append(data, args), Id: id}
}

// hasSpace reports whether the JSON text b has whitespace outside strings.
func hasSpace(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return true
		}
	}
	return false
}

// split fills texts with the elements after the first of b, a valid,
// compact JSON array. It reports false if the count does not match.
func split(b []byte, texts []rawjson.Text) bool {
	depth, start, n := 0, 1, 0
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth > 0 {
				depth--
				continue
			}
			fallthrough // the closing bracket of the array itself
		case ',':
			if depth > 0 {
				continue
			}
			if n > 0 { // element 0 is the event name
				if n-1 >= len(texts) {
					return false
				}
				texts[n-1] = rawjson.Of(b[start:i:i])
			}
			n++
			start = i + 1
		}
	}
	return n-1 == len(texts)
}

// encoder writes EVENT and ACK packets carrying verbatim texts itself.
type encoder struct{ def parser.Encoder }

// Encode encodes a packet.
func (e *encoder) Encode(p *parser.Packet) []types.BufferInterface {
	if p.Type == parser.EVENT || p.Type == parser.ACK {
		if data, ok := p.Data.([]any); ok && hasText(data) && !parser.HasBinary(data) {
			if buf, ok := encodeText(p, data); ok {
				return []types.BufferInterface{buf}
			}
		}
	}
	return e.def.Encode(p)
}

func hasText(data []any) bool {
	for _, v := range data {
		if _, ok := v.(*rawjson.Text); ok {
			return true
		}
	}
	return false
}

// encodeText writes <type>[/nsp,][id][data] as the default encoder does,
// with the texts verbatim and other values through encoding/json.
func encodeText(p *parser.Packet, data []any) (types.BufferInterface, bool) {
	size := 16 + len(p.Nsp)
	for _, v := range data {
		if t, ok := v.(*rawjson.Text); ok {
			size += len(t.RawJSON()) + 1
		} else {
			size += 16
		}
	}
	out := make([]byte, 0, size)
	out = append(out, '0'+byte(p.Type))
	if p.Nsp != "" && p.Nsp != "/" {
		out = append(out, p.Nsp...)
		out = append(out, ',')
	}
	if p.Id != nil {
		out = strconv.AppendUint(out, *p.Id, 10)
	}
	head := len(out)
	out = append(out, '[')
	for i, v := range data {
		if i > 0 {
			out = append(out, ',')
		}
		if t, ok := v.(*rawjson.Text); ok {
			out = append(out, t.RawJSON()...)
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, false // the default encoder decides what an unencodable packet becomes
		}
		out = append(out, j...)
	}
	out = append(out, ']')
	if len(out)-head > types.MaxPayloadSize {
		out = out[:head] // the default encoder drops oversized data the same way
	}
	return types.NewStringBuffer(out), true
}
