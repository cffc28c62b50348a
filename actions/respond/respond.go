// Package respond is the plugin that answers HTTP route requests.
package respond

import (
	"context"
	"fmt"

	"github.com/eventrouter/eventrouter/rules"
)

// Kind is the action kind this plugin builds and executes.
const Kind = rules.RespondKind

// Plugin returns the respond plugin.
func Plugin() rules.Plugin {
	return rules.Plugin{
		Name: "respond",
		Doc:  "Writes the HTTP response of a route. The body is sent as JSON unless it is a string with a Content-Type header. Only the first respond of a request takes effect.",
		Functions: []rules.Function{{
			Name: "respond", Usage: "respond(status, body[, headers])", Doc: "answers the request with status, body and optional headers.",
			Triggers: rules.TriggerHTTP,
			Types:    []any{new(func(int, any) rules.Action), new(func(int, any, map[string]any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				status, _ := args[0].(int)
				if status < 100 || status > 599 {
					return fmt.Errorf("respond: status %d is not an HTTP status", status)
				}
				a.Kind, a.Status, a.Body = Kind, status, args[1]
				if len(args) > 2 {
					hm, _ := args[2].(map[string]any)
					a.Headers = make(map[string]string, len(hm))
					for k, v := range hm {
						a.Headers[k] = fmt.Sprint(v)
					}
				}
				return nil
			},
		}},
		Kinds: []string{Kind},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			return fx.Respond(a.Status, a.Body, a.Headers)
		}),
	}
}
