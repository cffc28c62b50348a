package rules

import (
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr/vm"
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
// when conditions are checked. The slice belongs to the ruleset: do not
// modify it.
func (rs *Ruleset) Match(ev *Event) []*Rule {
	ns := ev.Namespace
	if ns == "" && ev.Kind != TriggerHTTP {
		ns = "/"
	}
	switch ev.Kind {
	case TriggerEvent:
		// Named events' lists already hold the namespace's "*" rules.
		if exact, ok := rs.index[ruleKey{kind: TriggerEvent, ns: ns, name: ev.Name}]; ok {
			return exact
		}
		return rs.index[ruleKey{kind: TriggerEvent, ns: ns, name: "*"}]
	case TriggerConnection, TriggerDisconnect:
		return rs.index[ruleKey{kind: ev.Kind, ns: ns}]
	case TriggerHTTP:
		return rs.index[ruleKey{kind: TriggerHTTP, name: ev.Name}]
	}
	return nil
}

// evalState is what one evaluation needs besides its result: a VM and the
// expression environment, pooled so evaluating allocates neither.
type evalState struct {
	vm  vm.VM
	env Env
}

var evalStates = sync.Pool{New: func() any { return new(evalState) }}

// Evaluate runs every rule that matches ev and returns the actions they
// yield. It has no side effects: executing the actions is the router's job.
// A `set` action is visible to later rules of the same event as
// socket.state, and join/leave as socket.rooms.
func (rs *Ruleset) Evaluate(ev *Event) Result {
	var res Result
	rs.evaluate(ev, &res, false)
	return res
}

// EvaluateInto is Evaluate for the router's hot path. It resets *res and
// fills it, reusing the memory of its slices, so a caller that keeps one
// Result per goroutine or connection evaluates an event without
// allocating beyond the arguments of the actions. It also leaves work that
// only executing an action needs to the action's executor: a log action
// carries its values in Args and has an empty Message until its executor
// formats it (see Function.BuildAction). Actions are otherwise those
// Evaluate returns.
func (rs *Ruleset) EvaluateInto(ev *Event, res *Result) {
	clear(res.Actions)
	clear(res.Errors)
	res.Actions, res.Matched, res.Errors = res.Actions[:0], res.Matched[:0], res.Errors[:0]
	rs.evaluate(ev, res, true)
}

func (rs *Ruleset) evaluate(ev *Event, res *Result, deferred bool) {
	matched := rs.Match(ev)
	if len(matched) == 0 {
		return
	}
	if res.Actions == nil {
		n := 0
		for _, r := range matched {
			n += len(r.do)
		}
		res.Actions = make([]Action, 0, n)
	}
	s := evalStates.Get().(*evalState)
	defer func() {
		s.env = Env{}
		evalStates.Put(s)
	}()
	env := &s.env
	rs.fillEnv(env, ev)
	for _, r := range matched {
		if r.when != nil {
			ok, err := s.vm.Run(r.when, env)
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
		var slab []any // the arguments of r's direct calls
		for j, prog := range r.do {
			var err error
			if dc := r.direct[j]; dc != nil {
				var args []any
				if n := len(dc.args); n > 0 {
					if slab == nil {
						slab = make([]any, r.directArgs)
					}
					args, slab = slab[:n:n], slab[n:]
				}
				res.Actions, err = dc.run(s, args, deferred, res.Actions, r.Name)
			} else {
				var out any
				out, err = s.vm.Run(prog, env)
				if err == nil {
					res.Actions, err = appendActions(res.Actions, out, r.Name)
				}
			}
			if err != nil {
				res.Errors = append(res.Errors, &RuleError{Rule: r.Name, Field: fmt.Sprintf("do[%d]", j), Event: ev.Name, Err: err})
				// The rule's actions are all or nothing.
				clear(res.Actions[mark:])
				res.Actions = res.Actions[:mark]
				break
			}
		}
		rs.applyOverlay(env, res.Actions[mark:])
	}
}

// fillEnv sets env to the expression environment for ev.
func (rs *Ruleset) fillEnv(env *Env, ev *Event) {
	*env = Env{
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

// applyOverlay makes what the actions will do to the socket (state, rooms)
// visible to later rules, through their plugins' Overlay hooks.
func (rs *Ruleset) applyOverlay(env *Env, actions []Action) {
	for _, a := range actions {
		if apply := rs.registry.overlay(a.Kind); apply != nil {
			apply(&env.Socket, a)
		}
	}
}
