package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/adapters/adapter/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"go.uber.org/zap"
)

// Cluster-wide socket reads (fetchSockets) are done here, over the
// adapter's own wire format, because the library's cannot cross nodes
// (adapters/adapter v3.0.2, redis v3.0.2):
//
//   - clusterAdapter.FetchSockets counts the nodes to wait for with
//     c.ServerCount(), the embedded in-memory adapter's, which is always 1,
//     so it never asks the other nodes;
//   - the streams adapter decodes pub/sub messages into ClusterMessage with
//     Data left as a generic map, which OnMessage's type assertions
//     (*FetchSocketsMessage, *FetchSocketsResponse) reject, so it neither
//     answers another node's request nor takes an answer.
//
// So each node answers FETCH_SOCKETS requests on the namespace's public
// channel and collects FETCH_SOCKETS_RESPONSE answers on its private one,
// as Node's adapter does. It listens with PSUBSCRIBE on patterns that match
// exactly those channels: PUBSUB NUMSUB, which the adapters use to count
// the nodes, does not count pattern subscribers, so the count stays right
// for Node servers too.

// remoteSocket is what a node tells of one of its sockets.
type remoteSocket struct {
	id        string
	rooms     []string
	handshake *socket.Handshake // as the socket's node recorded it
	data      any               // the socket's data, as msgpack decodes it
	local     bool              // one of this node's
}

// wireMessage is a ClusterMessage whose data is decoded once its type is
// known.
type wireMessage struct {
	Uid  adapter.ServerId    `msgpack:"uid"`
	Nsp  string              `msgpack:"nsp"`
	Type adapter.MessageType `msgpack:"type"`
	Data msgpack.RawMessage  `msgpack:"data"`
}

// fetchRequest is one fetch waiting for the other nodes.
type fetchRequest struct {
	mu       sync.Mutex
	sockets  []remoteSocket
	answered int
	expected int
	done     chan struct{}
}

// requests are this node's fetches in flight, and the namespaces whose
// channels it listens on.
type requests struct {
	mu       sync.Mutex
	pending  map[string]*fetchRequest
	channels map[string]*nodeAdapter // public and private channel → adapter
	pubsub   *redis.PubSub
}

// listen starts the pattern subscription that carries fetch requests and
// answers; it runs until ctx ends.
func (c *Cluster) listen(ctx context.Context) {
	c.requests.pending = map[string]*fetchRequest{}
	c.requests.channels = map[string]*nodeAdapter{}
	c.requests.pubsub = c.read.PSubscribe(ctx)
	go func() {
		defer c.requests.pubsub.Close()
		ch := c.requests.pubsub.Channel(redis.WithChannelSize(1000))
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-ch:
				if !ok {
					return
				}
				c.onPubSub(msg.Channel, msg.Payload)
			}
		}
	}()
}

// watch listens on a's public and private channels.
func (c *Cluster) watch(ctx context.Context, a *nodeAdapter) {
	public, private := c.channels(a)
	c.requests.mu.Lock()
	c.requests.channels[public] = a
	c.requests.channels[private] = a
	c.requests.mu.Unlock()
	if err := c.requests.pubsub.PSubscribe(ctx, globEscape(public), globEscape(private)); err != nil {
		c.failed("psubscribe", err) // go-redis subscribes again when it reconnects
	}
}

// channels are the pub/sub channels of a's namespace: the public one every
// node listens on, and a's private one for answers.
func (c *Cluster) channels(a *nodeAdapter) (public, private string) {
	public = c.cfg.Redis.Prefix + "#" + a.Nsp().Name() + "#"
	return public, public + string(a.Uid()) + "#"
}

// onPubSub handles a message on one of the watched channels.
func (c *Cluster) onPubSub(channel, payload string) {
	c.requests.mu.Lock()
	a := c.requests.channels[channel]
	c.requests.mu.Unlock()
	if a == nil {
		return
	}
	var m wireMessage
	if err := msgpack.Unmarshal([]byte(payload), &m); err != nil {
		c.log.Debug("cluster: undecodable pub/sub message", zap.String("channel", channel), zap.Error(err))
		return
	}
	if m.Uid == a.Uid() || m.Nsp != a.Nsp().Name() {
		return
	}
	switch m.Type {
	case adapter.FETCH_SOCKETS:
		var req adapter.FetchSocketsMessage
		if err := msgpack.Unmarshal(m.Data, &req); err != nil {
			c.log.Debug("cluster: undecodable FETCH_SOCKETS", zap.Error(err))
			return
		}
		c.answerFetch(a, m.Uid, &req)
	case adapter.FETCH_SOCKETS_RESPONSE:
		var resp adapter.FetchSocketsResponse
		if err := msgpack.Unmarshal(m.Data, &resp); err != nil {
			c.log.Debug("cluster: undecodable FETCH_SOCKETS_RESPONSE", zap.Error(err))
			return
		}
		c.takeAnswer(&resp)
	}
}

// answerFetch answers another node's request with this node's sockets.
func (c *Cluster) answerFetch(a *nodeAdapter, requester adapter.ServerId, req *adapter.FetchSocketsMessage) {
	local := localSockets(a, adapter.DecodeOptions(req.Opts))
	sockets := make([]*adapter.SocketResponse, 0, len(local))
	for _, s := range local {
		sockets = append(sockets, &adapter.SocketResponse{Id: s.Id(), Handshake: s.Handshake(), Rooms: s.Rooms().Keys(), Data: s.Data()})
	}
	payload, err := msgpack.Marshal(&adapter.ClusterResponse{
		Uid:  a.Uid(),
		Nsp:  a.Nsp().Name(),
		Type: adapter.FETCH_SOCKETS_RESPONSE,
		Data: &adapter.FetchSocketsResponse{RequestId: req.RequestId, Sockets: sockets},
	})
	if err != nil {
		c.log.Debug("cluster: encode FETCH_SOCKETS_RESPONSE", zap.Error(err))
		return
	}
	_, private := c.channels(a)
	channel := strings.TrimSuffix(private, string(a.Uid())+"#") + string(requester) + "#"
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
	defer cancel()
	if err := c.write.Publish(ctx, channel, payload).Err(); err != nil {
		c.failed("publish fetch answer", err)
	}
}

// takeAnswer adds another node's answer to the request it answers.
func (c *Cluster) takeAnswer(resp *adapter.FetchSocketsResponse) {
	c.requests.mu.Lock()
	req := c.requests.pending[resp.RequestId]
	c.requests.mu.Unlock()
	if req == nil {
		return // answered too late, or a request of another process
	}
	req.mu.Lock()
	defer req.mu.Unlock()
	for _, s := range resp.Sockets {
		rs := remoteSocket{id: string(s.Id), handshake: s.Handshake, data: s.Data}
		for _, room := range s.Rooms {
			rs.rooms = append(rs.rooms, string(room))
		}
		req.sockets = append(req.sockets, rs)
	}
	req.answered++
	if req.answered == req.expected {
		close(req.done)
	}
}

// fetchAll returns the sockets in rooms of a's namespace on every node,
// waiting for the other nodes at most cluster.request_timeout.
func (c *Cluster) fetchAll(ctx context.Context, a *nodeAdapter, rooms ...socket.Room) ([]remoteSocket, error) {
	opts := &socket.BroadcastOptions{Rooms: types.NewSet(rooms...), Except: types.NewSet[socket.Room]()}
	var out []remoteSocket
	for _, s := range localSockets(a, opts) {
		rs := remoteSocket{id: string(s.Id()), handshake: s.Handshake(), data: s.Data(), local: true}
		for _, room := range s.Rooms().Keys() {
			rs.rooms = append(rs.rooms, string(room))
		}
		out = append(out, rs)
	}
	expected := int(a.ServerCount()) - 1 // the streams adapter's count: PUBSUB NUMSUB
	if expected <= 0 {
		return out, nil
	}
	id := adapter.RandomId()
	req := &fetchRequest{expected: expected, done: make(chan struct{})}
	c.requests.mu.Lock()
	c.requests.pending[id] = req
	c.requests.mu.Unlock()
	defer func() {
		c.requests.mu.Lock()
		delete(c.requests.pending, id)
		c.requests.mu.Unlock()
	}()
	payload, err := msgpack.Marshal(&adapter.ClusterMessage{
		Uid:  a.Uid(),
		Nsp:  a.Nsp().Name(),
		Type: adapter.FETCH_SOCKETS,
		Data: &adapter.FetchSocketsMessage{Opts: adapter.EncodeOptions(opts), RequestId: id},
	})
	if err != nil {
		return nil, fmt.Errorf("encode FETCH_SOCKETS: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	public, _ := c.channels(a)
	if err := c.write.Publish(ctx, public, payload).Err(); err != nil {
		c.failed("publish fetch request", err)
		return nil, fmt.Errorf("ask the other nodes: %w", err)
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		req.mu.Lock()
		answered := req.answered
		req.mu.Unlock()
		return nil, fmt.Errorf("%d of %d other nodes answered in %s", answered, expected, c.cfg.RequestTimeout)
	}
	req.mu.Lock()
	defer req.mu.Unlock()
	return append(out, req.sockets...), nil
}

// localSockets are the sockets of this node that opts selects.
func localSockets(a *nodeAdapter, opts *socket.BroadcastOptions) []socket.SocketDetails {
	ch := make(chan []socket.SocketDetails, 1)
	a.RedisStreamsAdapter.FetchSockets(withLocal(opts))(func(sockets []socket.SocketDetails, _ error) {
		ch <- sockets
	})
	return <-ch // the in-memory adapter answers before FetchSockets returns
}

// globEscape makes s a PSUBSCRIBE pattern that matches s only.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
