package router

import (
	"context"

	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
)

// applySources hands rs to every source plugin of its registry (see
// rules.Source): at start and on each reload, after rs's runtime is
// published, so a message of a new subscription finds its rules. The
// sources outlive runtimes: a reload changes their subscriptions, not
// their connections. A source that fails is logged; the rules run anyway.
// r.reload must be held, or New must be running.
func (r *Router) applySources(rs *rules.Ruleset) {
	for _, p := range rs.Registry().SourcePlugins() {
		log := r.log.With(zap.String("source", p.Source.Prefix))
		run := rs.SourceRun(p)
		run.Deliver = r.deliverSource
		run.Report = func(err error) {
			log.Warn("source failed", zap.String("error", r.rt.Load().redact(err.Error())))
		}
		run.Note = func(msg string) { log.Info(r.rt.Load().redact(msg)) }
		if err := p.Source.Apply(context.Background(), run); err != nil {
			run.Report(err)
		}
	}
}

// stopSources stops every source plugin of the registry; each gets ctx.
func (r *Router) stopSources(ctx context.Context) {
	for _, p := range r.rt.Load().Rules.Registry().SourcePlugins() {
		if err := p.Source.Stop(ctx); err != nil {
			r.log.Warn("source did not stop cleanly", zap.String("source", p.Source.Prefix), zap.String("error", r.rt.Load().redact(err.Error())))
		}
	}
}

// deliverSource evaluates a source's message against the current runtime
// and executes the actions; it is rules.SourceRun.Deliver.
func (r *Router) deliverSource(ctx context.Context, ev *rules.Event) {
	defer r.recoverEvent(ev.Name, nil)
	rt := r.rt.Load()
	trigger := ev.Trigger
	if trigger == "" {
		trigger = ev.Name
	}
	r.metrics.sourceMsgs.WithLabelValues(trigger).Inc()
	ev.Server = serverView{r}
	res := rt.Rules.Evaluate(r.prepared(ev))
	r.logRuleErrors(rt, res, nil)
	executed := r.execute(ctx, rt, &serverEffects{r: r, rt: rt, event: ev.Name}, res.Actions, ev.Name, nil)
	r.traced(ev, executed)
}
