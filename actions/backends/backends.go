// Package backends is the plugin that reaches the config's backends (a
// team's own HTTP services): webhook() queues a signed JSON POST and
// returns at once; forward() makes the POST while the socket waits and
// turns the response into the client's acknowledgement, the RPC proxy.
//
// The I/O is the router's (rules.BackendEffects): the plugin builds the
// actions, and reads forward()'s response.
package backends

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/eventrouter/eventrouter/rules"
)

// The action kinds this plugin builds and executes.
const (
	KindWebhook = "webhook"
	KindForward = "forward"
)

// The short messages an error ack of forward() carries; the details go to
// the log.
const (
	MsgFailed   = "backend failed"
	MsgTimeout  = "backend timed out"
	MsgInvalid  = "invalid backend response"
	MsgNoAccess = "backends are not available here"
)

// Plugin returns the backends plugin.
func Plugin() rules.Plugin {
	build := func(kind string) func(a *rules.Action, args []any, _ bool) error {
		return func(a *rules.Action, args []any, _ bool) error {
			name, _ := args[0].(string)
			a.Kind, a.Backend, a.Body = kind, name, args[1]
			return nil
		}
	}
	return rules.Plugin{
		Name: "backends",
		Doc:  "Reaches the HTTP backends of the config's backends: section, by name.",
		Functions: []rules.Function{{
			Name: "webhook", Usage: "webhook(backend, payload)",
			Doc:          "queues payload for a signed JSON POST to backend, retried on network errors and 5xx; the event does not wait for it.",
			Types:        []any{new(func(string, any) rules.Action)},
			BuildAction:  build(KindWebhook),
			NamesBackend: true,
		}, {
			Name: "forward", Usage: "forward(backend, payload)",
			Doc:          "POSTs payload to backend while the socket waits, and answers the client's ack with the response (an error ack when the backend fails).",
			Types:        []any{new(func(string, any) rules.Action)},
			BuildAction:  build(KindForward),
			Triggers:     rules.TriggerEvent,
			NamesBackend: true,
		}},
		Kinds:    []string{KindWebhook, KindForward},
		Executor: rules.ExecutorFunc(execute),
	}
}

func execute(ctx context.Context, fx rules.Effects, a rules.Action) error {
	be, ok := fx.(rules.BackendEffects)
	switch {
	case !ok && a.Kind == KindForward:
		_ = fx.Ack(errorAck(MsgNoAccess))
		return fmt.Errorf("forward: %s", MsgNoAccess)
	case !ok:
		return fmt.Errorf("webhook: %s", MsgNoAccess)
	case a.Kind == KindWebhook:
		return be.Webhook(a.Backend, a.Body)
	case a.Kind == KindForward:
		return forward(ctx, fx, be, a)
	}
	return fmt.Errorf("backends: unknown action kind %q", a.Kind)
}

// forward calls the backend and answers the client, with an error ack
// whenever it cannot answer with the backend's reply.
func forward(ctx context.Context, fx rules.Effects, be rules.BackendEffects, a rules.Action) error {
	body, isActions, err := be.Forward(ctx, a.Backend, a.Body)
	if err != nil {
		msg := MsgFailed
		if errors.Is(err, context.DeadlineExceeded) {
			msg = MsgTimeout
		}
		_ = fx.Ack(errorAck(msg))
		return fmt.Errorf("forward to %s: %w", a.Backend, err)
	}
	var res Response
	if isActions {
		res, err = ParseActions(body)
	} else {
		res.Reply, err = ParseReply(body)
	}
	if err != nil {
		_ = fx.Ack(errorAck(MsgInvalid))
		return fmt.Errorf("forward to %s: %w", a.Backend, err)
	}
	if res.Broadcast != nil {
		if err := fx.Broadcast(nil, false, res.Broadcast.Event, res.Broadcast.Args); err != nil {
			return fmt.Errorf("forward to %s: broadcast: %w", a.Backend, err)
		}
	}
	if res.To != nil {
		if err := fx.Broadcast(res.To.Rooms, false, res.To.Event, res.To.Args); err != nil {
			return fmt.Errorf("forward to %s: to: %w", a.Backend, err)
		}
	}
	return fx.Ack(res.Reply)
}

func errorAck(msg string) []any { return []any{map[string]any{"error": msg}} }

// Response is what a backend's answer to forward() asks for.
type Response struct {
	// Reply are the ack's arguments.
	Reply []any `json:"reply"`
	// Broadcast is sent to every socket of the namespace, the sender
	// included.
	Broadcast *Emission `json:"broadcast"`
	// To is sent to every socket in its rooms, the sender included.
	To *Emission `json:"to"`
}

// Emission is one event a backend asks the daemon to send.
type Emission struct {
	Rooms []string `json:"rooms"` // only for to
	Event string   `json:"event"`
	Args  []any    `json:"args"`
}

// ParseReply reads a plain response: a JSON array is the ack's argument
// list, any other JSON value its one argument. Numbers keep their text.
func ParseReply(body []byte) ([]any, error) {
	var v any
	if err := decode(body, &v, false); err != nil {
		return nil, err
	}
	if list, ok := v.([]any); ok {
		return list, nil
	}
	return []any{v}, nil
}

// ParseActions reads an actions response strictly: an unknown key, a
// wrong type or a missing event is an error.
func ParseActions(body []byte) (Response, error) {
	var r Response
	if err := decode(body, &r, true); err != nil {
		return Response{}, err
	}
	if r.Broadcast != nil {
		if r.Broadcast.Event == "" {
			return Response{}, errors.New("actions: broadcast.event is missing")
		}
		if r.Broadcast.Rooms != nil {
			return Response{}, errors.New("actions: broadcast has no rooms; use to")
		}
	}
	if r.To != nil && (r.To.Event == "" || len(r.To.Rooms) == 0) {
		return Response{}, errors.New("actions: to needs event and rooms")
	}
	return r, nil
}

// decode reads exactly one JSON value, numbers as json.Number.
func decode(body []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("response is not valid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("response holds more than one JSON value")
	}
	return nil
}
