package router

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
)

// execute carries out actions in order through their plugins' executors. A
// failing action is logged with its rule and the event, and the others
// still run. When Options.Trace is set it returns the actions handed to an
// executor, in a slice of its own; otherwise nil.
func (r *Router) execute(ctx context.Context, rt *Runtime, fx rules.Effects, actions []rules.Action, event string, s *socket.Socket) (executed []rules.Action) {
	reg := rt.Rules.Registry()
	for _, a := range actions {
		ex, ok := reg.Executor(a.Kind)
		if !ok {
			r.log.Error("no executor for action", zap.String("kind", a.Kind), zap.String("rule", a.Rule), zap.String("event", event))
			continue
		}
		if r.trace != nil {
			executed = append(executed, a)
		}
		err := ex.Execute(ctx, fx, a)
		r.metrics.action(a.Kind, err)
		if err != nil {
			fields := []zap.Field{zap.String("rule", a.Rule), zap.String("event", event), zap.String("action", a.Kind), zap.String("error", rt.redact(err.Error()))}
			if s != nil {
				fields = append(fields, zap.String("socket", string(s.Id())))
			}
			r.log.Warn("action failed", fields...)
		}
	}
	return executed
}

// prepared passes ev through Options.Prepare, when set, before it is
// evaluated.
func (r *Router) prepared(ev *rules.Event) *rules.Event {
	if r.prepare != nil {
		r.prepare(ev)
	}
	return ev
}

// traced reports an event and the actions executed for it to
// Options.Trace, when set.
func (r *Router) traced(ev *rules.Event, executed []rules.Action) {
	if r.trace != nil && ev != nil {
		r.trace(ev, executed)
	}
}

// logRuleErrors logs the rules that failed while evaluating an event under
// rt, with its secrets redacted, and counts the rules that matched and
// failed.
func (r *Router) logRuleErrors(rt *Runtime, res rules.Result, s *socket.Socket) {
	r.metrics.result(res)
	for _, e := range res.Errors {
		fields := []zap.Field{zap.String("rule", e.Rule), zap.String("field", e.Field), zap.String("event", e.Event), zap.String("error", rt.redact(e.Reason()))}
		if s != nil {
			fields = append(fields, zap.String("socket", string(s.Id())))
		}
		r.log.Warn("rule failed", fields...)
	}
}

// recoverEvent keeps a panic while handling one event from taking the
// daemon down; it is logged with the event and the socket.
func (r *Router) recoverEvent(event string, s *socket.Socket) {
	if v := recover(); v != nil {
		fields := []zap.Field{zap.String("event", event), zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack())}
		if s != nil {
			fields = append(fields, zap.String("socket", string(s.Id())))
		}
		r.log.Error("event handler panicked", fields...)
	}
}
