// Package rooms is the plugin that moves sockets in and out of rooms.
package rooms

import (
	"context"
	"fmt"
	"slices"

	"github.com/eventrouter/eventrouter/actions/emit"
	"github.com/eventrouter/eventrouter/rules"
)

// The action kinds this plugin builds and executes.
const (
	KindJoin  = "join"
	KindLeave = "leave"
)

// Plugin returns the rooms plugin.
func Plugin() rules.Plugin {
	fn := func(name, usage, doc, kind string) rules.Function {
		return rules.Function{
			Name: name, Usage: usage, Doc: doc, Triggers: rules.TriggerEvent | rules.TriggerConnection,
			Types: []any{new(func(string) rules.Action), new(func([]any) rules.Action), new(func([]string) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				rooms, err := emit.Rooms(args[0])
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				a.Kind, a.Rooms = kind, rooms
				return nil
			},
		}
	}
	return rules.Plugin{
		Name: "rooms",
		Doc:  "Joins and leaves rooms. Later rules of the same event see the change in socket.rooms.",
		Functions: []rules.Function{
			fn("join", "join(rooms)", "adds the socket to a room or a list of rooms.", KindJoin),
			fn("leave", "leave(rooms)", "removes the socket from a room or a list of rooms.", KindLeave),
		},
		Kinds: []string{KindJoin, KindLeave},
		Overlay: func(sock *rules.Socket, a rules.Action) {
			rooms := slices.Clone(sock.Rooms)
			if a.Kind == KindJoin {
				for _, r := range a.Rooms {
					if !slices.Contains(rooms, r) {
						rooms = append(rooms, r)
					}
				}
			} else {
				rooms = slices.DeleteFunc(rooms, func(r string) bool { return slices.Contains(a.Rooms, r) })
			}
			sock.Rooms = rooms
		},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			if a.Kind == KindJoin {
				return fx.Join(a.Rooms)
			}
			return fx.Leave(a.Rooms)
		}),
	}
}
