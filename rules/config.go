package rules

import "time"

// Config is the whole decoded config file. Every field maps to one key of
// config.yaml; the `koanf` tag is the key's name and the `doc` tag is the
// one-line description used by the config reference and by error messages.
type Config struct {
	Server     ServerConfig   `koanf:"server" doc:"the public HTTP and Socket.IO listener"`
	Admin      AdminConfig    `koanf:"admin" doc:"the loopback admin listener: metrics and health"`
	SocketIO   SocketIOConfig `koanf:"socketio" doc:"Socket.IO and Engine.IO settings"`
	Namespaces []string       `koanf:"namespaces" doc:"the Socket.IO namespaces clients may join"`
	Log        LogConfig      `koanf:"log" doc:"logging"`
	Runtime    RuntimeConfig  `koanf:"runtime" doc:"Go runtime memory settings"`
	Limits     LimitsConfig   `koanf:"limits" doc:"what one client may do (event rates, connections, rooms, HTTP request rates) and what one expression may cost"`
	Vars       map[string]any `koanf:"vars" doc:"constants readable from every expression as vars.NAME"`
	// VarsFrom lists, once loaded, each var an EVENTROUTER_VARS_* variable
	// set too, as an env source: every secret's name is here.
	VarsFrom map[string]VarSource     `koanf:"vars_from" doc:"vars read from outside the file, each from an environment variable, a file or a systemd credential; their values are secrets, never printed"`
	Auth     AuthConfig               `koanf:"auth" doc:"how clients prove who they are: JWT verification for jwt()"`
	Backends map[string]BackendConfig `koanf:"backends" doc:"the HTTP services webhook() and forward() reach, by name"`
	Cluster  ClusterConfig            `koanf:"cluster" doc:"several nodes sharing broadcasts, rooms and recovery through Redis; without cluster.redis.url the daemon is a single node"`
	AdminUI  AdminUIConfig            `koanf:"admin_ui" doc:"the server side of the official Socket.IO Admin UI: its namespace, login and mode; off by default"`
	Rules    []RuleSpec               `koanf:"rules" doc:"the event rules, evaluated in file order"`
	// Plugins holds each plugin's own section, decoded against the
	// plugin's Config at compile time (see Ruleset.PluginConfig).
	Plugins map[string]map[string]any `koanf:"plugins" doc:"each plugin's own settings, under its name (plugins.nats); see the plugin's keys"`
}

// ServerConfig configures the public listener.
type ServerConfig struct {
	Listen          string        `koanf:"listen" doc:"address to listen on, host:port"`
	CORS            CORSConfig    `koanf:"cors" doc:"cross-origin settings for HTTP routes and the Socket.IO path"`
	MaxBody         ByteSize      `koanf:"max_body" doc:"largest HTTP request body accepted by routes (413 above)"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" doc:"how long a graceful stop may take"`
	// ReadHeaderTimeout bounds every request on the public listener, the
	// Socket.IO path included.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout" doc:"longest time a client may take to send a request's headers; a slower one is disconnected"`
	// ReadTimeout applies to HTTP routes and Socket.IO polling POSTs, not
	// to the long-polling GET that the engine holds open on purpose, nor to
	// websockets.
	ReadTimeout    time.Duration `koanf:"read_timeout" doc:"longest time a client may take to send an HTTP route request's body (and a polling POST's), counted from the end of its headers; a slower one is cut off"`
	IdleTimeout    time.Duration `koanf:"idle_timeout" doc:"how long an idle keep-alive connection is kept open between two requests"`
	TrustedProxies []string      `koanf:"trusted_proxies" doc:"proxies (addresses or CIDRs) whose X-Forwarded-For names the client address; from any other peer the header is ignored"`
	// Static is empty by default: the daemon serves no file unless asked.
	Static []StaticMount `koanf:"static" doc:"directories served as static files, each under a URL path; rule routes and the Socket.IO path come first"`
}

// StaticMount serves the files of one directory under one URL path. Only
// GET and HEAD are answered; a file's type comes from its extension, and
// every file carries an ETag and Last-Modified, so conditional and range
// requests work. Nothing outside Dir is ever served, through ".." or a
// symbolic link, and no name that starts with "." is served or listed.
// A directory is answered with its index.html, else 404 unless List.
type StaticMount struct {
	// Path is the URL prefix, a clean absolute path; "/assets" serves
	// /assets/app.js from Dir/app.js. The loader drops a trailing "/".
	Path string `koanf:"path" doc:"URL path the files are served under, starting with /: /assets serves /assets/app.js from dir/app.js"`
	// Dir is resolved by the loader: a relative path is joined to the
	// config file's directory, as vars_from files and
	// auth.jwt.public_key_file are.
	Dir          string `koanf:"dir" doc:"the directory served; a relative path is relative to the config file's directory; it must exist when the config is loaded"`
	List         bool   `koanf:"list" doc:"list a directory that has no index.html (an HTML page of its entries); off by default: such a directory is 404"`
	CacheControl string `koanf:"cache_control" doc:"the Cache-Control header sent with every file (\"public, max-age=3600\"); empty sends none, and browsers revalidate with the ETag"`
}

// CORSConfig is the cross-origin policy.
type CORSConfig struct {
	Origins     []string `koanf:"origins" doc:"allowed origins; \"*\" allows any"`
	Methods     []string `koanf:"methods" doc:"allowed methods"`
	Headers     []string `koanf:"headers" doc:"allowed request headers"`
	Credentials bool     `koanf:"credentials" doc:"allow credentials (cookies, auth headers)"`
}

// AdminConfig configures the admin listener.
type AdminConfig struct {
	Listen string `koanf:"listen" doc:"admin address; empty disables it"`
}

// The values of socketio.engine.
const (
	// EngineBuiltin is eventrouter's own Engine.IO server (router/engine),
	// the default: about a third of the memory per connection.
	EngineBuiltin = "builtin"
	// EngineLibrary is the zishang520 Engine.IO server, kept for one
	// release as a way back without a downgrade.
	EngineLibrary = "library"
)

// SocketIOConfig configures the Socket.IO server.
type SocketIOConfig struct {
	Path           string         `koanf:"path" doc:"URL path of the Socket.IO endpoint"`
	PingInterval   time.Duration  `koanf:"ping_interval" doc:"heartbeat interval"`
	PingTimeout    time.Duration  `koanf:"ping_timeout" doc:"heartbeat timeout"`
	ConnectTimeout time.Duration  `koanf:"connect_timeout" doc:"time a client has to join a namespace"`
	MaxPayload     ByteSize       `koanf:"max_payload" doc:"largest Engine.IO message accepted; larger ones drop that client"`
	Transports     []string       `koanf:"transports" doc:"allowed transports: polling, websocket"`
	Engine         string         `koanf:"engine" doc:"the Engine.IO server under Socket.IO: builtin (eventrouter's own, about a third of the memory per connection) or library (the zishang520 engine, kept for one release as a way back)"`
	WriteCoalesce  time.Duration  `koanf:"write_coalesce" doc:"shortest time between two websocket writes to one client; packets in between go out together in one syscall (0 writes at once)"`
	WriteTimeout   time.Duration  `koanf:"write_timeout" doc:"a client that cannot take a write in this time is disconnected"`
	MaxQueue       int            `koanf:"max_queue" doc:"packets that may wait for one client, over websocket or polling, before it is disconnected as too slow"`
	ErrorMessage   string         `koanf:"error_message" doc:"what a client is told when a rule fails at run time: the connect_error message of a refused connection, and the error of an error ack"`
	AckUnanswered  string         `koanf:"ack_unanswered" doc:"what an event that awaits an ack gets when no rule replies: silent (no ack, as Socket.IO) or error (an ack {\"error\": \"unanswered\"})"`
	Recovery       RecoveryConfig `koanf:"recovery" doc:"connection state recovery (Socket.IO 4.6+): a client that comes back in time keeps its id, rooms and state and gets what it missed"`
}

// RecoveryConfig configures connection state recovery.
type RecoveryConfig struct {
	MaxDisconnection time.Duration `koanf:"max_disconnection" doc:"how long a disconnected client's session is kept for it to recover; 0 turns recovery off"`
}

// ClusterConfig configures the Redis cluster of several nodes.
type ClusterConfig struct {
	NodeID string      `koanf:"node_id" doc:"this node's name in logs and metrics; empty means host name, process id and a random suffix"`
	Redis  RedisConfig `koanf:"redis" doc:"the Redis server the nodes share"`
	// OnOutage is OutageDegraded or OutageNotReady.
	OnOutage       string        `koanf:"on_outage" doc:"what /readyz answers while Redis is unreachable: degraded (200, the body says so) or not_ready (503)"`
	RequestTimeout time.Duration `koanf:"request_timeout" doc:"how long room_size() and socket_rooms() wait for the other nodes' answers"`
}

// Enabled reports whether the config asks for a cluster.
func (c ClusterConfig) Enabled() bool { return c.Redis.URL != "" }

// RedisConfig names the Redis server of a cluster.
type RedisConfig struct {
	URL    string `koanf:"url" doc:"redis://[user:password@]host:port/db, or rediss:// for TLS; the password is a secret, never logged"`
	Prefix string `koanf:"prefix" doc:"the Redis stream name and pub/sub channel prefix the nodes share; Node servers in the cluster use the same as streamName and channelPrefix"`
}

// The values of ClusterConfig.OnOutage.
const (
	OutageDegraded = "degraded"
	OutageNotReady = "not_ready"
)

// The values of SocketIOConfig.AckUnanswered.
const (
	AckSilent = "silent"
	AckError  = "error"
)

// The values of LogConfig.Level and LogConfig.Format, and of the items of
// SocketIOConfig.Transports.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"console", "json"}
	transports = []string{"polling", "websocket"}
)

// LogConfig configures logging.
type LogConfig struct {
	Level  string `koanf:"level" doc:"debug, info, warn or error"`
	Format string `koanf:"format" doc:"console or json"`
}

// RuntimeConfig tunes the Go garbage collector, trading CPU for memory.
// Both apply at start and on reload.
type RuntimeConfig struct {
	GCPercent   int      `koanf:"gc_percent" doc:"GOGC: heap growth allowed between collections, in percent; lower uses less memory and more CPU"`
	MemoryLimit ByteSize `koanf:"memory_limit" doc:"GOMEMLIMIT: a soft memory limit the collector works to stay under; 0 means none"`
}

// LimitsConfig bounds what clients may do, so that no client can hurt the
// others or the daemon. Each client limit that acts is counted in
// eventrouter_limited_total{limit} and logged at a bounded rate. The
// expression limits bound what one expression may cost: rules come from
// the operator but run on client data, so map(data, map(data, #)) on a
// large client list must fail, not stall the event loop; an expression
// over its budget fails as any run-time rule error does. Zero disables a
// limit. The defaults stop runaway clients without limiting any real use;
// the connection limits are off, since only the operator knows the
// machine and whether clients share addresses behind a proxy or NAT.
type LimitsConfig struct {
	EventsPerSecond       float64 `koanf:"events_per_second" doc:"events one socket may send per second, on average (a token bucket); 0 means no limit"`
	EventsBurst           int     `koanf:"events_burst" doc:"events one socket may send at once above the average rate"`
	OnExceed              string  `koanf:"on_exceed" doc:"what an event over the rate does: drop (dropped; the client gets an error event at most once a second) or disconnect"`
	MaxConnections        int     `koanf:"max_connections" doc:"sockets connected at once, over every namespace; 0 means no limit"`
	MaxConnectionsPerIP   int     `koanf:"max_connections_per_ip" doc:"sockets connected at once from one client address (see server.trusted_proxies); 0 means no limit"`
	MaxRoomsPerSocket     int     `koanf:"max_rooms_per_socket" doc:"rooms one socket may be in, its own room included; a join past it fails; 0 means no limit"`
	MaxEventArgs          int     `koanf:"max_event_args" doc:"arguments one event may carry; an event with more is dropped; 0 means no limit"`
	HTTPRequestsPerSecond float64 `koanf:"http_requests_per_second" doc:"requests to HTTP routes one client address may make per second, on average; more get 429 with Retry-After; 0 means no limit"`
	HTTPBurst             int     `koanf:"http_burst" doc:"HTTP route requests one client address may make at once (the bucket size); 0 means 1"`
	ExprNodes             int     `koanf:"expr_nodes" doc:"largest expression accepted, in syntax tree nodes (a name, a literal, an operator, a call each count one); a larger one fails the load; 0 means no limit"`
	ExprMemory            int     `koanf:"expr_memory" doc:"work one expression may do on one event, in units: one per element of a list or mapping it builds, loops over or passes to a builtin, one per 16 bytes of a string among them; an expression that exceeds it fails like any run-time rule error; 0 means no limit"`
}

// The values of LimitsConfig.OnExceed.
const (
	OnExceedDrop       = "drop"
	OnExceedDisconnect = "disconnect"
)

// RuleSpec is one rule as written in the config file.
type RuleSpec struct {
	Name        string     `koanf:"name" doc:"unique rule name"`
	Description string     `koanf:"description" doc:"free text"`
	On          string     `koanf:"on" doc:"trigger: an event name, connection, disconnect, *, METHOD /path or a source's PREFIX:PATTERN (nats:orders.>)"`
	Namespace   string     `koanf:"namespace" doc:"namespace of a socket rule (default /)"`
	When        string     `koanf:"when" doc:"optional boolean expression"`
	Do          []string   `koanf:"do" doc:"expressions, each yielding actions"`
	Else        []string   `koanf:"else" doc:"expressions run instead of do when the when condition is false"`
	Final       bool       `koanf:"final" doc:"when the rule matches, later rules of the event are not evaluated (reject implies it)"`
	OnError     string     `koanf:"on_error" doc:"what a run-time failure of the rule does: fail (default: refuse the connection, answer an awaited ack or the HTTP request with an error) or continue (log it and carry on)"`
	Limits      RuleLimits `koanf:"limits" doc:"the event rate of a socket event rule's event, in place of limits.events_per_second and limits.events_burst"`
}

// RuleLimits overrides the event rate limit for one socket event: every
// event of the rule's name in its namespace is charged to a bucket of its
// own per socket (one per socket and rule), instead of the socket's bucket
// for all its other events. The zero value overrides nothing.
type RuleLimits struct {
	EventsPerSecond float64 `koanf:"events_per_second" doc:"events of this name one socket may send per second, on average"`
	EventsBurst     int     `koanf:"events_burst" doc:"events of this name one socket may send at once above the average rate; default twice events_per_second"`
}

// Set reports whether the rule sets any limit.
func (l RuleLimits) Set() bool { return l != RuleLimits{} }

// The values of RuleSpec.OnError.
const (
	OnErrorFail     = "fail"     // the default
	OnErrorContinue = "continue" // log and carry on as if the rule had not matched
)

// Defaults returns the configuration used for every key the file leaves out.
func Defaults() Config {
	return Config{
		Server: ServerConfig{
			Listen:          ":3000",
			CORS:            CORSConfig{Origins: []string{"*"}, Methods: []string{"GET", "POST"}},
			MaxBody:         1 << 20,
			ShutdownTimeout: 10 * time.Second,

			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
		Admin: AdminConfig{Listen: "127.0.0.1:9090"},
		SocketIO: SocketIOConfig{
			Path:           "/socket.io",
			PingInterval:   25 * time.Second,
			PingTimeout:    20 * time.Second,
			ConnectTimeout: 45 * time.Second,
			MaxPayload:     1_000_000,
			Transports:     []string{"polling", "websocket"},
			Engine:         EngineBuiltin,
			WriteCoalesce:  0,
			WriteTimeout:   10 * time.Second,
			MaxQueue:       4096,
			ErrorMessage:   "internal error",
			AckUnanswered:  AckSilent,
		},
		Cluster: ClusterConfig{
			Redis:          RedisConfig{Prefix: "socket.io"},
			OnOutage:       OutageDegraded,
			RequestTimeout: time.Second,
		},
		Namespaces: []string{"/"},
		AdminUI:    AdminUIConfig{Namespace: "/admin", Mode: AdminUIDevelopment},
		Log:        LogConfig{Level: "info", Format: "console"},
		Runtime:    RuntimeConfig{GCPercent: 100},
		Limits: LimitsConfig{
			EventsPerSecond:   1000,
			EventsBurst:       2000,
			OnExceed:          OnExceedDrop,
			MaxRoomsPerSocket: 1000,
			MaxEventArgs:      16,
			ExprNodes:         1000,
			ExprMemory:        1_000_000,
		},
	}
}
