package router

import (
	"bytes"
	"encoding/json"

	"github.com/zishang520/socket.io/v3/pkg/types"
)

// fromWire converts what the Socket.IO parser decoded into plain values for
// the rules: binary attachments become []byte, wherever they are.
func fromWire(args []any) []any {
	for i, a := range args {
		args[i] = plain(a)
	}
	return args
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

// toWire prepares action arguments for the Socket.IO encoder, which finds
// binary ([]byte) only at top level and inside []any and map[string]any.
func toWire(args []any) []any {
	return args
}

// decodeJSON decodes a request body, keeping numbers as float64 like the
// Socket.IO parser does.
func decodeJSON(raw []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, &json.SyntaxError{Offset: dec.InputOffset()}
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
