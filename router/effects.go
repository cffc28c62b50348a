package router

import (
	"errors"
	"fmt"

	"github.com/eventrouter/eventrouter/internal/wire"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
)

// errNotHere is returned by an effect that does not apply to the event.
var errNotHere = errors.New("not available for this kind of event")

// socketEffects executes actions caused by one socket's event.
type socketEffects struct {
	r   *Router
	rt  *Runtime // the runtime that evaluated the event
	s   *socket.Socket
	st  *connState
	ack socket.Ack
	in  *wire.Args // the event's arguments as sent, for passing them along verbatim
	// refused is set for a connection a rule refused: the socket never
	// connects, so effects on it do nothing. refuse answers the client.
	refused bool
	refuse  func(message string, data any)
}

var (
	_ rules.Effects  = (*socketEffects)(nil)
	_ rules.RawTexts = (*socketEffects)(nil)
)

func (fx *socketEffects) Emit(event string, args []any) error {
	if fx.refused {
		return nil
	}
	return fx.s.Emit(event, passAlong(fx.in, args)...)
}

func (fx *socketEffects) Broadcast(rooms []string, exceptSender bool, event string, args []any) error {
	fx.r.metrics.broadcast(fx.s.Nsp(), rooms, exceptSender, fx.s.Id())
	var op *socket.BroadcastOperator
	switch {
	case exceptSender && len(rooms) == 0:
		op = fx.s.Broadcast()
	case exceptSender:
		op = fx.s.To(toRooms(rooms)...)
	case len(rooms) == 0:
		return fx.s.Nsp().Emit(event, passAlong(fx.in, args)...)
	default:
		op = fx.s.Nsp().To(toRooms(rooms)...)
	}
	return op.Emit(event, passAlong(fx.in, args)...)
}

func (fx *socketEffects) Ack(args []any) error {
	if fx.ack == nil || fx.refused {
		return nil // the client asked for no acknowledgement
	}
	fx.ack(passAlong(fx.in, args), nil)
	return nil
}

func (fx *socketEffects) Join(rooms []string) error {
	if fx.refused {
		return nil
	}
	in := toRooms(rooms)
	if !fx.r.checkRooms(fx.s, in) {
		return fmt.Errorf("join: the socket would be in more than limits.max_rooms_per_socket rooms")
	}
	fx.s.Join(in...)
	return nil
}

func (fx *socketEffects) Leave(rooms []string) error {
	if fx.refused {
		return nil
	}
	for _, room := range toRooms(rooms) {
		fx.s.Leave(room)
	}
	return nil
}

func (fx *socketEffects) SetState(key string, value any) error {
	if fx.refused {
		return nil
	}
	fx.st.set(key, value)
	fx.r.adminUI.SocketUpdated(fx.s)
	return nil
}

func (fx *socketEffects) Respond(int, any, map[string]string) error {
	return fmt.Errorf("respond: %w", errNotHere)
}

func (fx *socketEffects) Reject(message string, data any) error {
	if fx.refuse == nil {
		return fmt.Errorf("reject: %w", errNotHere)
	}
	fx.refuse(message, data)
	return nil
}

func (fx *socketEffects) Disconnect(reason string) error {
	if fx.refused {
		return nil
	}
	fx.st.setReason(reason)
	fx.s.Disconnect(false)
	return nil
}

func (fx *socketEffects) DisconnectRoom(namespace, room string) error {
	if namespace == "" {
		namespace = fx.s.Nsp().Name()
	}
	return fx.r.disconnectRoom(namespace, room)
}

// RawJSON returns the text an incoming object or array arrived as.
func (fx *socketEffects) RawJSON(v any) ([]byte, bool) {
	if t := fx.in.Match(-1, v); t != nil {
		return t.RawJSON(), true
	}
	return nil, false
}

func (fx *socketEffects) Log(rule, level, message string) {
	fx.r.ruleLog(fx.rt, level, message, zap.String("rule", rule), zap.String("socket", string(fx.s.Id())))
}

// ruleLog writes a rule's log line at level, with the secrets of rt's
// config redacted.
func (r *Router) ruleLog(rt *Runtime, level, message string, fields ...zap.Field) {
	message = rt.redact(message)
	switch level {
	case "debug":
		r.log.Debug(message, fields...)
	case "warn":
		r.log.Warn(message, fields...)
	case "error":
		r.log.Error(message, fields...)
	default:
		r.log.Info(message, fields...)
	}
}

func toRooms(rooms []string) []socket.Room {
	out := make([]socket.Room, len(rooms))
	for i, r := range rooms {
		out[i] = socket.Room(r)
	}
	return out
}
