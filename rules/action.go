package rules

import (
	"context"
)

// Action is one thing a rule asks the router to do. Actions are plain values:
// evaluation builds them, tests compare them, and the router executes them
// through the plugin that registered their Kind.
type Action struct {
	Kind    string            `json:"kind" yaml:"kind"`                           // the building function, e.g. "broadcast"
	Rule    string            `json:"rule,omitempty" yaml:"rule,omitempty"`       // the rule that produced it
	Event   string            `json:"event,omitempty" yaml:"event,omitempty"`     // Socket.IO event name
	Args    []any             `json:"args,omitempty" yaml:"args,omitempty"`       // event or ack arguments
	Rooms   []string          `json:"rooms,omitempty" yaml:"rooms,omitempty"`     // target or joined rooms
	Status  int               `json:"status,omitempty" yaml:"status,omitempty"`   // HTTP status
	Body    any               `json:"body,omitempty" yaml:"body,omitempty"`       // HTTP body
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"` // HTTP headers
	Message string            `json:"message,omitempty" yaml:"message,omitempty"` // log line or rejection message
	Key     string            `json:"key,omitempty" yaml:"key,omitempty"`         // state key
	Value   any               `json:"value,omitempty" yaml:"value,omitempty"`     // state value, rejection data
	Level   string            `json:"level,omitempty" yaml:"level,omitempty"`     // log level
	URL     string            `json:"url,omitempty" yaml:"url,omitempty"`         // webhook target
	Backend string            `json:"backend,omitempty" yaml:"backend,omitempty"` // the backend webhook and forward reach
	// Namespace is the namespace an action on other sockets addresses;
	// empty means the event's ("/" for HTTP rules).
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
}

// Effects is what the router lets an action plugin do while it executes an
// action. The router implements it once per event; a method that does not
// apply to the event (Respond on a socket event) returns an error.
type Effects interface {
	// Emit sends an event to the socket that caused the event.
	Emit(event string, args []any) error
	// Broadcast sends an event to every socket of the namespace in rooms
	// (all of them when rooms is empty), skipping the sender when exceptSender.
	Broadcast(rooms []string, exceptSender bool, event string, args []any) error
	// Ack answers the client's acknowledgement callback.
	Ack(args []any) error
	// Join adds the socket to rooms.
	Join(rooms []string) error
	// Leave removes the socket from rooms.
	Leave(rooms []string) error
	// SetState stores a per-socket value readable as socket.state.KEY.
	SetState(key string, value any) error
	// Respond writes the HTTP response.
	Respond(status int, body any, headers map[string]string) error
	// Reject refuses a connection; the client receives connect_error.
	Reject(message string, data any) error
	// Log writes a log line attributed to rule.
	Log(rule, level, message string)
	// Disconnect closes the socket that caused the event; its disconnect
	// rules see reason.
	Disconnect(reason string) error
	// DisconnectRoom closes every socket in room of namespace; an empty
	// namespace means the event's own ("/" for HTTP rules).
	DisconnectRoom(namespace, room string) error
}

// RawTexts is implemented by Effects that know the JSON text the event's
// incoming values arrived as. Executors may use it to show a value passed
// along unchanged exactly as its sender wrote it (the log action does).
type RawTexts interface {
	// RawJSON returns the text v, an object or array of the event's
	// arguments (by identity), arrived as.
	RawJSON(v any) ([]byte, bool)
}

// BackendEffects is implemented by Effects that reach the config's
// backends (see Config.Backends); the backends plugin needs it.
type BackendEffects interface {
	// Webhook queues payload, as JSON, for an asynchronous signed POST to
	// backend, with retries. It never blocks; a full queue drops the
	// delivery and returns an error.
	Webhook(backend string, payload any) error
	// Forward POSTs payload, as JSON, to backend within its timeout and
	// returns the response of a 2xx: its body and whether it carries
	// actions (see ActionsHeader). Any other outcome is an error.
	Forward(ctx context.Context, backend string, payload any) (body []byte, actions bool, err error)
}

// ActionsHeader, set to "1" on a backend's response to forward(), says its
// body is an actions object (reply, broadcast, to) rather than the reply.
const ActionsHeader = "X-Eventrouter-Actions"

// Executor carries out actions of the kinds a plugin builds.
type Executor interface {
	Execute(ctx context.Context, fx Effects, a Action) error
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, fx Effects, a Action) error

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, fx Effects, a Action) error { return f(ctx, fx, a) }

// Spread marks a list whose items an action builder takes as separate
// arguments: emit("echo", spread(args)) re-emits every argument received.
type Spread []any

// Flatten expands every Spread among args in place of itself.
func Flatten(args []any) []any {
	n := 0
	spread := false
	for _, a := range args {
		if s, ok := a.(Spread); ok {
			n += len(s)
			spread = true
		} else {
			n++
		}
	}
	if !spread {
		return args
	}
	out := make([]any, 0, n)
	for _, a := range args {
		if s, ok := a.(Spread); ok {
			out = append(out, s...)
		} else {
			out = append(out, a)
		}
	}
	return out
}
