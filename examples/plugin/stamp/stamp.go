// Package stamp is an example action plugin: it stamps the server's time
// into a payload as the daemon sends it, so clients can order messages by
// one clock, measure their delay, or show when the server saw an event.
//
// Rules stay pure: stamp_emit and stamp_respond build actions that carry
// the payload unstamped, so rule tests compare them exactly; the executor
// reads the clock when it carries them out.
//
// A map payload gets a server_time key added (a copy; the rule's value is
// not changed); any other payload is wrapped as {"data": payload,
// "server_time": ...}. The time is RFC 3339 in UTC with nanoseconds, e.g.
// "2026-11-30T17:45:41.123456789Z".
package stamp

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/eventrouter/eventrouter/rules"
)

// The action kinds the plugin builds and executes.
const (
	EmitKind    = "stamp_emit"
	RespondKind = "stamp_respond"
)

// Key is the payload key the time is stamped under.
const Key = "server_time"

// Plugin returns the stamp plugin reading the system clock.
func Plugin() rules.Plugin {
	return New(time.Now)
}

// New returns the stamp plugin reading the time from now; tests pass a
// fixed clock.
func New(now func() time.Time) rules.Plugin {
	x := executor{now: now}
	return rules.Plugin{
		Name: "stamp",
		Doc:  "Stamps the server's time into a payload as it is sent (an example plugin, built with examples/plugin/main.go).",
		Functions: []rules.Function{{
			Name: "stamp_emit", Usage: "stamp_emit(event, data)",
			Doc:      "sends event to the socket that sent this one, with data stamped with the server's time.",
			Triggers: rules.SocketTriggers,
			Types:    []any{new(func(string, any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				event, _ := args[0].(string)
				if event == "" {
					return fmt.Errorf("stamp_emit: empty event name")
				}
				a.Kind, a.Event, a.Args = EmitKind, event, args[1:2]
				return nil
			},
		}, {
			Name: "stamp_respond", Usage: "stamp_respond(status, body)",
			Doc:      "answers the HTTP request with status and body stamped with the server's time.",
			Triggers: rules.TriggerHTTP,
			Types:    []any{new(func(int, any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				status, _ := args[0].(int)
				if status < 100 || status > 599 {
					return fmt.Errorf("stamp_respond: status %d is not an HTTP status", status)
				}
				a.Kind, a.Status, a.Body = RespondKind, status, args[1]
				return nil
			},
		}},
		Kinds:    []string{EmitKind, RespondKind},
		Executor: x,
	}
}

// executor carries out the plugin's actions with its clock.
type executor struct {
	now func() time.Time
}

// Execute stamps the action's payload and sends it.
func (x executor) Execute(_ context.Context, fx rules.Effects, a rules.Action) error {
	switch a.Kind {
	case EmitKind:
		var data any
		if len(a.Args) > 0 {
			data = a.Args[0]
		}
		if err := fx.Emit(a.Event, []any{x.stamp(data)}); err != nil {
			return fmt.Errorf("stamp_emit %q: %w", a.Event, err)
		}
		return nil
	case RespondKind:
		if err := fx.Respond(a.Status, x.stamp(a.Body), nil); err != nil {
			return fmt.Errorf("stamp_respond: %w", err)
		}
		return nil
	}
	return fmt.Errorf("stamp: unknown action kind %q", a.Kind)
}

// Stamp returns payload stamped with t: a copy of a map with Key set, or
// anything else wrapped as {"data": payload, Key: t}.
func Stamp(payload any, t time.Time) map[string]any {
	ts := t.UTC().Format(time.RFC3339Nano)
	if m, ok := payload.(map[string]any); ok {
		out := maps.Clone(m)
		if out == nil {
			out = map[string]any{}
		}
		out[Key] = ts
		return out
	}
	return map[string]any{"data": payload, Key: ts}
}

// stamp stamps payload with the executor's clock.
func (x executor) stamp(payload any) map[string]any {
	return Stamp(payload, x.now())
}
