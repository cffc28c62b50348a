package adminui

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
)

// stats counts what server_stats reports besides the sockets: Engine.IO
// connections, closes, packets and bytes in per-second buckets (the UI's
// aggregatedEvents), and the connections still on polling.
//
// Packets and bytes are counted from the engine's packet and packetCreate
// events, as instrument() counts them. A broadcast that the router's
// fan-out adapter writes straight to websocket transports (router/fanout)
// does not pass there, so packetsOut and bytesOut leave those out.
type stats struct {
	mu      sync.Mutex
	buckets map[bucketKey]int
	order   []bucketKey // buckets in the order they appeared
	polling int         // connections on polling, not upgraded
}

// bucketKey is one second of one kind of event.
type bucketKey struct {
	second  int64 // Unix milliseconds, rounded down to the second
	typ     string
	subType string
}

func newStats() *stats { return &stats{buckets: map[bucketKey]int{}} }

// add counts n events of a kind in the current second.
func (st *stats) add(typ, subType string, n int) {
	k := bucketKey{time.Now().Truncate(time.Second).UnixMilli(), typ, subType}
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.buckets[k]; !ok {
		st.order = append(st.order, k)
	}
	st.buckets[k] += n
}

// drain returns the buckets counted since the last drain and forgets them.
func (st *stats) drain() []any {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]any, 0, len(st.order))
	for _, k := range st.order {
		e := map[string]any{"timestamp": k.second, "type": k.typ, "count": st.buckets[k]}
		if k.subType != "" {
			e["subType"] = k.subType
		}
		out = append(out, e)
	}
	clear(st.buckets)
	st.order = st.order[:0]
	return out
}

// pollingCount is the number of connections still on polling.
func (st *stats) pollingCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.polling
}

// watchConn counts one new Engine.IO connection and everything it carries.
func (st *stats) watchConn(conn engine.Socket) {
	st.add("rawConnection", "", 1)
	if t := conn.Transport(); t != nil && t.Name() == transports.POLLING {
		st.mu.Lock()
		st.polling++
		st.mu.Unlock()
		var once sync.Once
		decr := func(...any) {
			once.Do(func() {
				st.mu.Lock()
				st.polling--
				st.mu.Unlock()
			})
		}
		_ = conn.Once("upgrade", decr)
		_ = conn.Once("close", decr)
	}
	_ = conn.On("packetCreate", func(args ...any) {
		if n, ok := packetSize(args); ok {
			st.add("packetsOut", "", 1)
			st.add("bytesOut", "", n)
		}
	})
	_ = conn.On("packet", func(args ...any) {
		if n, ok := packetSize(args); ok {
			st.add("packetsIn", "", 1)
			st.add("bytesIn", "", n)
		}
	})
	_ = conn.Once("close", func(args ...any) {
		reason, _ := first[string](args)
		st.add("rawDisconnection", reason, 1)
	})
}

// packetSize is the size of a packet event's data; a packet without data
// (a ping) does not count.
func packetSize(args []any) (int, bool) {
	p, ok := first[*packet.Packet](args)
	if !ok || p == nil || p.Data == nil {
		return 0, false
	}
	if l, ok := p.Data.(interface{ Len() int }); ok {
		n := l.Len()
		return n, n > 0
	}
	return 0, false
}

// statsLoop emits server_stats at once and then every StatsInterval until
// ctx ends.
func (a *Server) statsLoop(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(a.opts.StatsInterval)
	defer t.Stop()
	for {
		a.emitStats()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// emitStats sends one server_stats to the admin sockets.
func (a *Server) emitStats() {
	var nsps []any
	for _, ns := range a.namespaces() {
		nsps = append(nsps, map[string]any{"name": ns.Name(), "socketsCount": ns.Sockets().Len()})
	}
	a.broadcast("server_stats", map[string]any{
		"serverId":            a.opts.ServerID,
		"hostname":            a.hostname,
		"pid":                 os.Getpid(),
		"uptime":              time.Since(a.started).Seconds(),
		"clientsCount":        a.io.Engine().ClientsCount(),
		"pollingClientsCount": a.stats.pollingCount(),
		"aggregatedEvents":    a.stats.drain(),
		"namespaces":          nsps,
	})
}
