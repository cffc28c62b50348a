// Package cluster joins a router's namespaces to the other nodes of a
// cluster, eventrouter nodes or Node socket.io servers, through Redis, the
// way the Socket.IO ecosystem does it: the Redis streams adapter
// (github.com/zishang520/socket.io/adapters/redis/v3, wire-compatible with
// Node's @socket.io/redis-streams-adapter). There is no protocol of our
// own here; this package only decides how the adapter is driven.
//
// # Composition
//
// The adapter of each namespace is the library's streams adapter, wrapped
// (nodeAdapter) to change two things:
//
//   - Local delivery takes router/fanout's path (Deliver): a broadcast is
//     framed once and queued on every local websocket, as on a single
//     node. The library's own Broadcast would deliver through its
//     per-socket engine path, which costs the fan-out speed router/fanout
//     was written for. Broadcasts other nodes publish arrive through the
//     library's stream reader and take its path: it calls its own
//     in-memory adapter, which a wrapper cannot reach.
//   - The event path never waits for Redis. The library publishes (XADD)
//     before it delivers locally, on the event's goroutine; here a
//     broadcast, join, leave or disconnect of remote sockets is carried
//     out locally and queued for one publisher goroutine (publisher.go),
//     which keeps the node's order. A health monitor (monitor.go) pings
//     Redis; while it is down, nothing is queued. Only with connection
//     state recovery on does a broadcast wait for its XADD, whose offset
//     the local clients must get with it.
//
// Embedding the streams adapter rather than writing one over the same
// stream format keeps the rest the library's, as tested against Node by its
// authors: the stream's format, its reader and what it does with remote
// broadcasts, joins and disconnects, and the session persistence of
// connection state recovery. The price is that remote deliveries go the
// library's slower way; BENCHMARKS.md measures it. (Cluster-wide socket
// reads are the exception, in fetch.go: the library's cannot cross nodes.)
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router/fanout"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/adapters/adapter/v3"
	sioredis "github.com/zishang520/socket.io/adapters/redis/v3"
	streams "github.com/zishang520/socket.io/adapters/redis/v3/adapter"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
)

// ErrUnavailable is returned by cluster-wide reads while Redis is down.
var ErrUnavailable = errors.New("the cluster is unreachable (Redis is down)")

// Options configures New.
type Options struct {
	// Config is the cluster section of the config.
	Config rules.ClusterConfig
	// Recovery is socketio.recovery.max_disconnection; positive turns
	// connection state recovery on, and the adapter appends each
	// broadcast's stream offset for the clients that come back.
	Recovery time.Duration
	// Outgoing is fanout.Builder.Outgoing: some sockets may have "any
	// outgoing" listeners (the Admin UI adds them).
	Outgoing bool
	// Logger receives the outage and reconnection messages.
	Logger *zap.Logger
	// Registerer receives the cluster metrics.
	Registerer prometheus.Registerer
}

// Cluster is this node's membership in a Redis cluster.
type Cluster struct {
	cfg      rules.ClusterConfig
	nodeID   string
	recovery bool
	outgoing bool // Options.Outgoing
	log      *zap.Logger
	metrics  *metrics

	write, read *goredis.Client
	builder     *streams.RedisStreamsAdapterBuilder

	health   health
	requests requests

	outbox    chan outgoing // see publisher.go
	published chan struct{} // closed when the publisher has stopped

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	done   chan struct{}
}

// New connects this node to the cluster cfg describes. It does not wait
// for Redis: a node whose Redis is down starts anyway, serves its local
// clients, and joins the cluster when Redis answers. Close releases it.
func New(opts Options) (*Cluster, error) {
	cfg := opts.Config
	ropts, err := goredis.ParseURL(cfg.Redis.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster.redis.url %s: %w", redacted(cfg.Redis.URL), err)
	}
	// Short timeouts: a publish sits on an event's path, and one failure
	// marks Redis down (see health) so that later events do not wait.
	ropts.DialTimeout = time.Second
	ropts.ReadTimeout = time.Second
	ropts.WriteTimeout = time.Second
	ropts.PoolTimeout = time.Second
	ropts.MaxRetries = 1 // one retry covers a pooled connection that a Redis restart closed
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	nodeID := cfg.NodeID
	if nodeID == "" {
		nodeID = defaultNodeID()
	}
	// Named so that CLIENT LIST shows each node's connections: the stream
	// reader's is ReaderName.
	ropts.ClientName = clientName(nodeID)
	readOpts := *ropts
	readOpts.ClientName = ReaderName(nodeID)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		cfg:       cfg,
		nodeID:    nodeID,
		recovery:  opts.Recovery > 0,
		outgoing:  opts.Outgoing,
		log:       logger.With(zap.String("node", nodeID)),
		metrics:   newMetrics(opts.Registerer, nodeID),
		write:     goredis.NewClient(ropts),
		read:      goredis.NewClient(&readOpts),
		outbox:    make(chan outgoing, publishQueue),
		published: make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	c.health.init()
	client := sioredis.NewRedisClientWithSub(ctx, c.write, c.read)
	_ = client.On("error", func(args ...any) {
		if err, ok := firstError(args); ok {
			c.failed("redis command", err)
		}
	})
	so := streams.DefaultRedisStreamsAdapterOptions()
	so.SetStreamName(cfg.Redis.Prefix)
	so.SetChannelPrefix(cfg.Redis.Prefix)
	c.builder = &streams.RedisStreamsAdapterBuilder{Redis: client, Opts: so}
	c.listen(ctx)
	go c.monitor(ctx)
	go c.publishLoop(ctx)
	c.log.Info("cluster: joining through Redis", zap.String("redis", redacted(cfg.Redis.URL)), zap.String("stream", cfg.Redis.Prefix))
	return c, nil
}

// NodeID is this node's name in the cluster.
func (c *Cluster) NodeID() string { return c.nodeID }

// Up reports whether Redis answered the last check.
func (c *Cluster) Up() bool { return c.health.up.Load() }

// NotReady says why /readyz should answer 503 because of the cluster, or ""
// when it should not: only with cluster.on_outage: not_ready, while Redis
// is down.
func (c *Cluster) NotReady() string {
	if c.Up() || c.cfg.OnOutage != rules.OutageNotReady {
		return ""
	}
	return "cluster: Redis is unreachable"
}

// Degraded says, for /readyz's body, that the node serves its local
// clients only; "" while Redis is up.
func (c *Cluster) Degraded() string {
	if c.Up() {
		return ""
	}
	return "degraded: Redis is unreachable; serving local clients only"
}

// Builder returns the adapter constructor for the Socket.IO server.
func (c *Cluster) Builder() socket.AdapterConstructor { return builder{c} }

// Close publishes what is queued, then stops the health monitor and the
// Redis clients. The namespaces' adapters stop with the Socket.IO server.
func (c *Cluster) Close() error {
	c.cancel()
	<-c.published
	<-c.done
	return errors.Join(c.write.Close(), c.read.Close())
}

// RoomSize counts the sockets in room of nsp on every node.
func (c *Cluster) RoomSize(ctx context.Context, nsp socket.Namespace, room string) (int, error) {
	sockets, err := c.fetch(ctx, nsp, socket.Room(room))
	return len(sockets), err
}

// SocketRooms lists the rooms of the socket id of nsp, wherever it is
// connected; nil when no node has it.
func (c *Cluster) SocketRooms(ctx context.Context, nsp socket.Namespace, id string) ([]string, error) {
	sockets, err := c.fetch(ctx, nsp, socket.Room(id))
	if err != nil {
		return nil, err
	}
	for _, s := range sockets {
		if s.id == id {
			return s.rooms, nil
		}
	}
	return nil, nil
}

// RemoteSocket is a socket of another node, as that node describes it.
type RemoteSocket struct {
	// ID is the socket's id.
	ID string
	// Rooms are the socket's rooms, its own included.
	Rooms []string
	// Handshake is the socket's handshake as its node recorded it; nil if
	// that node sent none.
	Handshake *socket.Handshake
	// Data is the socket's data (for eventrouter nodes, {"state": ...}),
	// as msgpack decodes it.
	Data any
}

// OtherSockets lists the sockets of nsp on the other nodes.
func (c *Cluster) OtherSockets(ctx context.Context, nsp socket.Namespace) ([]RemoteSocket, error) {
	sockets, err := c.fetch(ctx, nsp)
	if err != nil {
		return nil, err
	}
	var out []RemoteSocket
	for _, s := range sockets {
		if !s.local {
			out = append(out, RemoteSocket{ID: s.id, Rooms: s.rooms, Handshake: s.handshake, Data: s.data})
		}
	}
	return out, nil
}

// fetch asks every node for its sockets in rooms of nsp.
func (c *Cluster) fetch(ctx context.Context, nsp socket.Namespace, rooms ...socket.Room) ([]remoteSocket, error) {
	a, ok := nsp.Adapter().(*nodeAdapter)
	if !ok {
		return nil, fmt.Errorf("namespace %s has no cluster adapter", nsp.Name())
	}
	if !c.Up() {
		c.metrics.requestFailures.Inc()
		return nil, ErrUnavailable
	}
	sockets, err := c.fetchAll(ctx, a, rooms...)
	if err != nil {
		c.metrics.requestFailures.Inc()
		return nil, fmt.Errorf("the cluster did not answer: %w", err)
	}
	return sockets, nil
}

// builder creates each namespace's adapter.
type builder struct{ c *Cluster }

// New wraps the streams adapter of nsp.
func (b builder) New(nsp socket.Namespace) socket.Adapter {
	inner := b.c.builder.New(nsp).(streams.RedisStreamsAdapter)
	a := &nodeAdapter{RedisStreamsAdapter: inner, c: b.c}
	b.c.watch(b.c.ctx, a)
	return a
}

// nodeAdapter is the streams adapter with router/fanout's local delivery
// and no waiting on a Redis that is down.
type nodeAdapter struct {
	streams.RedisStreamsAdapter
	c *Cluster
}

// Broadcast delivers packet to this node's sockets and publishes it to
// the other nodes. While Redis is down it delivers locally only.
func (a *nodeAdapter) Broadcast(p *parser.Packet, opts *socket.BroadcastOptions) {
	if localOnly(opts) {
		fanout.Deliver(a, a.deliverLocally, p, opts, a.c.outgoing)
		return
	}
	msg := &adapter.ClusterMessage{
		Type: adapter.BROADCAST,
		Data: &adapter.BroadcastMessage{Packet: p, Opts: adapter.EncodeOptions(opts)},
	}
	if a.c.recovery {
		a.publishNow(msg, p, opts)
		fanout.Deliver(a, a.deliverLocally, p, opts, a.c.outgoing)
		return
	}
	// The packet is encoded for the stream after local delivery, on the
	// publisher's goroutine; nothing changes it once Broadcast has it.
	fanout.Deliver(a, a.deliverLocally, p, opts, a.c.outgoing)
	a.c.enqueue(a, msg)
}

// publishNow adds msg to the stream on the event's path and, as the
// library does, appends the stream offset to an event's arguments, so a
// client that comes back can say where it was.
func (a *nodeAdapter) publishNow(msg *adapter.ClusterMessage, p *parser.Packet, opts *socket.BroadcastOptions) {
	c := a.c
	if !c.Up() {
		c.metrics.unpublished.Inc()
		return
	}
	offset, err := a.PublishAndReturnOffset(msg)
	if err != nil {
		c.metrics.unpublished.Inc()
		c.failed("publish", err)
		return
	}
	c.metrics.published.Inc()
	if p.Type == parser.EVENT && p.Id == nil && (opts == nil || opts.Flags == nil || !opts.Flags.Volatile) {
		if args, ok := p.Data.([]any); ok {
			p.Data = append(args, offset)
		}
	}
}

// deliverLocally is the library's own delivery to this node's sockets, for
// packets fanout cannot frame once (binary attachments).
func (a *nodeAdapter) deliverLocally(p *parser.Packet, opts *socket.BroadcastOptions) {
	a.RedisStreamsAdapter.Broadcast(p, withLocal(opts))
}

// AddSockets makes the sockets opts selects, on every node, join rooms.
func (a *nodeAdapter) AddSockets(opts *socket.BroadcastOptions, rooms []socket.Room) {
	a.RedisStreamsAdapter.AddSockets(withLocal(opts), rooms)
	if !localOnly(opts) {
		a.c.enqueue(a, &adapter.ClusterMessage{Type: adapter.SOCKETS_JOIN,
			Data: &adapter.SocketsJoinLeaveMessage{Opts: adapter.EncodeOptions(opts), Rooms: rooms}})
	}
}

// DelSockets makes the sockets opts selects, on every node, leave rooms.
func (a *nodeAdapter) DelSockets(opts *socket.BroadcastOptions, rooms []socket.Room) {
	a.RedisStreamsAdapter.DelSockets(withLocal(opts), rooms)
	if !localOnly(opts) {
		a.c.enqueue(a, &adapter.ClusterMessage{Type: adapter.SOCKETS_LEAVE,
			Data: &adapter.SocketsJoinLeaveMessage{Opts: adapter.EncodeOptions(opts), Rooms: rooms}})
	}
}

// DisconnectSockets disconnects the sockets opts selects, on every node.
func (a *nodeAdapter) DisconnectSockets(opts *socket.BroadcastOptions, close bool) {
	a.RedisStreamsAdapter.DisconnectSockets(withLocal(opts), close)
	if !localOnly(opts) {
		a.c.enqueue(a, &adapter.ClusterMessage{Type: adapter.DISCONNECT_SOCKETS,
			Data: &adapter.DisconnectSocketsMessage{Opts: adapter.EncodeOptions(opts), Close: close}})
	}
}

// localOnly reports whether opts asks for this node only.
func localOnly(opts *socket.BroadcastOptions) bool {
	return opts != nil && opts.Flags != nil && opts.Flags.Local
}

// withLocal is a copy of opts for this node only.
func withLocal(opts *socket.BroadcastOptions) *socket.BroadcastOptions {
	out := &socket.BroadcastOptions{Flags: &socket.BroadcastFlags{}}
	if opts != nil {
		out.Rooms, out.Except = opts.Rooms, opts.Except
		if opts.Flags != nil {
			flags := *opts.Flags
			out.Flags = &flags
		}
	}
	out.Flags.Local = true
	return out
}

// ReaderName is the Redis client name of node nodeID's stream reader and
// subscriptions, as CLIENT LIST shows it.
func ReaderName(nodeID string) string { return clientName(nodeID) + "-read" }

// clientName is the Redis client name of node nodeID's publishing
// connections: CLIENT SETNAME takes no spaces.
func clientName(nodeID string) string {
	return "eventrouter-" + strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, nodeID)
}

// defaultNodeID is host name, process id and a random suffix.
func defaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + adapter.RandomId()[:6]
}

// redacted is a Redis URL without its password.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// firstError returns the first argument if it is an error.
func firstError(args []any) (error, bool) {
	if len(args) == 0 {
		return nil, false
	}
	err, ok := args[0].(error)
	return err, ok
}
