package eventrouter_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// Payload fidelity: data that the rules pass along without reading its
// fields reaches the other clients as the sender wrote it, key order and
// number spelling included, as it does through the Node server.

// TestPayloadKeyOrder relays objects whose keys are not in sorted order
// through the official Node client, over both transports, and checks the
// text each receiver parsed (JSON.stringify keeps the order it received).
func TestPayloadKeyOrder(t *testing.T) {
	d := boot(t, "testdata/payload.yaml")
	agent := nodeclient.Start(t)
	payloads := []struct {
		name string
		json string
	}{
		{"flat", `{"user":"ann","text":"hi"}`},
		{"nested", `{"z":{"y":{"x":1,"w":[{"b":2,"a":1}]},"c":true},"b":null,"a":"é<&>"}`},
		{"array of objects", `[{"zeta":1,"alpha":2},{"mid":"m","first":"f"}]`},
		{"unicode keys", `{"ユーザー":"アン","テキスト":"こんにちは","emoji":"😀"}`},
	}
	for _, tr := range []string{"websocket", "polling"} {
		t.Run(tr, func(t *testing.T) {
			opts := map[string]any{"transports": []string{tr}}
			ids := []string{tr + "-sender", tr + "-other"}
			for _, id := range ids {
				agent.Connect(id, d.URL, opts)
				agent.WaitConnect(t, id)
			}
			for _, p := range payloads {
				t.Run(p.name, func(t *testing.T) {
					agent.Emit(ids[0], "send_message", json.RawMessage(p.json))
					for _, id := range ids {
						got := agent.WaitEvent(t, id, "receive_message")
						if want := "[" + p.json + "]"; got.RawArgs != want {
							t.Errorf("%s received %s, want %s", id, got.RawArgs, want)
						}
					}
				})
			}
			for _, id := range ids {
				agent.Disconnect(id)
			}
		})
	}
	// The log line shows the object in sender order too.
	waitLog(t, d.Logs, `受信メッセージ: {"user":"ann","text":"hi"}`)
	waitLog(t, d.Logs, `受信メッセージ: [{"zeta":1,"alpha":2},{"mid":"m","first":"f"}]`)
}

// TestPayloadVerbatimFrames sends hand-written frames over a raw websocket
// and reads the frames the server sends back, byte for byte: number
// spellings JSON.parse would normalise (1.0, 1e3, 20-digit integers) must
// survive too.
func TestPayloadVerbatimFrames(t *testing.T) {
	d := boot(t, "testdata/payload.yaml")
	cases := []struct {
		name string
		send string
		want string
	}{
		{"object with numbers", `42["send_message",{"n":1.0,"e":1e3,"big":12345678901234567890,"neg":-0.0,"arr":[1.50,2E-3]}]`,
			`42["receive_message",{"n":1.0,"e":1e3,"big":12345678901234567890,"neg":-0.0,"arr":[1.50,2E-3]}]`},
		{"top-level number", `42["send_message",1.0]`, `42["receive_message",1.0]`},
		{"top-level big int", `42["send_message",12345678901234567890]`, `42["receive_message",12345678901234567890]`},
		{"string escapes", `42["send_message","\u00e9\/<"]`, `42["receive_message","\u00e9\/<"]`},
		{"whitespace is compacted, order kept", "42[\"send_message\", { \"b\" : 1.0 , \"a\" : [ 1e3 ] } ]",
			`42["receive_message",{"b":1.0,"a":[1e3]}]`},
		{"ack with several values", `4217["echo",{"b":1,"a":2},1e3,"s",[3.0,{"y":1,"x":2}]]`,
			`4317[{"b":1,"a":2},1e3,"s",[3.0,{"y":1,"x":2}]]`},
		{"values reordered by the rule", `429["pick",{"z":1.0,"a":2},"s"]`, `439["s",{"z":1.0,"a":2},"extra",42]`},
		{"object wrapped by the rule", `42["wrap",{"z":1.0,"a":2}]`, `42["wrapped",{"inner":{"z":1.0,"a":2}}]`},
		{"rule reading fields", `42["ann_only",{"user":"ann","text":"hi","meta":{"z":1.0,"a":2}}]`,
			`42["from_ann",{"user":"ann","text":"hi","meta":{"z":1.0,"a":2}},"hi",{"z":1.0,"a":2}]`},
		{"custom namespace is not declared", `42["send_message",{"b":1,"a":2}]`, `42["receive_message",{"b":1,"a":2}]`},
	}
	rs := dialRaw(t, d)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs.write(tc.send)
			if got := rs.read(); got != tc.want {
				t.Errorf("sent %s\n got %s\nwant %s", tc.send, got, tc.want)
			}
		})
	}
}

// TestPayloadThroughRules checks what the rules see and do with passed-along
// data: a when condition reading data fields, acks with several values,
// binary beside JSON, and a condition that does not hold.
func TestPayloadThroughRules(t *testing.T) {
	d := boot(t, "testdata/payload.yaml")
	agent := nodeclient.Start(t)
	ws := map[string]any{"transports": []string{"websocket"}}
	agent.Connect("a", d.URL, ws)
	agent.WaitConnect(t, "a")
	bin := []byte{0, 1, 2, 250, 255, 10, 13}

	acks := []struct {
		name    string
		event   string
		args    []any
		want    []any  // parsed ack values
		wantRaw string // ack values as the client parsed them, in order; "" skips
	}{
		{"several values", "echo", []any{json.RawMessage(`{"b":1,"a":[{"d":1,"c":2}]}`), "two", 3.5, false, nil},
			[]any{map[string]any{"b": 1.0, "a": []any{map[string]any{"d": 1.0, "c": 2.0}}}, "two", 3.5, false, nil},
			`[{"b":1,"a":[{"d":1,"c":2}]},"two",3.5,false,null]`},
		{"reordered by the rule", "pick", []any{json.RawMessage(`{"z":1,"a":2}`), "s"},
			[]any{"s", map[string]any{"z": 1.0, "a": 2.0}, "extra", 42.0},
			`["s",{"z":1,"a":2},"extra",42]`},
		{"binary round-trip", "echo", []any{bin, map[string]any{"nested": bin, "k": "v"}, "x"},
			[]any{bin, map[string]any{"nested": bin, "k": "v"}, "x"}, ""},
		{"no args", "echo", []any{}, []any{}, "[]"},
	}
	for _, tc := range acks {
		t.Run("ack "+tc.name, func(t *testing.T) {
			seq := agent.EmitAck("a", tc.event, tc.args...)
			got := agent.WaitAck(t, "a", seq)
			if !equalArgs(got.Args, tc.want) {
				t.Errorf("ack %#v, want %#v", got.Args, tc.want)
			}
			if tc.wantRaw != "" && got.RawArgs != tc.wantRaw {
				t.Errorf("ack text %s, want %s", got.RawArgs, tc.wantRaw)
			}
		})
	}

	t.Run("when reads data fields", func(t *testing.T) {
		agent.Emit("a", "ann_only", json.RawMessage(`{"user":"bob","text":"no"}`))
		agent.Emit("a", "ann_only", json.RawMessage(`{"user":"ann","text":"hi","meta":{"z":1,"a":2}}`))
		got := agent.WaitEvent(t, "a", "from_ann")
		if want := `[{"user":"ann","text":"hi","meta":{"z":1,"a":2}},"hi",{"z":1,"a":2}]`; got.RawArgs != want {
			t.Errorf("from_ann %s, want %s (bob's message must not pass)", got.RawArgs, want)
		}
	})

	t.Run("binary event relayed", func(t *testing.T) {
		agent.Emit("a", "send_message", map[string]any{"file": bin, "name": "f"})
		got := agent.WaitEvent(t, "a", "receive_message")
		if want := []any{map[string]any{"file": bin, "name": "f"}}; !reflect.DeepEqual(got.Args, want) {
			t.Errorf("binary relay %#v, want %#v", got.Args, want)
		}
		waitLog(t, d.Logs, `受信メッセージ: {"file":"`) // a binary event is logged as before
	})

	for _, e := range d.Logs.FilterMessageSnippet("受信メッセージ").All() {
		if strings.Contains(e.Message, "\n") {
			t.Errorf("multi-line log line %q", e.Message)
		}
	}
}
