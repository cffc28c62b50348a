package rules

import "time"

// Event is one incoming thing for rules to react to: a socket event, a
// connection, a disconnection, an HTTP request or a source's message.
type Event struct {
	// Kind says which of the four it is.
	Kind TriggerKind
	// Name is the Socket.IO event name for TriggerEvent, "connection" or
	// "disconnect" for lifecycle events, and the route pattern
	// ("POST /post") for TriggerHTTP, and "PREFIX:SUBJECT"
	// ("nats:orders.new") for TriggerSource.
	Name string
	// Namespace is the socket's namespace; empty means "/".
	Namespace string
	// Args are the event's arguments, without the ack callback.
	Args []any
	// HasAck is true when the client asked for an acknowledgement.
	HasAck bool
	// Socket describes the sending socket, for socket kinds.
	Socket Socket
	// Request describes the HTTP request, for TriggerHTTP.
	Request Request
	// Reason is why a socket disconnected, for TriggerDisconnect.
	Reason string
	// Vars overrides the config's vars for this evaluation when not nil;
	// rule tests use it.
	Vars map[string]any
	// Server answers the reads room_size and socket_rooms. Nil reads as a
	// server with no rooms.
	Server ServerView
	// Trigger, for TriggerSource, is the on: of the rules the message was
	// delivered for ("nats:orders.>"); empty means every rule of the
	// source whose pattern matches Subject (rule tests).
	Trigger string
	// Subject is the subject (topic, channel) of a source message.
	Subject string
	// Meta holds what else a source tells about a message, as meta (nats:
	// reply and headers).
	Meta map[string]any
	// Time is when the event happened: jwt() checks a token's exp and nbf
	// against it. Zero means the time of evaluation; tests set it.
	Time time.Time
}

// ServerView is what rules may read about the server besides the event:
// room membership. The router passes a read-only view of its live state;
// rule tests pass the table a case describes. Implementations must be safe
// for concurrent use. A single node answers at once; a cluster node asks
// the others and waits for them, within cluster.request_timeout, and
// returns an error when they cannot answer: the rule then fails, visibly,
// rather than read a count of one node as the cluster's.
type ServerView interface {
	// RoomSize counts the sockets in room of namespace.
	RoomSize(namespace, room string) (int, error)
	// SocketRooms lists the rooms of the socket id in namespace, sorted;
	// nil when there is no such socket.
	SocketRooms(namespace, id string) ([]string, error)
}

// serverReads are the Env functions that read a ServerView.
var serverReads = []string{"room_size", "socket_rooms"}

// Socket is what rules can read about a socket, as `socket`.
type Socket struct {
	ID        string         `expr:"id" json:"id,omitempty" yaml:"id,omitempty"`
	Namespace string         `expr:"namespace" json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Rooms     []string       `expr:"rooms" json:"rooms,omitempty" yaml:"rooms,omitempty"`
	Handshake Handshake      `expr:"handshake" json:"handshake" yaml:"handshake"`
	State     map[string]any `expr:"state" json:"state,omitempty" yaml:"state,omitempty"`
	// Recovered is set on the connection of a client that came back
	// within socketio.recovery.max_disconnection and kept its id, rooms
	// and state.
	Recovered bool `expr:"recovered" json:"recovered,omitempty" yaml:"recovered,omitempty"`
}

// Handshake is what the client sent when it connected, as socket.handshake.
type Handshake struct {
	Auth    map[string]any    `expr:"auth" json:"auth,omitempty" yaml:"auth,omitempty"`
	Query   map[string]string `expr:"query" json:"query,omitempty" yaml:"query,omitempty"`
	Headers map[string]string `expr:"headers" json:"headers,omitempty" yaml:"headers,omitempty"` // lower-case names
	Address string            `expr:"address" json:"address,omitempty" yaml:"address,omitempty"`
	Secure  bool              `expr:"secure" json:"secure,omitempty" yaml:"secure,omitempty"`
}

// Request is what rules can read about an HTTP request, as `request`.
// Its decoded JSON body is `body`.
type Request struct {
	Method  string            `expr:"method" json:"method,omitempty" yaml:"method,omitempty"`
	Path    string            `expr:"path" json:"path,omitempty" yaml:"path,omitempty"`
	Params  map[string]string `expr:"params" json:"params,omitempty" yaml:"params,omitempty"` // path wildcards, /users/{id}
	Query   map[string]string `expr:"query" json:"query,omitempty" yaml:"query,omitempty"`
	Headers map[string]string `expr:"headers" json:"headers,omitempty" yaml:"headers,omitempty"` // lower-case names
	Address string            `expr:"address" json:"address,omitempty" yaml:"address,omitempty"`
	Body    any               `expr:"-" json:"body,omitempty" yaml:"body,omitempty"`
}

// Env is the typed environment every expression compiles against.
type Env struct {
	Event     string         `expr:"event"`     // event name, or route pattern
	Namespace string         `expr:"namespace"` // namespace of the socket
	Data      any            `expr:"data"`      // first argument, or nil
	Args      []any          `expr:"args"`      // every argument
	Ack       bool           `expr:"ack"`       // the client waits for an ack
	Socket    Socket         `expr:"socket"`    // the socket, for socket rules
	Body      any            `expr:"body"`      // decoded JSON body, for HTTP rules
	Request   Request        `expr:"request"`   // the request, for HTTP rules
	Reason    string         `expr:"reason"`    // disconnect reason
	Vars      map[string]any `expr:"vars"`      // the config's vars
	Subject   string         `expr:"subject"`   // a source message's subject, for source rules
	Meta      map[string]any `expr:"meta"`      // what else the source tells, for source rules

	// RoomSize is room_size(room[, namespace]): how many sockets are in
	// room, in the event's namespace unless one is given ("/" for HTTP
	// rules).
	RoomSize func(room string, namespace ...string) (int, error) `expr:"room_size"`
	// SocketRooms is socket_rooms([id]): the rooms of the event's socket,
	// with the joins and leaves of earlier rules of the event, or of the
	// socket id in the event's namespace.
	SocketRooms func(id ...string) ([]string, error) `expr:"socket_rooms"`
	// JWT is jwt(token): the claims of token as a mapping when it verifies
	// against auth.jwt, or nil.
	JWT func(token any) map[string]any `expr:"jwt"`
	// JWTError is jwt_error(token): why jwt(token) is nil ("missing",
	// "expired", "bad signature", ...), or "" when token verifies.
	JWTError func(token any) string `expr:"jwt_error"`
	// Bearer is bearer(header): the token of an Authorization header
	// value "Bearer TOKEN", or "".
	Bearer func(header any) string `expr:"bearer"`

	// Budget is the budget of the running expression, for the charges the
	// compiler adds (see budgetPatcher); it is nothing an expression can use.
	Budget *runBudget `expr:"$budget"`
}
