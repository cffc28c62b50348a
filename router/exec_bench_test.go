package router

import (
	"context"
	"reflect"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
)

// countingEffects is a rules.Effects that only counts what it is asked to
// do, so the action path can be measured without sockets or the network.
type countingEffects struct {
	emits, broadcasts, acks, logs, logBytes int
}

func (fx *countingEffects) Emit(string, []any) error { fx.emits++; return nil }
func (fx *countingEffects) Broadcast([]string, bool, string, []any) error {
	fx.broadcasts++
	return nil
}
func (fx *countingEffects) Ack([]any) error                           { fx.acks++; return nil }
func (fx *countingEffects) Join([]string) error                       { return nil }
func (fx *countingEffects) Leave([]string) error                      { return nil }
func (fx *countingEffects) SetState(string, any) error                { return nil }
func (fx *countingEffects) Respond(int, any, map[string]string) error { return nil }
func (fx *countingEffects) Reject(string, any) error                  { return nil }
func (fx *countingEffects) Log(_, _, message string)                  { fx.logs++; fx.logBytes += len(message) }
func (fx *countingEffects) Disconnect(string) error                   { return nil }
func (fx *countingEffects) DisconnectRoom(string, string) error       { return nil }

var _ rules.Effects = (*countingEffects)(nil)

// benchRouter is a router with the default config.yaml and no server.
func benchRouter(b *testing.B) (*Router, *Runtime) {
	b.Helper()
	rs, err := rules.Load("../config.yaml", builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	return &Router{log: zap.NewNop(), metrics: newMetrics()}, &Runtime{Rules: rs}
}

func chatEvent() *rules.Event {
	return &rules.Event{
		Kind: rules.TriggerEvent, Name: "send_message", Namespace: "/",
		Args:   []any{map[string]any{"user": "bob", "text": "hello, everyone", "room": "lobby", "ts": 1719400000000.0}},
		Socket: rules.Socket{ID: "Kp3x9QvZ0m1AAAB", Namespace: "/"},
	}
}

// BenchmarkExecute executes the chat rule's actions (log + broadcast) as
// onEvent does: through the plugins' executors, with metrics. The log
// line's payload is formatted here, at execution (EvaluateInto defers it).
func BenchmarkExecute(b *testing.B) {
	r, rt := benchRouter(b)
	var res rules.Result
	rt.Rules.EvaluateInto(chatEvent(), &res)
	fx := &countingEffects{}
	b.ReportAllocs()
	for b.Loop() {
		r.execute(context.Background(), rt, fx, res.Actions, "send_message", nil)
	}
	if fx.logs != fx.broadcasts || fx.logs == 0 {
		b.Fatalf("logs %d, broadcasts %d", fx.logs, fx.broadcasts)
	}
	if want := len(`受信メッセージ: {"room":"lobby","text":"hello, everyone","ts":1719400000000,"user":"bob"}`); fx.logBytes != fx.logs*want {
		b.Fatalf("logged %d bytes in %d lines, want %d a line", fx.logBytes, fx.logs, want)
	}
}

// BenchmarkExecuteRawJSON is BenchmarkExecute for a payload that arrived
// as JSON text, as plain-text Socket.IO events do: the effects know the
// text (rules.RawTexts), and the log line copies it instead of encoding.
func BenchmarkExecuteRawJSON(b *testing.B) {
	r, rt := benchRouter(b)
	ev := chatEvent()
	raw := []byte(`{"user":"bob","text":"hello, everyone","room":"lobby","ts":1719400000000}`)
	var res rules.Result
	rt.Rules.EvaluateInto(ev, &res)
	fx := &textEffects{v: ev.Args[0], raw: raw}
	b.ReportAllocs()
	for b.Loop() {
		r.execute(context.Background(), rt, fx, res.Actions, "send_message", nil)
	}
	if want := len("受信メッセージ: ") + len(raw); fx.logBytes != fx.logs*want {
		b.Fatalf("logged %d bytes in %d lines, want %d a line", fx.logBytes, fx.logs, want)
	}
}

// BenchmarkEventPath is onEvent without the socket: evaluate into a pooled
// Result, count metrics, execute.
func BenchmarkEventPath(b *testing.B) {
	r, rt := benchRouter(b)
	ev := chatEvent()
	fx := &countingEffects{}
	b.ReportAllocs()
	for b.Loop() {
		buf := results.Get().(*rules.Result)
		rt.Rules.EvaluateInto(ev, buf)
		res := *buf
		r.logRuleErrors(rt, res, nil)
		r.metrics.event(rt, "/", ev.Name, res)
		r.execute(context.Background(), rt, fx, res.Actions, ev.Name, nil)
		results.Put(buf)
	}
	if fx.broadcasts == 0 {
		b.Fatal("nothing broadcast")
	}
}

// textEffects is countingEffects that knows the text of one incoming value.
type textEffects struct {
	countingEffects
	v   any
	raw []byte
}

// RawJSON implements rules.RawTexts by identity, as the router does.
func (t *textEffects) RawJSON(v any) ([]byte, bool) {
	a, b := reflect.ValueOf(v), reflect.ValueOf(t.v)
	if a.Kind() == reflect.Map && b.Kind() == reflect.Map && a.UnsafePointer() == b.UnsafePointer() {
		return t.raw, true
	}
	return nil, false
}
