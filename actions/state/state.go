// Package state is the plugin that keeps per-socket state.
package state

import (
	"context"
	"fmt"
	"maps"

	"github.com/eventrouter/eventrouter/rules"
)

// Kind is the action kind this plugin builds and executes.
const Kind = "set"

// Plugin returns the state plugin.
func Plugin() rules.Plugin {
	return rules.Plugin{
		Name: "state",
		Doc:  "Per-socket state, readable as socket.state.KEY by this socket's later events and by later rules of the same event.",
		Functions: []rules.Function{{
			Name: "set", Usage: "set(key, value)", Doc: "stores value under key in the socket's state.",
			Triggers: rules.TriggerEvent | rules.TriggerConnection,
			Types:    []any{new(func(string, any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				key, _ := args[0].(string)
				if key == "" {
					return fmt.Errorf("set: key is empty")
				}
				a.Kind, a.Key, a.Value = Kind, key, args[1]
				return nil
			},
		}},
		Kinds: []string{Kind},
		Overlay: func(sock *rules.Socket, a rules.Action) {
			st := maps.Clone(sock.State)
			if st == nil {
				st = map[string]any{}
			}
			st[a.Key] = a.Value
			sock.State = st
		},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			return fx.SetState(a.Key, a.Value)
		}),
	}
}
