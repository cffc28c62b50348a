package router

import (
	"testing"

	"github.com/eventrouter/eventrouter/internal/wire"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// BenchmarkPassAlong is the router's share of payload fidelity per event:
// registering the arguments for log lines, matching one broadcast argument,
// and releasing them.
func BenchmarkPassAlong(b *testing.B) {
	d := wire.NewParser().NewDecoder()
	var pkt *parser.Packet
	_ = d.On("decoded", func(a ...any) { pkt = a[0].(*parser.Packet) })
	if err := d.Add(types.NewStringBufferString(`2["send_message",{"user":"ann","text":"hi"}]`)); err != nil {
		b.Fatal(err)
	}
	data := pkt.Data.([]any)[1:]
	b.ReportAllocs()
	for b.Loop() {
		args, raw := fromWire(data)
		out := passAlong(raw, args[:1])
		if out[0] == args[0] {
			b.Fatal("not passed along")
		}
	}
}
