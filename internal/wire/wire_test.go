package wire

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eventrouter/eventrouter/internal/rawjson"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// decodeAll feeds msgs to a decoder and returns the packets it emitted and
// the first error.
func decodeAll(t *testing.T, p parser.Parser, msgs ...any) ([]*parser.Packet, error) {
	t.Helper()
	d := p.NewDecoder()
	var got []*parser.Packet
	_ = d.On("decoded", func(a ...any) { got = append(got, a[0].(*parser.Packet)) })
	for _, m := range msgs {
		if err := d.Add(m); err != nil {
			return got, err
		}
	}
	return got, nil
}

func encodeString(p parser.Parser, pkt *parser.Packet) []string {
	var out []string
	for _, b := range p.NewEncoder().Encode(pkt) {
		if _, ok := b.(*types.StringBuffer); ok {
			out = append(out, b.String())
		} else {
			out = append(out, "<bin>"+string(b.Bytes()))
		}
	}
	return out
}

// TestDecodeKeepsText checks the texts kept for each argument, and that the
// decoded values are the default parser's.
func TestDecodeKeepsText(t *testing.T) {
	cases := []struct {
		name string
		in   string
		nsp  string
		id   *uint64
		raw  []string
	}{
		{"object order", `2["m",{"user":"ann","text":"hi"}]`, "/", nil, []string{`{"user":"ann","text":"hi"}`}},
		{"numbers", `2["m",1.0,1e3,12345678901234567890,-0]`, "/", nil, []string{`1.0`, `1e3`, `12345678901234567890`, `-0`}},
		{"nested and strings", `2["m",{"b":[1,{"y":2,"x":"a,]}\""}],"a":null},"x\u00e9",true]`, "/", nil, []string{`{"b":[1,{"y":2,"x":"a,]}\""}],"a":null}`, `"x\u00e9"`, `true`}},
		{"namespace and id", `2/chat,17["m",{"z":1,"a":2}]`, "/chat", ptr(17), []string{`{"z":1,"a":2}`}},
		{"no args", `2["m"]`, "/", nil, []string{}},
		{"whitespace compacted", "2[ \"m\" , { \"b\" : 1 ,\n \"a\" : \"x y\" } ]", "/", nil, []string{`{"b":1,"a":"x y"}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(t, NewParser(), types.NewStringBufferString(tc.in))
			if err != nil || len(got) != 1 {
				t.Fatalf("decode: %v, %d packets", err, len(got))
			}
			want, _ := decodeAll(t, parser.NewParser(), types.NewStringBufferString(tc.in))
			p := got[0]
			data := p.Data.([]any)
			args, raw := Split(data[1:])
			if raw == nil {
				t.Fatal("no *Args appended")
			}
			if !reflect.DeepEqual(append([]any{data[0]}, args...), want[0].Data) {
				t.Errorf("values %#v, default parser %#v", args, want[0].Data)
			}
			if p.Nsp != tc.nsp || !reflect.DeepEqual(p.Id, tc.id) || p.Type != parser.EVENT {
				t.Errorf("packet %v %q %v", p.Type, p.Nsp, p.Id)
			}
			var texts []string
			for i := 0; i < raw.Len(); i++ {
				texts = append(texts, string(raw.Raw(i)))
			}
			if len(texts) != len(tc.raw) || (len(texts) > 0 && !reflect.DeepEqual(texts, tc.raw)) {
				t.Errorf("texts %q, want %q", texts, tc.raw)
			}
		})
	}
}

func ptr(n uint64) *uint64 { return &n }

// TestDelegated checks that everything but plain-text events is the default
// parser's business: same packets, same errors.
func TestDelegated(t *testing.T) {
	str := func(s string) func() any { return func() any { return types.NewStringBufferString(s) } }
	bin := func(b ...byte) func() any { return func() any { return types.NewBytesBuffer(b) } }
	cases := []struct {
		name string
		msgs []func() any
	}{
		{"connect", []func() any{str(`0{"token":"x"}`)}},
		{"ack", []func() any{str(`35[{"b":1,"a":2}]`)}},
		{"numeric event name", []func() any{str(`2[1,2,3]`)}},
		{"reserved event name", []func() any{str(`2["disconnect"]`)}},
		{"broken json", []func() any{str(`2["m",{"a":`)}},
		{"not an array", []func() any{str(`2{"a":1}`)}},
		{"trailing garbage", []func() any{str(`2["m",1]xyz`)}},
		{"invalid utf-8", []func() any{str("2[\"m\",\"\xff\"]")}},
		{"long namespace", []func() any{str("2/" + strings.Repeat("n", 600) + `,["m"]`)}},
		{"long id", []func() any{str(`2123456789012345678901["m"]`)}},
		{"binary event", []func() any{str(`51-["m",{"_placeholder":true,"num":0}]`), bin(1, 2, 3)}},
		{"binary event without attachments", []func() any{str(`50-["m",1]`), str(`2["m",{"b":1}]`)}},
		{"text during binary", []func() any{str(`51-["m",{"_placeholder":true,"num":0}]`), str(`2["m"]`)}},
		{"binary without header", []func() any{bin(1)}},
		{"unknown type", []func() any{str(`9x`)}},
		{"string input", []func() any{func() any { return `2[1]` }}},
	}
	run := func(p parser.Parser, msgs []func() any) ([]*parser.Packet, error) {
		var in []any
		for _, m := range msgs {
			in = append(in, m())
		}
		return decodeAll(t, p, in...)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, gerr := run(NewParser(), tc.msgs)
			want, werr := run(parser.NewParser(), tc.msgs)
			if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
				t.Errorf("error %v, default parser %v", gerr, werr)
			}
			// A plain event after a binary one is ours: compare values only.
			for _, p := range got {
				if d, ok := p.Data.([]any); ok {
					if args, raw := Split(d); raw != nil {
						p.Data = args
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("packets %s, default parser %s", dump(got), dump(want))
			}
		})
	}
}

func dump(ps []*parser.Packet) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "{%v %q %#v %v} ", p.Type, p.Nsp, p.Data, p.Id)
	}
	return b.String()
}

// TestEncode checks verbatim texts, and that packets without them encode as
// the default encoder does.
func TestEncode(t *testing.T) {
	text := func(s string) *rawjson.Text { v := rawjson.Of([]byte(s)); return &v }
	id := uint64(4)
	cases := []struct {
		name string
		pkt  *parser.Packet
		want []string // nil: same as the default encoder
	}{
		{"event with text", &parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"m", text(`{"z":1,"a":1.0}`), "s<"}}, []string{`2["m",{"z":1,"a":1.0},"s\u003c"]`}},
		{"namespace and id", &parser.Packet{Type: parser.EVENT, Nsp: "/chat", Id: &id, Data: []any{"m", text(`1e3`)}}, []string{`2/chat,4["m",1e3]`}},
		{"ack with several values", &parser.Packet{Type: parser.ACK, Nsp: "/", Id: &id, Data: []any{text(`{"b":1,"a":2}`), 2.0, "x"}}, []string{`34[{"b":1,"a":2},2,"x"]`}},
		{"text beside binary", &parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"m", text(`{"b":1,"a":2}`), []byte{7}}}, []string{`51-["m",{"b":1,"a":2},{"_placeholder":true,"num":0}]`, "<bin>\x07"}},
		{"plain event", &parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"m", map[string]any{"b": 1, "a": 2}}}, nil},
		{"binary event", &parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"m", []byte{1, 2}}}, nil},
		{"connect", &parser.Packet{Type: parser.CONNECT, Nsp: "/", Data: map[string]any{"sid": "x"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeString(NewParser(), tc.pkt)
			want := tc.want
			if want == nil {
				want = encodeString(parser.NewParser(), tc.pkt)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("encoded %q, want %q", got, want)
			}
		})
	}
}

// TestMatch checks which outgoing values count as passed along.
func TestMatch(t *testing.T) {
	got, _ := decodeAll(t, NewParser(), `2["m",{"b":1,"a":2},[3,1],1.0,"s",true,-0]`)
	data := got[0].Data.([]any)
	args, raw := Split(data[1:])
	obj, arr := args[0].(map[string]any), args[1].([]any)
	cases := []struct {
		name string
		pos  int
		v    any
		want string // "" for no match
	}{
		{"same object", 0, obj, `{"b":1,"a":2}`},
		{"same object elsewhere", 3, obj, `{"b":1,"a":2}`},
		{"equal object, not the same", 0, map[string]any{"b": 1.0, "a": 2.0}, ""},
		{"same array", 1, arr, `[3,1]`},
		{"sub-slice of the array", 1, arr[:1], ""},
		{"number at its position", 2, 1.0, `1.0`},
		{"number elsewhere", 0, 1.0, ""},
		{"other number", 2, 2.0, ""},
		{"string", 3, "s", `"s"`},
		{"bool", 4, true, `true`},
		{"-0 is not 0", 5, 0.0, ""},
		{"-0", 5, negZero(), `-0`},
		{"nil", 0, nil, ""},
	}
	for _, tc := range cases {
		m := raw.Match(tc.pos, tc.v)
		got := ""
		if m != nil {
			got = string(m.RawJSON())
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if (*Args)(nil).Match(0, obj) != nil {
		t.Error("nil Args matched")
	}
}

func negZero() float64 { z := 0.0; return -z }

// TestMatchNested checks objects and arrays taken from inside an argument.
func TestMatchNested(t *testing.T) {
	got, _ := decodeAll(t, NewParser(), `2["m",{"b":{"y":1.0,"x":[{"q":1e3},[2,1]]},"a\"k":{"d":1,"c":2},"dup":{"z":1},"dup":{"w":2.0,"v":1}},"s"]`)
	args, raw := Split(got[0].Data.([]any)[1:])
	obj := args[0].(map[string]any)
	b := obj["b"].(map[string]any)
	x := b["x"].([]any)
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"object in object", b, `{"y":1.0,"x":[{"q":1e3},[2,1]]}`},
		{"array in object", x, `[{"q":1e3},[2,1]]`},
		{"object in array", x[0], `{"q":1e3}`},
		{"array in array", x[1], `[2,1]`},
		{"escaped key", obj["a\"k"], `{"d":1,"c":2}`},
		{"duplicate key: the last wins", obj["dup"], `{"w":2.0,"v":1}`},
		{"a copy", map[string]any{"q": 1000.0}, ""},
	}
	for _, tc := range cases {
		m := raw.Match(0, tc.v)
		got := ""
		if m != nil {
			got = string(m.RawJSON())
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestTextIsNotBinary pins the reason Text is a struct: the encoder's binary
// detection must not take it for an attachment.
func TestTextIsNotBinary(t *testing.T) {
	v := rawjson.Of([]byte(`{"a":1}`))
	if parser.HasBinary([]any{&v}) || parser.IsBinary(&v) {
		t.Error("Text taken for binary")
	}
}

var benchMsg = `2["send_message",{"user":"ann","text":"hello there, how are you today?","room":"general","meta":{"n":3,"tags":["a","b"]}}]`

// BenchmarkRoundTrip decodes the default chat message and encodes its
// broadcast, with this parser and with the default one.
func BenchmarkRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    parser.Parser
	}{{"default", parser.NewParser()}, {"wire", NewParser()}} {
		b.Run(bc.name, func(b *testing.B) {
			d := bc.p.NewDecoder()
			e := bc.p.NewEncoder()
			var pkt *parser.Packet
			_ = d.On("decoded", func(a ...any) { pkt = a[0].(*parser.Packet) })
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Add(types.NewStringBufferString(benchMsg)); err != nil {
					b.Fatal(err)
				}
				data := pkt.Data.([]any)
				args, raw := Split(data[1:])
				out := []any{"receive_message", args[0]}
				if m := raw.Match(0, args[0]); m != nil {
					out[1] = m
				}
				e.Encode(&parser.Packet{Type: parser.EVENT, Nsp: "/", Data: out})
			}
		})
	}
}

// FuzzDecode checks the decoder against the default one on any input: same
// outcome and values, and every kept text decodes to its value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{benchMsg, `2["m",{"b":{"y":1.0,"x":[{"q":1e3},[2,1]]},"a\"k":1}]`, `2/chat,3["m", 1 ,"x"]`, `2["m"]`, `3[1]`, `2[1]`, "2[\"m\",\"\\ud800\"]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, gerr := decodeAll(t, NewParser(), types.NewStringBufferString(in))
		want, werr := decodeAll(t, parser.NewParser(), types.NewStringBufferString(in))
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, default %v", in, gerr, werr)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d packets, default %d", in, len(got), len(want))
		}
		for i, p := range got {
			d, ok := p.Data.([]any)
			if !ok {
				continue
			}
			args, raw := Split(d)
			p.Data = args
			if !reflect.DeepEqual(p, want[i]) {
				t.Fatalf("%q: %s, default %s", in, dump(got), dump(want))
			}
			if raw == nil {
				continue
			}
			for j := 0; j < raw.Len(); j++ {
				var v any
				if err := json.Unmarshal(raw.Raw(j), &v); err != nil || !reflect.DeepEqual(v, args[j+1]) {
					t.Fatalf("%q: text %d %q is not %#v (%v)", in, j, raw.Raw(j), args[j+1], err)
				}
				if m, ok := args[j+1].(map[string]any); ok {
					for _, c := range m {
						if mt := raw.Match(-1, c); mt != nil {
							var cv any
							if err := json.Unmarshal(mt.RawJSON(), &cv); err != nil || !reflect.DeepEqual(cv, c) {
								t.Fatalf("%q: nested text %q is not %#v", in, mt.RawJSON(), c)
							}
						}
					}
				}
			}
		}
	})
}

// BenchmarkDecode and BenchmarkEncode split BenchmarkRoundTrip in two.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    parser.Parser
	}{{"default", parser.NewParser()}, {"wire", NewParser()}} {
		b.Run(bc.name, func(b *testing.B) {
			d := bc.p.NewDecoder()
			_ = d.On("decoded", func(a ...any) {})
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Add(types.NewStringBufferString(benchMsg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	var pkt *parser.Packet
	d := NewParser().NewDecoder()
	_ = d.On("decoded", func(a ...any) { pkt = a[0].(*parser.Packet) })
	_ = d.Add(types.NewStringBufferString(benchMsg))
	args, raw := Split(pkt.Data.([]any)[1:])
	for _, bc := range []struct {
		name string
		p    parser.Parser
		arg  any
	}{{"default", parser.NewParser(), args[0]}, {"wire", NewParser(), raw.Match(0, args[0])}} {
		b.Run(bc.name, func(b *testing.B) {
			e := bc.p.NewEncoder()
			b.ReportAllocs()
			for b.Loop() {
				e.Encode(&parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{"receive_message", bc.arg}})
			}
		})
	}
}

// TestDecoderDestroyWhileDecoding checks that the library may destroy a
// decoder from another goroutine while packets are decoded (it does when
// a client closes): every packet is still decoded, and -race sees no race
// on the default decoder, which is made and dropped per packet.
func TestDecoderDestroyWhileDecoding(t *testing.T) {
	d := NewParser().NewDecoder()
	var decoded atomic.Int64
	_ = d.On("decoded", func(...any) { decoded.Add(1) })
	const n = 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if err := d.Add(types.NewStringBufferString("0")); err != nil {
				t.Errorf("Add: %v", err)
				return
			}
		}
	}()
	for range n {
		d.Destroy()
	}
	<-done
	if got := decoded.Load(); got != n {
		t.Errorf("%d packets decoded, want %d", got, n)
	}
}
