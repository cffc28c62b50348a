// Package disconnect is the plugin that closes sockets from rules: the
// event's own socket, or every socket in a room.
package disconnect

import (
	"context"
	"fmt"

	"github.com/eventrouter/eventrouter/rules"
)

// The action kinds this plugin builds and executes.
const (
	Kind     = "disconnect"
	KindRoom = "disconnect_room"
)

// DefaultReason is the reason disconnect rules see when disconnect() gives
// none: Socket.IO's own for a socket the server closed.
const DefaultReason = "server namespace disconnect"

// Plugin returns the disconnect plugin.
func Plugin() rules.Plugin {
	return rules.Plugin{
		Name: "disconnect",
		Doc:  "Closes sockets: the event's own, or every socket in a room. Clients see the reason \"io server disconnect\" and do not reconnect on their own.",
		Functions: []rules.Function{{
			Name: "disconnect", Usage: "disconnect([reason])",
			Doc:      "closes the event's socket after the event's earlier actions; the disconnect rules then see reason (default \"server namespace disconnect\").",
			Triggers: rules.TriggerEvent | rules.TriggerConnection,
			Types:    []any{new(func() rules.Action), new(func(string) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				a.Kind, a.Message = Kind, DefaultReason
				if len(args) > 0 {
					if reason, _ := args[0].(string); reason != "" {
						a.Message = reason
					}
				}
				return nil
			},
		}, {
			Name: "disconnect_room", Usage: "disconnect_room(room[, namespace])",
			Doc:   "closes every socket in room, in the event's namespace or the one given (\"/\" for HTTP rules).",
			Types: []any{new(func(string) rules.Action), new(func(string, string) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				room, _ := args[0].(string)
				if room == "" {
					return fmt.Errorf("disconnect_room: the room must not be empty")
				}
				a.Kind, a.Rooms = KindRoom, []string{room}
				if len(args) > 1 {
					a.Namespace, _ = args[1].(string)
				}
				return nil
			},
		}},
		Kinds: []string{Kind, KindRoom},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			if a.Kind == Kind {
				return fx.Disconnect(a.Message)
			}
			return fx.DisconnectRoom(a.Namespace, a.Rooms[0])
		}),
	}
}
