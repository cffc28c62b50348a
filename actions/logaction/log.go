// Package logaction is the `log` action plugin: rules write log lines that
// carry the rule name and the socket id as fields.
package logaction

import (
	"bytes"
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
				BuildAction: func(a *rules.Action, args []any, deferred bool) error {
					build(a, "info", args, deferred)
					return nil
				},
			},
			{
				Name: "log_at", Usage: "log_at(level, values...)", Doc: "logs the values at level debug, info, warn or error.",
				Types: []any{new(func(string, ...any) rules.Action)},
				BuildAction: func(a *rules.Action, args []any, deferred bool) error {
					level, _ := args[0].(string)
					switch level {
					case "debug", "info", "warn", "error":
					default:
						return fmt.Errorf("log_at: level %q is not debug, info, warn or error", level)
					}
					build(a, level, args[1:], deferred)
					return nil
				},
			},
		},
		Kinds: []string{Kind},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			var texts func(any) ([]byte, bool)
			if rt, ok := fx.(rules.RawTexts); ok {
				texts = rt.RawJSON
			}
			fx.Log(a.Rule, a.Level, message(a, texts))
			return nil
		}),
	}
}

// build fills a log action. Deferred, it keeps the values in Args and
// leaves formatting them to the executor, so evaluating a rule that logs
// its payload costs no JSON encoding; the line logged is the same.
func build(a *rules.Action, level string, values []any, deferred bool) {
	a.Kind, a.Level = Kind, level
	if deferred && !plain(values) {
		a.Args = values
		return
	}
	a.Message = Format(values)
}

// plain reports whether values format without work: no values or one string.
func plain(values []any) bool {
	if len(values) == 0 {
		return true
	}
	_, ok := values[0].(string)
	return len(values) == 1 && ok
}

// Message returns the line a log action writes: its Message, or its values
// formatted when evaluation deferred that (rules.Ruleset.EvaluateInto).
func Message(a rules.Action) string { return message(a, nil) }

func message(a rules.Action, texts func(any) ([]byte, bool)) string {
	if a.Message == "" && len(a.Args) > 0 {
		return format(a.Args, texts)
	}
	return a.Message
}

// Format joins values the way console.log does: strings verbatim, anything
// else as compact JSON, separated by single spaces.
func Format(args []any) string { return format(args, nil) }

// format is Format that writes a value passed along from a client as the
// text it arrived as, when texts knows it.
func format(args []any, texts func(any) ([]byte, bool)) string {
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
			if texts != nil {
				if raw, ok := texts(v); ok {
					b.Write(raw) // passed along from a client: as it was sent, key order included
					break
				}
			}
			// Not json.Marshal: it writes < > & as \u003c…, which a
			// client's own text (above) never shows, so the same value
			// would log differently in a rule test and in the daemon.
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				fmt.Fprintf(&b, "%v", v)
			} else {
				b.Write(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
			}
		}
	}
	return b.String()
}
