package stamp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/examples/plugin/stamp"
	"github.com/eventrouter/eventrouter/rules"
)

// effects records what an executor does; the methods the plugin does not
// use are the embedded nil interface's and would panic.
type effects struct {
	rules.Effects
	emitted   []any // event, then args
	responded []any // status, then body
	err       error
}

func (e *effects) Emit(event string, args []any) error {
	e.emitted = append([]any{event}, args...)
	return e.err
}

func (e *effects) Respond(status int, body any, headers map[string]string) error {
	e.responded = []any{status, body}
	return e.err
}

var fixed = time.Date(2026, 11, 30, 18, 0, 0, 5, time.FixedZone("CET", 3600))

const fixedText = "2026-11-30T17:00:00.000000005Z"

// TestExecute checks what the executor sends: maps get the key, anything
// else is wrapped, the rule's map is left alone, and errors name the action.
func TestExecute(t *testing.T) {
	reg := builtin.Registry()
	reg.MustRegister(stamp.New(func() time.Time { return fixed }))
	x, ok := reg.Executor(stamp.EmitKind)
	if !ok {
		t.Fatal("no executor for stamp_emit")
	}

	data := map[string]any{"text": "hi"}
	fx := &effects{}
	if err := x.Execute(context.Background(), fx, rules.Action{Kind: stamp.EmitKind, Event: "said", Args: []any{data}}); err != nil {
		t.Fatal(err)
	}
	want := []any{"said", map[string]any{"text": "hi", "server_time": fixedText}}
	if !reflect.DeepEqual(fx.emitted, want) {
		t.Errorf("emitted %v, want %v", fx.emitted, want)
	}
	if _, changed := data["server_time"]; changed {
		t.Error("the rule's map was changed")
	}

	fx = &effects{}
	if err := x.Execute(context.Background(), fx, rules.Action{Kind: stamp.RespondKind, Status: 201, Body: "ok"}); err != nil {
		t.Fatal(err)
	}
	want = []any{201, map[string]any{"data": "ok", "server_time": fixedText}}
	if !reflect.DeepEqual(fx.responded, want) {
		t.Errorf("responded %v, want %v", fx.responded, want)
	}

	fx = &effects{err: errors.New("socket gone")}
	err := x.Execute(context.Background(), fx, rules.Action{Kind: stamp.EmitKind, Event: "said", Args: []any{1}})
	if err == nil || err.Error() != `stamp_emit "said": socket gone` {
		t.Errorf("error %v, want it to name the action and the cause", err)
	}
}

// TestBuild checks the functions compile in the rules they are allowed
// in and are refused in the others.
func TestBuild(t *testing.T) {
	reg := builtin.Registry()
	reg.MustRegister(stamp.Plugin())
	for _, tc := range []struct {
		name, yaml string
		ok         bool
	}{
		{"stamp_emit in a socket rule", "rules:\n  - {name: a, on: ping, do: ['stamp_emit(\"pong\", data)']}\n", true},
		{"stamp_respond in a route", "rules:\n  - {name: a, on: POST /t, do: ['stamp_respond(200, body)']}\n", true},
		{"stamp_respond in a socket rule", "rules:\n  - {name: a, on: ping, do: ['stamp_respond(200, data)']}\n", false},
		{"stamp_emit in a route", "rules:\n  - {name: a, on: POST /t, do: ['stamp_emit(\"x\", body)']}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := rules.Load(path, reg, rules.LoadOptions{})
			if (err == nil) != tc.ok {
				t.Errorf("load error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
