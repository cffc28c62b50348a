package engine

import (
	"encoding/binary"
	"errors"
)

// frame is one websocket frame from a client, its payload unmasked in
// place in the read buffer.
type frame struct {
	op      byte
	fin     bool
	payload []byte
	size    int // header and payload: how far the next frame starts
}

// frameError is a frame the connection must be closed for, with code.
type frameError struct {
	code int
	err  error
}

// parseFrame reads the frame at the start of b (RFC 6455 §5.2). When b
// holds less than a whole frame it returns how many bytes, from the start
// of b, are needed to go on (the header first, then the whole frame).
// Client frames must be masked, carry no reserved bits (no extension is
// negotiated) and be at most maxPayload bytes long; control frames must
// be whole and at most 125 bytes.
func parseFrame(b []byte, maxPayload int64) (frame, int, *frameError) {
	if len(b) < 2 {
		return frame{}, 2, nil
	}
	b0, b1 := b[0], b[1]
	f := frame{op: b0 & 0x0F, fin: b0&0x80 != 0}
	if b0&0x70 != 0 {
		return frame{}, 0, protocolError("reserved bits set")
	}
	if b1&0x80 == 0 {
		return frame{}, 0, protocolError("client frame not masked")
	}
	switch f.op {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !f.fin || b1&0x7F > 125 {
			return frame{}, 0, protocolError("fragmented or long control frame")
		}
	default:
		return frame{}, 0, protocolError("unknown opcode")
	}
	hdr := 2
	var n uint64
	switch l := b1 & 0x7F; l {
	case 126:
		hdr = 4
		if len(b) < hdr {
			return frame{}, hdr + 4, nil
		}
		n = uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		hdr = 10
		if len(b) < hdr {
			return frame{}, hdr + 4, nil
		}
		n = binary.BigEndian.Uint64(b[2:])
	default:
		n = uint64(l)
	}
	if n > uint64(maxPayload) {
		return frame{}, 0, &frameError{closeTooBig, errTooBig}
	}
	hdr += 4 // masking key
	size := hdr + int(n)
	if len(b) < size {
		return frame{}, size, nil
	}
	key := b[hdr-4 : hdr]
	f.payload = b[hdr:size]
	for i := range f.payload {
		f.payload[i] ^= key[i&3]
	}
	f.size = size
	return f, 0, nil
}

// protocolError is a frame that breaks the protocol.
//
//go:noinline
func protocolError(what string) *frameError {
	return &frameError{closeProtocolError, errors.Join(errProtocol, errors.New(what))}
}
