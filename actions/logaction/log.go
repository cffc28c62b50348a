// Package logaction is the `log` action plugin: rules write log lines that
// carry the rule name and the socket id as fields.
package logaction

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/eventrouter/eventrouter/rules"
)

// Kind is the action kind this plugin builds and executes.
const Kind = "log"

// Plugin returns the log plugin.
func Plugin() rules.Plugin {
	return rules.Plugin{
		Name: "log",
		Doc:  "Writes log lines, formatted like console.log: strings as they are, other values as JSON, separated by spaces.",
		Functions: []rules.Function{
			{
				Name: "log", Usage: "log(values...)", Doc: "logs the values at info level.",
				Types: []any{new(func(...any) rules.Action)},
				Build: func(args ...any) (any, error) {
					return rules.Action{Kind: Kind, Level: "info", Message: Format(args)}, nil
				},
			},
			{
				Name: "log_at", Usage: "log_at(level, values...)", Doc: "logs the values at level debug, info, warn or error.",
				Types: []any{new(func(string, ...any) rules.Action)},
				Build: func(args ...any) (any, error) {
					level, _ := args[0].(string)
					switch level {
					case "debug", "info", "warn", "error":
					default:
						return nil, fmt.Errorf("log_at: level %q is not debug, info, warn or error", level)
					}
					return rules.Action{Kind: Kind, Level: level, Message: Format(args[1:])}, nil
				},
			},
		},
		Kinds: []string{Kind},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			fx.Log(a.Rule, a.Level, a.Message)
			return nil
		}),
	}
}

// Format joins values the way console.log does: strings verbatim, anything
// else as compact JSON, separated by single spaces.
func Format(args []any) string {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return s
		}
	}
	var b strings.Builder
	for i, a := range rules.Flatten(args) {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch v := a.(type) {
		case string:
			b.WriteString(v)
		case nil:
			b.WriteString("null")
		case []byte:
			fmt.Fprintf(&b, "<Buffer %d bytes>", len(v))
		default:
			out, err := json.Marshal(v)
			if err != nil {
				fmt.Fprintf(&b, "%v", v)
			} else {
				b.Write(out)
			}
		}
	}
	return b.String()
}
