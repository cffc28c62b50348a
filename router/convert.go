package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/eventrouter/eventrouter/internal/wire"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// fromWire converts what the Socket.IO parser decoded into plain values for
// the rules: binary attachments become []byte, wherever they are. It also
// returns the arguments' JSON text as the client sent it, which the wire
// parser keeps for plain-text events (nil for binary ones).
func fromWire(args []any) ([]any, *wire.Args) {
	args, raw := wire.Split(args)
	if raw != nil {
		// A plain-text packet holds no binary: nothing to convert.
		return args, raw
	}
	for i, a := range args {
		args[i] = plain(a)
	}
	return args, nil
}

func plain(v any) any {
	switch x := v.(type) {
	case types.BufferInterface:
		return bytes.Clone(x.Bytes())
	case map[string]any:
		for k, item := range x {
			x[k] = plain(item)
		}
		return x
	case []any:
		for i, item := range x {
			x[i] = plain(item)
		}
		return x
	}
	return v
}

// passAlong prepares the arguments of an incoming event's actions for the
// Socket.IO encoder: an argument that is one of the event's own arguments
// passed along unchanged (see wire.Args.Match), or an object or array the
// rule built around one, is sent with the JSON text the client wrote, so its
// key order and number spelling survive. args and the values in it are not modified.
func passAlong(in *wire.Args, args []any) []any {
	if in == nil {
		return args
	}
	var out []any
	for i, a := range args {
		var v any
		if t := in.Match(i, a); t != nil {
			v = t
		} else if r, ok := passNested(in, a, 0); ok {
			v = r
		} else {
			continue
		}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i] = v
	}
	if out == nil {
		return args
	}
	return out
}

// maxPassDepth bounds how deep passNested looks into rule-built values.
const maxPassDepth = 16

// passNested returns a copy of v, an object or array built by a rule, with
// the incoming objects and arrays inside it replaced by their text; ok is
// false when it holds none.
func passNested(in *wire.Args, v any, depth int) (out any, ok bool) {
	if depth > maxPassDepth {
		return v, false
	}
	switch x := v.(type) {
	case map[string]any:
		var cp map[string]any
		for k, e := range x {
			r, ok := passItem(in, e, depth)
			if !ok {
				continue
			}
			if cp == nil {
				cp = maps.Clone(x)
			}
			cp[k] = r
		}
		if cp != nil {
			return cp, true
		}
	case []any:
		var cp []any
		for i, e := range x {
			r, ok := passItem(in, e, depth)
			if !ok {
				continue
			}
			if cp == nil {
				cp = slices.Clone(x)
			}
			cp[i] = r
		}
		if cp != nil {
			return cp, true
		}
	}
	return v, false
}

// passItem is passNested for one item: an incoming object or array itself,
// or a rule-built one holding some.
func passItem(in *wire.Args, e any, depth int) (any, bool) {
	switch e.(type) {
	case map[string]any, []any:
		if t := in.Match(-1, e); t != nil {
			return t, true
		}
		return passNested(in, e, depth+1)
	}
	return e, false
}

// decodeJSON decodes a request body, keeping numbers as float64 like the
// Socket.IO parser does.
func decodeJSON(raw []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if rest := bytes.TrimSpace(raw[dec.InputOffset():]); len(rest) > 0 {
		var next any
		if err := json.NewDecoder(bytes.NewReader(rest)).Decode(&next); err != nil {
			return nil, fmt.Errorf("after the JSON value: %w", err)
		}
		return nil, errors.New("body holds more than one JSON value")
	}
	return v, nil
}

// encodeJSON encodes a response body without escaping <, > and &, as
// Express does.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
