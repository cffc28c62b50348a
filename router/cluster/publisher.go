package cluster

import (
	"context"

	"github.com/zishang520/socket.io/adapters/adapter/v3"
	"go.uber.org/zap"
)

// publishQueue bounds the messages waiting for Redis. Past it a message
// reaches this node's clients only, counted as unpublished: the event path
// never waits for Redis.
const publishQueue = 16384

// outgoing is one message for the other nodes.
type outgoing struct {
	a   *nodeAdapter
	msg *adapter.ClusterMessage
}

// The publisher sends the messages of every namespace to the stream, one
// after another, from one goroutine: the order in which this node handed
// them over is the order of the stream, so each sender's messages stay in
// order on every node. A broadcast is delivered locally first and queued
// for the others (publish); the sender's event does not wait for a Redis
// round trip, which, measured with bench/cluster.sh, capped a node at
// about a hundred broadcasts a second when every event waited for its
// XADD. With connection state recovery on, a broadcast needs its stream
// offset before local delivery, so it is published on the event's path
// instead (publishNow).

// enqueue hands msg of a to the publisher; false when it cannot take it.
func (c *Cluster) enqueue(a *nodeAdapter, msg *adapter.ClusterMessage) bool {
	if !c.Up() || c.ctx.Err() != nil {
		c.metrics.unpublished.Inc()
		return false
	}
	select {
	case c.outbox <- outgoing{a, msg}:
		return true
	default:
		c.metrics.unpublished.Inc()
		c.metrics.queueFull.Inc()
		return false
	}
}

// publishLoop publishes queued messages until ctx ends, then what is left
// in the queue, so that a graceful stop loses nothing that was queued.
func (c *Cluster) publishLoop(ctx context.Context) {
	defer close(c.published)
	for {
		select {
		case out := <-c.outbox:
			c.send(out)
		case <-ctx.Done():
			for {
				select {
				case out := <-c.outbox:
					c.send(out)
				default:
					return
				}
			}
		}
	}
}

// send publishes one queued message; while Redis is down it is counted,
// not sent.
func (c *Cluster) send(out outgoing) {
	if !c.Up() {
		c.metrics.unpublished.Inc()
		return
	}
	if _, err := out.a.PublishAndReturnOffset(out.msg); err != nil {
		c.metrics.unpublished.Inc()
		c.failed("publish", err)
		return
	}
	c.metrics.published.Inc()
	if ce := c.log.Check(zap.DebugLevel, "cluster: published"); ce != nil {
		ce.Write(zap.Int("type", int(out.msg.Type)), zap.String("namespace", out.a.Nsp().Name()))
	}
}
