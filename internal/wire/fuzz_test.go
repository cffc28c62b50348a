package wire

import (
	"reflect"
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// FuzzRoundTrip checks that what the decoder keeps re-encodes consistently:
// an event whose arguments are passed along as their kept texts (as a
// broadcast of data does), and an ack answering with them, encode to
// packets that the default parser decodes to the values it decodes from
// the original frame.
//
//	go test -run '^$' -fuzz '^FuzzRoundTrip$' -fuzztime 60s ./internal/wire/
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{
		benchMsg, `2["m",{"b":{"y":1.0,"x":[{"q":1e3},[2,1]]},"a\"k":1}]`, `2/chat,3["m", 1 ,"x"]`,
		`2["m"]`, `2["m",null,true,-0,1E+2,"\u00e9\ud83d\ude00"]`, `2["m",{"":{},"a":[]}]`,
		`2["m","</script>"]`, `2/a/b,["m",[[[[1]]]]]`, `21["m",{"a":1,"a":2}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := decodeAll(t, NewParser(), types.NewStringBufferString(in))
		if err != nil || len(got) != 1 {
			return
		}
		want, err := decodeAll(t, parser.NewParser(), types.NewStringBufferString(in))
		if err != nil || len(want) != 1 {
			t.Fatalf("%q: decoded here, not by the default parser (%v)", in, err)
		}
		d, _ := got[0].Data.([]any)
		args, raw := Split(d)
		if raw == nil {
			return // not the text path: nothing kept
		}
		wantData := want[0].Data.([]any)
		for _, typ := range []parser.PacketType{parser.EVENT, parser.ACK} {
			out := []any{args[0]}
			for i := range raw.texts {
				out = append(out, &raw.texts[i])
			}
			pkt := &parser.Packet{Type: typ, Nsp: got[0].Nsp, Id: got[0].Id, Data: out}
			enc := encodeString(NewParser(), pkt)
			if len(enc) != 1 {
				t.Fatalf("%q: encoded to %d buffers", in, len(enc))
			}
			back, err := decodeAll(t, parser.NewParser(), types.NewStringBufferString(enc[0]))
			if err != nil || len(back) != 1 {
				t.Fatalf("%q: re-encoded as %q, which does not decode: %v", in, enc[0], err)
			}
			if back[0].Type != typ || back[0].Nsp != want[0].Nsp || !reflect.DeepEqual(back[0].Id, want[0].Id) || !reflect.DeepEqual(back[0].Data, wantData) {
				t.Fatalf("%q: re-encoded as %q, which decodes to %s, want %s", in, enc[0], dump(back), dump(want))
			}
			// Matching finds the kept text for every argument passed along.
			for i, v := range args[1:] {
				if mt := raw.Match(i, v); mt != nil && mt != &raw.texts[i] {
					t.Fatalf("%q: argument %d matched another argument's text", in, i)
				}
			}
		}
	})
}
