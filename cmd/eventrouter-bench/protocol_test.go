package main

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		want    Packet
		wantErr bool
	}{
		{"open", `0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
			Packet{EIO: '0', Namespace: "/", Data: []byte(`{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)}, false},
		{"ping", "2", Packet{EIO: '2', Namespace: "/", Data: []byte{}}, false},
		{"ping probe", "2probe", Packet{EIO: '2', Namespace: "/", Data: []byte("probe")}, false},
		{"close", "1", Packet{EIO: '1', Namespace: "/", Data: []byte{}}, false},
		{"noop", "6", Packet{EIO: '6', Namespace: "/", Data: []byte{}}, false},
		{"connect ack", `40{"sid":"xyz"}`, Packet{EIO: '4', SIO: '0', Namespace: "/", Data: []byte(`{"sid":"xyz"}`)}, false},
		{"connect ack namespace", `40/chat,{"sid":"xyz"}`, Packet{EIO: '4', SIO: '0', Namespace: "/chat", Data: []byte(`{"sid":"xyz"}`)}, false},
		{"connect error", `44{"message":"nope"}`, Packet{EIO: '4', SIO: '4', Namespace: "/", Data: []byte(`{"message":"nope"}`)}, false},
		{"event", `42["receive_message",{"a":1}]`, Packet{EIO: '4', SIO: '2', Namespace: "/", Data: []byte(`["receive_message",{"a":1}]`)}, false},
		{"event with ack id", `4213["x"]`, Packet{EIO: '4', SIO: '2', Namespace: "/", Data: []byte(`["x"]`)}, false},
		{"event namespace ack id", `42/admin,7["x",1]`, Packet{EIO: '4', SIO: '2', Namespace: "/admin", Data: []byte(`["x",1]`)}, false},
		{"binary event", `451-["up",{"_placeholder":true,"num":0}]`, Packet{EIO: '4', SIO: '5', Namespace: "/", Data: []byte(`["up",{"_placeholder":true,"num":0}]`)}, false},
		{"namespace only", `41/chat`, Packet{EIO: '4', SIO: '1', Namespace: "/chat", Data: nil}, false},
		{"empty", "", Packet{}, true},
		{"bad engine type", "9", Packet{}, true},
		{"message without socket packet", "4", Packet{}, true},
		{"bad socket type", "4x", Packet{}, true},
		{"binary without count", `45["x"]`, Packet{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePacket([]byte(tt.frame))
			if (err != nil) != tt.wantErr {
				t.Fatalf("DecodePacket(%q) error = %v, wantErr %v", tt.frame, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.EIO != tt.want.EIO || got.SIO != tt.want.SIO || got.Namespace != tt.want.Namespace || string(got.Data) != string(tt.want.Data) {
				t.Errorf("DecodePacket(%q) = {%q %q %q %q}, want {%q %q %q %q}", tt.frame,
					got.EIO, got.SIO, got.Namespace, got.Data, tt.want.EIO, tt.want.SIO, tt.want.Namespace, tt.want.Data)
			}
		})
	}
}

func TestParseOpen(t *testing.T) {
	tests := []struct {
		data    string
		want    OpenInfo
		wantErr bool
	}{
		{`{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
			OpenInfo{SID: "s1", Upgrades: []string{}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}, false},
		{`{"sid":"s2"}`, OpenInfo{SID: "s2"}, false},
		{`{"upgrades":[]}`, OpenInfo{}, true},
		{`not json`, OpenInfo{}, true},
	}
	for _, tt := range tests {
		got, err := ParseOpen([]byte(tt.data))
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseOpen(%s) error = %v, wantErr %v", tt.data, err, tt.wantErr)
			continue
		}
		if got.SID != tt.want.SID || got.PingInterval != tt.want.PingInterval || got.PingTimeout != tt.want.PingTimeout || got.MaxPayload != tt.want.MaxPayload {
			t.Errorf("ParseOpen(%s) = %+v, want %+v", tt.data, got, tt.want)
		}
	}
}

func TestParseConnectAck(t *testing.T) {
	tests := []struct {
		data    string
		want    string
		wantErr bool
	}{
		{`{"sid":"abc"}`, "abc", false},
		{`{"sid":"abc","pid":"p"}`, "abc", false},
		{`{}`, "", true},
		{``, "", true},
	}
	for _, tt := range tests {
		got, err := ParseConnectAck([]byte(tt.data))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseConnectAck(%q) = %q, %v; want %q, err %v", tt.data, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEventName(t *testing.T) {
	tests := []struct {
		data   string
		want   string
		wantOK bool
	}{
		{`["receive_message",{"a":1}]`, "receive_message", true},
		{`["ping"]`, "ping", true},
		{`["a\"b",1]`, `a"b`, true},
		{`[1,2]`, "", false},
		{`{}`, "", false},
		{`["unterminated`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		got, ok := EventName([]byte(tt.data))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("EventName(%s) = %q, %v; want %q, %v", tt.data, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestEncodeEvent(t *testing.T) {
	tests := []struct {
		event   string
		payload string
		want    string
	}{
		{"send_message", `{"a":1}`, `42["send_message",{"a":1}]`},
		{"send_message", `"text"`, `42["send_message","text"]`},
		{"ping", "", `42["ping"]`},
	}
	for _, tt := range tests {
		var p []byte
		if tt.payload != "" {
			p = []byte(tt.payload)
		}
		if got := string(EncodeEvent([]byte("junk")[:0], tt.event, p)); got != tt.want {
			t.Errorf("EncodeEvent(%q, %s) = %s, want %s", tt.event, tt.payload, got, tt.want)
		}
	}
	// round trip through the decoder
	frame := EncodeEvent(nil, "send_message", Payload(nil, 7, 1700000000123456789, "xx"))
	p, err := DecodePacket(frame)
	if err != nil || p.EIO != eioMessage || p.SIO != sioEvent {
		t.Fatalf("DecodePacket(EncodeEvent) = %+v, %v", p, err)
	}
	if name, ok := EventName(p.Data); !ok || name != "send_message" {
		t.Errorf("EventName = %q, %v", name, ok)
	}
}

func TestPayloadSize(t *testing.T) {
	for _, size := range []int{0, 20, 60, 61, 100, 1024} {
		p := Payload(nil, 1234567890, 1700000000123456789, PadFor(size))
		want := max(size, len(`{"seq":,"ts":,"pad":""}`)+10+19)
		if len(p) != want {
			t.Errorf("size %d: payload is %d bytes, want %d: %s", size, len(p), want, p)
		}
	}
}

func TestProbeFrame(t *testing.T) {
	tests := []struct {
		name   string
		frame  string
		want   Probe
		wantOK bool
	}{
		{"as sent", `["receive_message",{"seq":42,"ts":1700000000123456789,"pad":"xx"}]`, Probe{42, 1700000000123456789, true}, true},
		{"keys sorted by a Go map", `["receive_message",{"pad":"xx","seq":42,"ts":1700000000123456789}]`, Probe{42, 1700000000123456789, false}, true},
		{"ts before seq", `["receive_message",{"ts":5,"seq":6}]`, Probe{6, 5, false}, true},
		{"spaces after colon", `["r",{"seq": 3, "ts": 4}]`, Probe{3, 4, true}, true},
		{"no pad", `["r",{"seq":3,"ts":4}]`, Probe{3, 4, true}, true},
		{"missing ts", `["r",{"seq":3}]`, Probe{}, false},
		{"missing seq", `["r",{"ts":3}]`, Probe{}, false},
		{"non-numeric seq", `["r",{"seq":"3","ts":4}]`, Probe{}, false},
		{"overflow", `["r",{"seq":99999999999999999999,"ts":4}]`, Probe{}, false},
		{"ts beyond int64", `["r",{"seq":1,"ts":9223372036854775808}]`, Probe{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ProbeFrame([]byte(tt.frame))
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("ProbeFrame(%s) = %+v, %v; want %+v, %v", tt.frame, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	// what the bench sends is what it probes
	frame := EncodeEvent(nil, "receive_message", Payload(nil, 99, 12345, PadFor(100)))
	if got, ok := ProbeFrame(frame); !ok || got != (Probe{99, 12345, true}) {
		t.Errorf("ProbeFrame(bench frame) = %+v, %v", got, ok)
	}
}

func TestSocketURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"http://127.0.0.1:3000", "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket", false},
		{"http://localhost:3000/", "ws://localhost:3000/socket.io/?EIO=4&transport=websocket", false},
		{"ws://[::1]:3000/socket.io/", "ws://[::1]:3000/socket.io/?EIO=4&transport=websocket", false},
		{"https://127.0.0.2:443/custom/", "wss://127.0.0.2:443/custom/?EIO=4&transport=websocket", false},
		{"http://10.0.0.1:3000", "", true},
		{"http://example.com:3000", "", true},
		{"ftp://127.0.0.1", "", true},
		{"127.0.0.1:3000", "", true},
	}
	for _, tt := range tests {
		got, err := SocketURL(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("SocketURL(%q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	tests := []struct {
		name   string
		sorted []int64
		q      float64
		want   int64
	}{
		{"empty", nil, 0.5, 0},
		{"single p50", []int64{7}, 0.5, 7},
		{"single p99", []int64{7}, 0.99, 7},
		{"two p50", []int64{1, 2}, 0.5, 1},
		{"two p51", []int64{1, 2}, 0.51, 2},
		{"hundred p50", hundred, 0.5, 50},
		{"hundred p99", hundred, 0.99, 99},
		{"hundred p999", hundred, 0.999, 100},
		{"hundred min", hundred, 0, 1},
		{"hundred max", hundred, 1, 100},
		{"below zero", hundred, -1, 1},
		{"above one", hundred, 2, 100},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.q); got != tt.want {
			t.Errorf("%s: Percentile(q=%v) = %d, want %d", tt.name, tt.q, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	// 1000 samples of 1..1000 ms, shuffled: Summarize must sort them
	s := make([]int64, 1000)
	for i := range s {
		s[(i*7919)%1000] = int64(i+1) * int64(time.Millisecond)
	}
	got := Summarize(s)
	want := Summary{Count: 1000, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if z := Summarize(nil); z != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v", z)
	}
	// sub-millisecond precision is kept to the microsecond
	if got := Summarize([]int64{1_234_567}); got.P50 != 1.235 {
		t.Errorf("P50 of 1.234567ms = %v, want 1.235", got.P50)
	}
}

func TestParseRates(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"5000,10000,25000", []int{5000, 10000, 25000}, false},
		{"5k, 10K ,1.5m", []int{5000, 10000, 1500000}, false},
		{"100,", []int{100}, false},
		{"", nil, true},
		{"0", nil, true},
		{"-5", nil, true},
		{"abc", nil, true},
		{"6m", nil, true}, // over the limit
	}
	for _, tt := range tests {
		got, err := ParseRates(tt.in, 5_000_000)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseRates(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRates(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"message rate", MessageRate(25000, 1000), 25},
		{"message rate no clients", MessageRate(25000, 0), 0},
		{"per second", PerSecond(5000, 2*time.Second), 2500},
		{"per second zero time", PerSecond(5000, 0), 0},
		{"lost", float64(Lost(100, 90)), 10},
		{"lost never negative", float64(Lost(100, 110)), 0},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
