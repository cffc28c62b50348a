// Package reject is the plugin that refuses connections.
package reject

import (
	"context"

	"github.com/eventrouter/eventrouter/rules"
)

// Kind is the action kind this plugin builds and executes.
const Kind = rules.RejectKind

// Plugin returns the reject plugin.
func Plugin() rules.Plugin {
	return rules.Plugin{
		Name: "reject",
		Doc:  "Refuses a connection in a connection rule. The client receives connect_error with the message (and data); no other action of the event runs.",
		Functions: []rules.Function{{
			Name: "reject", Usage: "reject(message[, data])", Doc: "refuses the connection with message and optional data.",
			Triggers: rules.TriggerConnection,
			Types:    []any{new(func(string) rules.Action), new(func(string, any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				msg, _ := args[0].(string)
				a.Kind, a.Message = Kind, msg
				if len(args) > 1 {
					a.Value = args[1]
				}
				return nil
			},
		}},
		Kinds: []string{Kind},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			return fx.Reject(a.Message, a.Value)
		}),
	}
}
