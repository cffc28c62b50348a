package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
)

// Result is what evaluating one event produced.
type Result struct {
	// Actions to execute, in order: rules in file order, items in do order.
	Actions []Action
	// Matched names the rules whose trigger matched and whose when held.
	Matched []string
	// Errors are the rules that failed at run time; other rules still ran.
	Errors []*RuleError
}

// RuleError is a rule that failed while evaluating an event.
type RuleError struct {
	Rule  string // rule name
	Field string // "when" or "do[N]"
	Event string // event name or route
	Err   error
}

// Error says which rule failed on which event, and why.
func (e *RuleError) Error() string {
	msg, _, _ := strings.Cut(e.Err.Error(), "\n") // expr appends a source snippet; logs want one line
	return fmt.Sprintf("rule %q: %s: event %q: %s", e.Rule, e.Field, e.Event, msg)
}

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

// Match returns the rules that react to ev, in file order, before their
// when conditions are checked.
func (rs *Ruleset) Match(ev *Event) []*Rule {
	ns := ev.Namespace
	if ns == "" && ev.Kind != TriggerHTTP {
		ns = "/"
	}
	switch ev.Kind {
	case TriggerEvent:
		exact := rs.index[ruleKey{kind: TriggerEvent, ns: ns, name: ev.Name}]
		any := rs.index[ruleKey{kind: TriggerEvent, ns: ns, name: "*"}]
		if len(any) == 0 {
			return exact
		}
		if len(exact) == 0 {
			return any
		}
		merged := append(slices.Clone(exact), any...)
		slices.SortFunc(merged, func(a, b *Rule) int { return a.Index - b.Index })
		return merged
	case TriggerConnection, TriggerDisconnect:
		return rs.index[ruleKey{kind: ev.Kind, ns: ns}]
	case TriggerHTTP:
		return rs.index[ruleKey{kind: TriggerHTTP, name: ev.Name}]
	}
	return nil
}

// Evaluate runs every rule that matches ev and returns the actions they
// yield. It has no side effects: executing the actions is the router's job.
// A `set` action is visible to later rules of the same event as
// socket.state, and join/leave as socket.rooms.
func (rs *Ruleset) Evaluate(ev *Event) Result {
	var res Result
	matched := rs.Match(ev)
	if len(matched) == 0 {
		return res
	}
	env := rs.env(ev)
	for _, r := range matched {
		if r.when != nil {
			ok, err := expr.Run(r.when, env)
			if err != nil {
				res.Errors = append(res.Errors, &RuleError{Rule: r.Name, Field: "when", Event: ev.Name, Err: err})
				continue
			}
			if b, _ := ok.(bool); !b {
				continue
			}
		}
		res.Matched = append(res.Matched, r.Name)
		mark := len(res.Actions)
		for j, prog := range r.do {
			out, err := expr.Run(prog, env)
			if err == nil {
				res.Actions, err = appendActions(res.Actions, out, r.Name)
			}
			if err != nil {
				res.Errors = append(res.Errors, &RuleError{Rule: r.Name, Field: fmt.Sprintf("do[%d]", j), Event: ev.Name, Err: err})
				// The rule's actions are all or nothing.
				res.Actions = res.Actions[:mark]
				break
			}
		}
		applyOverlay(env, res.Actions[mark:])
	}
	return res
}

// env builds the expression environment for ev.
func (rs *Ruleset) env(ev *Event) *Env {
	env := &Env{
		Event:     ev.Name,
		Namespace: ev.Namespace,
		Args:      ev.Args,
		Ack:       ev.HasAck,
		Socket:    ev.Socket,
		Body:      ev.Request.Body,
		Request:   ev.Request,
		Reason:    ev.Reason,
		Vars:      rs.Config.Vars,
	}
	if ev.Vars != nil {
		env.Vars = ev.Vars
	}
	if env.Namespace == "" && ev.Kind != TriggerHTTP {
		env.Namespace = "/"
	}
	if env.Args == nil {
		env.Args = []any{}
	}
	if len(ev.Args) > 0 {
		env.Data = ev.Args[0]
	}
	return env
}

// appendActions adds what one do item yielded.
func appendActions(dst []Action, out any, rule string) ([]Action, error) {
	switch v := out.(type) {
	case nil:
		return dst, nil
	case Action:
		v.Rule = rule
		return append(dst, v), nil
	case []Action:
		for _, a := range v {
			a.Rule = rule
			dst = append(dst, a)
		}
		return dst, nil
	case []any:
		for _, item := range v {
			var err error
			if dst, err = appendActions(dst, item, rule); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, fmt.Errorf("yielded %T, want an action", out)
}

// applyOverlay makes state and room changes visible to later rules.
func applyOverlay(env *Env, actions []Action) {
	copied := false
	for _, a := range actions {
		switch a.Kind {
		case "set":
			if !copied {
				st := make(map[string]any, len(env.Socket.State)+1)
				for k, v := range env.Socket.State {
					st[k] = v
				}
				env.Socket.State = st
				copied = true
			}
			env.Socket.State[a.Key] = a.Value
		case "join":
			rooms := slices.Clone(env.Socket.Rooms)
			for _, r := range a.Rooms {
				if !slices.Contains(rooms, r) {
					rooms = append(rooms, r)
				}
			}
			env.Socket.Rooms = rooms
		case "leave":
			env.Socket.Rooms = slices.DeleteFunc(slices.Clone(env.Socket.Rooms), func(r string) bool { return slices.Contains(a.Rooms, r) })
		}
	}
}
