package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventrouter/eventrouter/internal/backend"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// The webhook queues belong to the router, not to a runtime: a reload
// swaps the rules while the queued deliveries, each with its backend's
// settings as they were when it was queued, are sent on. Shutdown drains
// them until its context ends.

var (
	_ rules.BackendEffects = (*socketEffects)(nil)
	_ rules.BackendEffects = (*serverEffects)(nil) // source events
	_ rules.BackendEffects = (*httpEffects)(nil)
)

// newDispatcher builds the router's webhook dispatcher, counting every
// outcome in eventrouter_webhook_deliveries_total and logging drops at a
// bounded rate (limit webhook_queue) and failures.
func (r *Router) newDispatcher(reg prometheus.Registerer, opts Options) *backend.Dispatcher {
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "eventrouter", Name: "webhook_deliveries_total",
		Help: "Webhook deliveries by backend and outcome: delivered, retried (an attempt failed, another follows), failed, dropped (queue full or stopping)."},
		[]string{"backend", "outcome"})
	reg.MustRegister(outcomes)
	return backend.NewDispatcher(backend.Options{
		Backoff: opts.WebhookBackoff,
		Outcome: func(name, outcome string, err error) {
			outcomes.WithLabelValues(name, outcome).Inc()
			switch outcome {
			case backend.Dropped:
				r.limited.hit("webhook_queue", "webhook delivery dropped: the backend's queue is full or the daemon is stopping", zap.String("backend", name))
			case backend.Failed:
				r.log.Warn("webhook delivery failed", zap.String("backend", name), zap.String("error", r.rt.Load().redact(err.Error())))
			}
		},
	})
}

// webhook queues payload for the backend named name of rt's config.
func (r *Router) webhook(rt *Runtime, name string, payload any) error {
	b, ok := rt.Rules.Backend(name)
	if !ok {
		return fmt.Errorf("webhook: unknown backend %q", name)
	}
	body, err := encodeJSON(payload)
	if err != nil {
		return fmt.Errorf("webhook %s: encode payload: %w", name, err)
	}
	if _, err := r.backends.Enqueue(b, body); err != nil {
		if errors.Is(err, backend.ErrQueueFull) {
			return nil // counted and logged at a bounded rate by the dispatcher
		}
		return err
	}
	return nil
}

// forward POSTs payload to the backend named name of rt's config and
// returns a 2xx response's body.
func (r *Router) forward(ctx context.Context, rt *Runtime, name string, payload any) ([]byte, bool, error) {
	b, ok := rt.Rules.Backend(name)
	if !ok {
		return nil, false, fmt.Errorf("unknown backend %q", name)
	}
	body, err := encodeJSON(payload)
	if err != nil {
		return nil, false, fmt.Errorf("encode payload: %w", err)
	}
	status, out, hdr, err := backend.Call(ctx, r.backendClient, b, backend.NewID(), body)
	if err != nil {
		return nil, false, err
	}
	if status < 200 || status > 299 {
		return nil, false, fmt.Errorf("backend %s: status %d", name, status)
	}
	return out, hdr.Get(rules.ActionsHeader) == "1", nil
}

// Webhook implements rules.BackendEffects.
func (fx *socketEffects) Webhook(name string, payload any) error {
	return fx.r.webhook(fx.rt, name, payload)
}

// Forward implements rules.BackendEffects.
func (fx *socketEffects) Forward(ctx context.Context, name string, payload any) ([]byte, bool, error) {
	return fx.r.forward(ctx, fx.rt, name, payload)
}

// Webhook implements rules.BackendEffects.
func (fx *serverEffects) Webhook(name string, payload any) error {
	return fx.r.webhook(fx.rt, name, payload)
}

// Forward implements rules.BackendEffects.
func (fx *serverEffects) Forward(ctx context.Context, name string, payload any) ([]byte, bool, error) {
	return fx.r.forward(ctx, fx.rt, name, payload)
}
