// Package emit is the plugin that sends Socket.IO events: to the sender, to
// the whole namespace, to rooms, and as acknowledgements.
package emit

import (
	"context"
	"fmt"

	"github.com/eventrouter/eventrouter/rules"
)

// The action kinds this plugin builds and executes.
const (
	KindEmit            = "emit"
	KindBroadcast       = "broadcast"
	KindBroadcastOthers = "broadcast_others"
	KindTo              = "to"
	KindToOthers        = "to_others"
	KindReply           = rules.ReplyKind
)

// Plugin returns the emit plugin.
func Plugin() rules.Plugin {
	eventFn := func(name, usage, doc string, kind string) rules.Function {
		return rules.Function{
			Name: name, Usage: usage, Doc: doc, Triggers: rules.AnyTrigger,
			Types: []any{new(func(string, ...any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				ev, _ := args[0].(string)
				if ev == "" {
					return fmt.Errorf("%s: event name is empty", name)
				}
				a.Kind, a.Event, a.Args = kind, ev, rules.Flatten(args[1:])
				return nil
			},
		}
	}
	roomFn := func(name, usage, doc, kind string) rules.Function {
		return rules.Function{
			Name: name, Usage: usage, Doc: doc, Triggers: rules.AnyTrigger,
			Types: []any{new(func(string, string, ...any) rules.Action), new(func([]any, string, ...any) rules.Action), new(func([]string, string, ...any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				rooms, err := Rooms(args[0])
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				ev, _ := args[1].(string)
				if ev == "" {
					return fmt.Errorf("%s: event name is empty", name)
				}
				a.Kind, a.Rooms, a.Event, a.Args = kind, rooms, ev, rules.Flatten(args[2:])
				return nil
			},
		}
	}
	emitFn := eventFn("emit", "emit(event, args...)", "sends event to the socket that caused the event.", KindEmit)
	emitFn.Triggers = rules.TriggerEvent | rules.TriggerConnection
	others := eventFn("broadcast_others", "broadcast_others(event, args...)", "sends event to every socket of the namespace but the sender.", KindBroadcastOthers)
	others.Triggers = rules.SocketTriggers
	toOthers := roomFn("to_others", "to_others(rooms, event, args...)", "sends event to every socket in rooms but the sender.", KindToOthers)
	toOthers.Triggers = rules.SocketTriggers
	return rules.Plugin{
		Name: "emit",
		Doc:  "Sends Socket.IO events. Arguments are sent as given; spread(list) sends a list's items as separate arguments.",
		Functions: []rules.Function{
			emitFn,
			eventFn("broadcast", "broadcast(event, args...)", "sends event to every socket of the namespace, the sender included (io.emit). In HTTP rules the namespace is /.", KindBroadcast),
			others,
			roomFn("to", "to(rooms, event, args...)", "sends event to every socket in rooms (a name or a list), the sender included.", KindTo),
			toOthers,
			{
				Name: "reply", Usage: "reply(args...)", Doc: "answers the client's acknowledgement callback with args; ignored when the client asked for none.",
				Triggers: rules.TriggerEvent,
				Types:    []any{new(func(...any) rules.Action)},
				BuildAction: func(a *rules.Action, args []any, _ bool) error {
					a.Kind, a.Args = KindReply, rules.Flatten(args)
					return nil
				},
			},
		},
		Kinds: []string{KindEmit, KindBroadcast, KindBroadcastOthers, KindTo, KindToOthers, KindReply},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			switch a.Kind {
			case KindEmit:
				return fx.Emit(a.Event, a.Args)
			case KindBroadcast:
				return fx.Broadcast(nil, false, a.Event, a.Args)
			case KindBroadcastOthers:
				return fx.Broadcast(nil, true, a.Event, a.Args)
			case KindTo, KindToOthers:
				if len(a.Rooms) == 0 {
					// No rooms reach no one. Passed on, an empty list would
					// mean "every socket" to Socket.IO, so to(socket.rooms,
					// ...) in a disconnect rule (the socket has left its
					// rooms by then) would broadcast to the namespace.
					return nil
				}
				return fx.Broadcast(a.Rooms, a.Kind == KindToOthers, a.Event, a.Args)
			case KindReply:
				return fx.Ack(a.Args)
			}
			return fmt.Errorf("emit: unknown action kind %q", a.Kind)
		}),
	}
}

// Rooms accepts a room name or a list of names and returns the list.
func Rooms(v any) ([]string, error) {
	switch r := v.(type) {
	case string:
		if r == "" {
			return nil, fmt.Errorf("room name is empty")
		}
		return []string{r}, nil
	case []string:
		return r, nil
	case []any:
		out := make([]string, 0, len(r))
		for _, item := range r {
			s, ok := item.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("room %v is not a non-empty string", item)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("rooms must be a string or a list of strings, got %T", v)
}
