package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Engine.IO v4 packet types, as the first byte of a websocket text frame.
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioUpgrade = '5'
	eioNoop    = '6'
)

// Socket.IO v5 packet types, as the byte after the Engine.IO message type.
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
)

// Packet is one decoded Engine.IO frame with, for message frames, its
// Socket.IO header.
type Packet struct {
	// EIO is the Engine.IO packet type ('0'..'6').
	EIO byte
	// SIO is the Socket.IO packet type ('0'..'6') when EIO is a message, else 0.
	SIO byte
	// Namespace is the Socket.IO namespace, "/" when the frame names none.
	Namespace string
	// Data is what follows the headers: the open handshake JSON for an open
	// packet, the JSON array or object of a Socket.IO packet.
	Data []byte
}

// OpenInfo is the JSON body of the Engine.IO open packet.
type OpenInfo struct {
	// SID is the Engine.IO session id.
	SID string `json:"sid"`
	// Upgrades lists the transports the server offers to upgrade to.
	Upgrades []string `json:"upgrades"`
	// PingInterval is the server's ping interval in milliseconds.
	PingInterval int `json:"pingInterval"`
	// PingTimeout is how long the server waits for a pong, in milliseconds.
	PingTimeout int `json:"pingTimeout"`
	// MaxPayload is the largest packet the server accepts, in bytes.
	MaxPayload int `json:"maxPayload"`
}

// errEmptyFrame is returned for a zero-length websocket frame.
var errEmptyFrame = errors.New("empty frame")

// DecodePacket splits an Engine.IO v4 websocket text frame into its
// Engine.IO type, its Socket.IO type and namespace (for message frames),
// and the remaining data. Ack ids are skipped; binary attachments are not
// supported (the bench never sends them). Data aliases frame.
func DecodePacket(frame []byte) (Packet, error) {
	if len(frame) == 0 {
		return Packet{}, errEmptyFrame
	}
	p := Packet{EIO: frame[0], Namespace: "/"}
	if p.EIO < eioOpen || p.EIO > eioNoop {
		return Packet{}, fmt.Errorf("unknown engine.io packet type %q", p.EIO)
	}
	rest := frame[1:]
	if p.EIO != eioMessage {
		p.Data = rest
		return p, nil
	}
	if len(rest) == 0 {
		return Packet{}, errors.New("engine.io message without socket.io packet")
	}
	p.SIO = rest[0]
	if p.SIO < sioConnect || p.SIO > '6' {
		return Packet{}, fmt.Errorf("unknown socket.io packet type %q", p.SIO)
	}
	rest = rest[1:]
	if p.SIO == '5' || p.SIO == '6' { // binary event/ack: "<n>-" attachment count
		i := bytes.IndexByte(rest, '-')
		if i < 0 {
			return Packet{}, errors.New("binary packet without attachment count")
		}
		rest = rest[i+1:]
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			p.Namespace, rest = string(rest), nil
		} else {
			p.Namespace, rest = string(rest[:i]), rest[i+1:]
		}
	}
	for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' { // ack id
		rest = rest[1:]
	}
	p.Data = rest
	return p, nil
}

// ParseOpen decodes the JSON body of an Engine.IO open packet.
func ParseOpen(data []byte) (OpenInfo, error) {
	var o OpenInfo
	if err := json.Unmarshal(data, &o); err != nil {
		return OpenInfo{}, fmt.Errorf("open packet: %w", err)
	}
	if o.SID == "" {
		return OpenInfo{}, errors.New("open packet: no sid")
	}
	return o, nil
}

// ParseConnectAck decodes the body of a Socket.IO CONNECT packet sent by
// the server, {"sid":"..."}, and returns the socket id.
func ParseConnectAck(data []byte) (string, error) {
	var v struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("connect packet: %w", err)
	}
	if v.SID == "" {
		return "", errors.New("connect packet: no sid")
	}
	return v.SID, nil
}

// EventName returns the event name of a Socket.IO EVENT packet's data,
// `["name",...]`, reading only the first string. It returns false when the
// data does not start with a JSON string in an array.
func EventName(data []byte) (string, bool) {
	if len(data) < 3 || data[0] != '[' || data[1] != '"' {
		return "", false
	}
	end := bytes.IndexByte(data[2:], '"')
	if end < 0 {
		return "", false
	}
	name := data[2 : 2+end]
	if bytes.IndexByte(name, '\\') >= 0 { // escaped names: fall back to JSON
		var arr []json.RawMessage
		if json.Unmarshal(data, &arr) != nil || len(arr) == 0 {
			return "", false
		}
		var s string
		if json.Unmarshal(arr[0], &s) != nil {
			return "", false
		}
		return s, true
	}
	return string(name), true
}

// Payload builds the JSON object the bench sends: its keys are, in this
// order, "seq", "ts" and "pad", so a server that keeps key order delivers
// them in the same order. pad is sized so the object is about size bytes
// (never less than the fixed fields need).
func Payload(dst []byte, seq uint64, ts int64, pad string) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"pad":"`...)
	dst = append(dst, pad...)
	dst = append(dst, `"}`...)
	return dst
}

// PadFor returns the padding string that makes Payload about size bytes
// long for 19-digit timestamps and sequence numbers up to 10 digits.
func PadFor(size int) string {
	const fixed = len(`{"seq":,"ts":,"pad":""}`) + 10 + 19
	if size <= fixed {
		return ""
	}
	return strings.Repeat("x", size-fixed)
}

// EncodeEvent appends the Engine.IO message frame of a Socket.IO EVENT on
// the main namespace: 42["event",payload]. payload must be valid JSON.
func EncodeEvent(dst []byte, event string, payload []byte) []byte {
	dst = append(dst, eioMessage, sioEvent, '[')
	dst = strconv.AppendQuote(dst, event) // ASCII event names: Go and JSON quoting agree
	if payload != nil {
		dst = append(dst, ',')
		dst = append(dst, payload...)
	}
	return append(dst, ']')
}

// Probe is what a receiver reads from a bench payload in a delivered frame.
type Probe struct {
	// Seq is the message's sequence number.
	Seq uint64
	// TS is the send timestamp, Unix nanoseconds.
	TS int64
	// Ordered reports whether "seq", "ts" and "pad" arrived in the order
	// they were sent.
	Ordered bool
}

var (
	keySeq = []byte(`"seq":`)
	keyTS  = []byte(`"ts":`)
	keyPad = []byte(`"pad":`)
)

// ProbeFrame extracts the sequence number and timestamp of a bench payload
// from a whole frame, wherever the server put the keys; it does no JSON
// decoding, so receivers keep up with high delivery rates. It returns false
// when either key is missing or malformed.
func ProbeFrame(frame []byte) (Probe, bool) {
	is := bytes.Index(frame, keySeq)
	it := bytes.Index(frame, keyTS)
	if is < 0 || it < 0 {
		return Probe{}, false
	}
	seq, ok := leadingUint(frame[is+len(keySeq):])
	if !ok {
		return Probe{}, false
	}
	ts, ok := leadingUint(frame[it+len(keyTS):])
	if !ok || ts > 1<<63-1 {
		return Probe{}, false
	}
	ip := bytes.Index(frame, keyPad)
	return Probe{Seq: seq, TS: int64(ts), Ordered: is < it && (ip < 0 || it < ip)}, true
}

// leadingUint parses the decimal digits at the start of b, after optional
// spaces.
func leadingUint(b []byte) (uint64, bool) {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	var n uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, i > 0
}

// SocketURL turns a server URL (http://, https://, ws:// or wss://, with or
// without the /socket.io/ path) into the websocket URL of its Engine.IO v4
// endpoint. Only loopback hosts are accepted: the bench is a load generator
// and must not be pointed at other machines.
func SocketURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("url %q: scheme must be http, https, ws or wss", raw)
	}
	if !IsLoopback(u.Hostname()) {
		return "", fmt.Errorf("url %q: only loopback targets (localhost, 127.0.0.0/8, ::1) are allowed", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/socket.io/"
	}
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// IsLoopback reports whether host is "localhost" or a literal loopback
// address. Names are not resolved.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
