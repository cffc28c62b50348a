package router

import (
	"sync"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
)

// A socket's lifecycle, as the rules and the connections gauge see it: the
// connection rules run once for every socket that the library connects,
// and then the disconnect rules run exactly once, after the connection
// rules, however the socket goes and however many times the library says
// so. The library's own events cannot promise that (socket.io servers/
// socket v3.0.6, measured with TestLifecycleChurn: about 1 socket in 100
// to 1000 of clients that leave at once went wrong before this file):
//
//   - It can report a close twice. Socket._onclose tests Connected() before
//     it clears it, and a client's namespace DISCONNECT (handled on the
//     socket's queue) races its transport close (handled on the engine's
//     goroutine): both pass, and "disconnect" fires with "client namespace
//     disconnect" and again with "transport close".
//   - It writes the CONNECT packet before it emits "connection", so a
//     client that leaves as soon as it sees CONNECT can be gone before a
//     listener added in the connection handler exists; so is a socket that
//     a connection rule's disconnect() closes.
//   - It can lose a close: a connection that closes after the socket wrote
//     its CONNECT but before the library's client registered the socket
//     never closes the socket, which stays in the namespace and its rooms.
//     A client that sends anything to the namespace (an event, its
//     DISCONNECT) as soon as it sees the CONNECT can hit that window: the
//     library takes the early packet for a protocol error and closes the
//     connection.
//
// So the router keeps its own state per socket, in connState.life, and
// listens for the close from the namespace middleware on, before the
// library can connect the socket. The gauge follows these states, not the
// library's events.

// phase is where a socket is in its lifecycle.
type phase int

const (
	phaseAdmitted   phase = iota // through the middleware; "connection" not emitted yet
	phaseConnecting              // the connection rules are running; the socket counts as connected
	phaseOpen                    // the connection rules ran
	phaseLeaving                 // closed before the connection rules finished: the disconnect rules wait for them
	phaseGone                    // the disconnect rules ran or are running; later closes are duplicates
)

// lifecycle is one socket's phase. Its zero value is phaseAdmitted.
type lifecycle struct {
	mu     sync.Mutex
	phase  phase
	reason string // why it closed, while phaseLeaving
}

// admit starts the lifecycle of a socket entering the namespace middleware:
// it attaches the socket's connState and listens for its close. It must be
// called before the middleware lets the socket connect.
func (r *Router) admit(s *socket.Socket) *connState {
	st := &connState{state: recoveredState(s)}
	s.SetData(st)
	_ = s.On("disconnect", func(args ...any) {
		reason, _ := firstString(args)
		r.socketClosed(s, st, st.disconnectReason(reason))
	})
	return st
}

// connecting records that the library connected s, before its connection
// rules run: the socket counts as connected from here on.
func (r *Router) connecting(st *connState) {
	st.life.mu.Lock()
	if st.life.phase == phaseAdmitted {
		st.life.phase = phaseConnecting
	} // else phaseLeaving: it closed between the CONNECT and "connection"
	st.life.mu.Unlock()
	r.metrics.connected()
}

// connected records that s's connection rules ran. If s closed meanwhile,
// its disconnect rules run now; if its transport closed where the library
// loses the close, connected closes the socket itself.
func (r *Router) connected(s *socket.Socket, st *connState) {
	st.life.mu.Lock()
	switch st.life.phase {
	case phaseConnecting:
		st.life.phase = phaseOpen
		st.life.mu.Unlock()
	case phaseLeaving:
		st.life.phase = phaseGone
		reason := st.life.reason
		st.life.mu.Unlock()
		r.leave(s, st, reason)
		return
	default:
		st.life.mu.Unlock()
		return
	}
	// The engine marks its connection closing or closed before the library
	// closes the sockets it knows, so a close that the library missed, or
	// has yet to report, shows here; a close it reports later is then a
	// duplicate. The reasons are the library's for the same closes.
	var reason string
	switch s.Conn().ReadyState() {
	case "closing": // only the server closes a connection this way
		reason = "forced server close"
	case "closed":
		reason = "transport close"
	default:
		return
	}
	r.log.Debug("socket closed while connecting", zap.String("socket", string(s.Id())), zap.String("reason", reason))
	r.socketClosed(s, st, reason)
	// Let the library drop the socket from the namespace and its rooms; the
	// "disconnect" this causes is a duplicate.
	s.Disconnect(false)
}

// socketClosed records that s closed, for reason. The first close of an
// open socket runs its disconnect rules; a socket still connecting runs
// them when its connection rules are done; any later close is ignored.
func (r *Router) socketClosed(s *socket.Socket, st *connState, reason string) {
	st.life.mu.Lock()
	switch st.life.phase {
	case phaseAdmitted, phaseConnecting:
		st.life.phase, st.life.reason = phaseLeaving, reason
		st.life.mu.Unlock()
	case phaseOpen:
		st.life.phase = phaseGone
		st.life.mu.Unlock()
		r.leave(s, st, reason)
	default:
		st.life.mu.Unlock()
		r.log.Debug("duplicate disconnect ignored", zap.String("socket", string(s.Id())), zap.String("reason", reason))
	}
}

// leave counts s as gone and runs its disconnect rules; it runs once per
// connected socket.
func (r *Router) leave(s *socket.Socket, st *connState, reason string) {
	r.metrics.disconnected()
	r.adminUI.SocketDisconnected(s, reason)
	r.onDisconnect(s, st, reason)
}
