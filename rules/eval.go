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
	// Errors are the rules that failed at run time. Other rules still ran,
	// except after a failure that refuses a connection.
	Errors []*RuleError
}

// The action kinds evaluation itself may add (see Ruleset.Evaluate). The
// built-in plugins reject, emit and respond execute them.
const (
	RejectKind  = "reject"
	ReplyKind   = "reply"
	RespondKind = "respond"
)

// UnansweredMessage is the error of the ack an event gets when no rule
// replied and socketio.ack_unanswered is error.
const UnansweredMessage = "unanswered"

// RuleError is a rule that failed while evaluating an event.
type RuleError struct {
	Rule  string // rule name
	Field string // "when" or "do[N]"
	Event string // event name or route
	Err   error
	// Continued is set when the rule has on_error: continue, so its
	// failure changed nothing but the log.
	Continued bool
}

// Error says which rule failed on which event, and why.
func (e *RuleError) Error() string {
	return fmt.Sprintf("rule %q: %s: event %q: %s", e.Rule, e.Field, e.Event, e.Reason())
}

// Reason is why the rule failed, on one line and in the config author's
// words: numbers, strings, lists and mappings rather than Go types.
func (e *RuleError) Reason() string {
	msg, _, _ := strings.Cut(e.Err.Error(), "\n") // expr appends a source snippet; logs want one line
	return userWords(msg)
}

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

// Match returns the rules that react to ev, in file order, before their
// when conditions are checked. The slice belongs to the ruleset: do not
// modify it.
func (rs *Ruleset) Match(ev *Event) []*Rule {
	ns := ev.Namespace
	if ns == "" && ev.Kind&ServerTriggers == 0 {
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
	case TriggerSource:
		return rs.matchSource(ev)
	}
	return nil
}

// evalState is what one evaluation needs besides its result: a VM and the
// expression environment, pooled so evaluating allocates neither.
type evalState struct {
	vm     vm.VM
	env    Env
	budget runBudget // env.Budget: charges s.vm
	limit  uint      // limits.expr_memory, each run's budget
}

var evalStates = sync.Pool{New: func() any {
	s := new(evalState)
	s.budget.vm = &s.vm
	return s
}}

// run runs prog on s.env with a whole budget.
func (s *evalState) run(prog *vm.Program) (any, error) {
	s.vm.MemoryBudget = s.limit
	return s.vm.Run(prog, &s.env)
}

// Evaluate runs the rules that match ev, in file order, and returns the
// actions they yield. It has no side effects: executing the actions is the
// router's job. A `set` action is visible to later rules of the same event
// as socket.state, and join/leave as socket.rooms.
//
// A rule whose when holds runs its do list, and one whose when is false
// runs its else list. Evaluation stops after a rule with final: true ran
// its do list, and after any rule that yielded reject. A rule that fails at
// run time yields nothing; unless it has on_error: continue, the event is
// failed, which refuses a connection at once (later rules do not run) and
// answers an awaited ack or an HTTP request with an error (see settle).
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
		rs.settle(ev, res, nil)
		return
	}
	if res.Actions == nil {
		n := 0
		for _, r := range matched {
			n += len(r.do.progs)
		}
		res.Actions = make([]Action, 0, n)
	}
	s := evalStates.Get().(*evalState)
	defer func() {
		s.env = Env{}
		evalStates.Put(s)
	}()
	s.limit = rs.memoryBudget
	env := &s.env
	rs.fillEnv(env, ev)
	env.Budget = &s.budget
	var failed *Rule // the first rule that failed and does not continue on error
	for _, r := range matched {
		b := &r.do
		if r.when != nil {
			ok, err := s.run(r.when)
			if err != nil {
				res.Errors = append(res.Errors, &RuleError{Rule: r.Name, Field: "when", Event: ev.Name, Err: err, Continued: r.continueOnError})
				if !r.continueOnError && failed == nil {
					failed = r
				}
				if failed != nil && ev.Kind == TriggerConnection {
					break // a connection whose rules fail is refused: nothing more to decide
				}
				continue
			}
			if held, _ := ok.(bool); !held {
				if len(r.els.progs) == 0 {
					continue
				}
				b = &r.els
			}
		}
		res.Matched = append(res.Matched, r.Name)
		mark := len(res.Actions)
		var err error
		var field string
		res.Actions, field, err = rs.runBranch(s, b, deferred, res.Actions, r.Name)
		if err != nil {
			res.Errors = append(res.Errors, &RuleError{Rule: r.Name, Field: field, Event: ev.Name, Err: err, Continued: r.continueOnError})
			// The rule's actions are all or nothing.
			clear(res.Actions[mark:])
			res.Actions = res.Actions[:mark]
			if !r.continueOnError && failed == nil {
				failed = r
			}
			if failed != nil && ev.Kind == TriggerConnection {
				break
			}
			continue
		}
		rs.applyOverlay(env, res.Actions[mark:])
		if (r.final && b == &r.do) || hasKind(res.Actions[mark:], RejectKind) {
			break
		}
	}
	rs.settle(ev, res, failed)
}

// runBranch evaluates the expressions of b in order, appending the actions
// they yield. On an error it returns the failing item's field ("do[2]").
func (rs *Ruleset) runBranch(s *evalState, b *branch, deferred bool, actions []Action, rule string) ([]Action, string, error) {
	var slab []any // the arguments of b's direct calls
	for j, prog := range b.progs {
		var err error
		if dc := b.direct[j]; dc != nil {
			var args []any
			if n := len(dc.args); n > 0 {
				if slab == nil {
					slab = make([]any, b.directArgs)
				}
				args, slab = slab[:n:n], slab[n:]
			}
			actions, err = dc.run(s, args, deferred, actions, rule)
		} else {
			var out any
			out, err = s.run(prog)
			if err == nil {
				actions, err = appendActions(actions, out, rule)
			}
		}
		if err != nil {
			return actions, fmt.Sprintf("%s[%d]", b.field, j), err
		}
	}
	return actions, "", nil
}

// settle adds what the event is owed when its rules failed or left it
// unanswered, so that a rule test shows exactly what the daemon does:
//   - a connection whose rules failed is refused with the configured
//     error message (socketio.error_message), unless a rule refused it;
//   - an event that awaits an ack gets an error ack ({"error": message})
//     when its rules failed, or, with socketio.ack_unanswered: error,
//     when no rule replied ({"error": "unanswered"});
//   - an HTTP request whose rules failed gets 500 {"error": message}
//     when no rule responded.
//
// failed is the first rule that failed without on_error: continue, or nil.
// A kind nothing in the registry executes is never added.
func (rs *Ruleset) settle(ev *Event, res *Result, failed *Rule) {
	msg := rs.Config.SocketIO.ErrorMessage
	add := func(kind string, a Action) {
		if _, ok := rs.registry.kinds[kind]; ok {
			a.Kind = kind
			res.Actions = append(res.Actions, a)
		}
	}
	switch ev.Kind {
	case TriggerConnection:
		if failed != nil && !hasKind(res.Actions, RejectKind) {
			add(RejectKind, Action{Rule: failed.Name, Message: msg})
		}
	case TriggerEvent:
		if !ev.HasAck || hasKind(res.Actions, ReplyKind) {
			return
		}
		switch {
		case failed != nil:
			add(ReplyKind, Action{Rule: failed.Name, Args: []any{map[string]any{"error": msg}}})
		case rs.Config.SocketIO.AckUnanswered == AckError:
			add(ReplyKind, Action{Args: []any{map[string]any{"error": UnansweredMessage}}})
		}
	case TriggerHTTP:
		if failed != nil && !hasKind(res.Actions, RespondKind) {
			add(RespondKind, Action{Rule: failed.Name, Status: 500, Body: map[string]any{"error": msg}})
		}
	}
}

// hasKind reports whether an action of kind is among actions.
func hasKind(actions []Action, kind string) bool {
	for i := range actions {
		if actions[i].Kind == kind {
			return true
		}
	}
	return false
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
		Subject:   ev.Subject,
		Meta:      ev.Meta,
		Vars:      rs.Config.Vars,
		Bearer:    bearerToken,
	}
	if ev.Vars != nil {
		env.Vars = ev.Vars
	}
	if env.Namespace == "" && ev.Kind&ServerTriggers == 0 {
		env.Namespace = "/"
	}
	if env.Args == nil {
		env.Args = []any{}
	}
	if len(ev.Args) > 0 {
		env.Data = ev.Args[0]
	}
	if rs.usesServer {
		bindServerReads(env, ev.Server)
	}
	if rs.usesJWT && rs.auth.verifier != nil {
		bindJWT(env, rs.auth.verifier, ev.Time)
	}
}

// bindServerReads sets env's room_size and socket_rooms to read sv.
func bindServerReads(env *Env, sv ServerView) {
	ns := env.Namespace
	if ns == "" {
		ns = "/"
	}
	if sv == nil {
		sv = emptyServer{}
	}
	env.RoomSize = func(room string, namespace ...string) (int, error) {
		if len(namespace) > 0 {
			return sv.RoomSize(namespace[0], room)
		}
		return sv.RoomSize(ns, room)
	}
	env.SocketRooms = func(id ...string) ([]string, error) {
		if len(id) == 0 || id[0] == env.Socket.ID && env.Socket.ID != "" {
			return env.Socket.Rooms, nil // with the overlay of earlier rules
		}
		return sv.SocketRooms(ns, id[0])
	}
}

// emptyServer is a server with no sockets.
type emptyServer struct{}

func (emptyServer) RoomSize(string, string) (int, error)         { return 0, nil }
func (emptyServer) SocketRooms(string, string) ([]string, error) { return nil, nil }

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
