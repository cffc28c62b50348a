package eventrouter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/internal/redistest"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/cluster"
	"github.com/eventrouter/eventrouter/rules"
	goredis "github.com/redis/go-redis/v9"
)

// bootNode serves testdata/cluster.yaml (or path) as cluster node nodeID on
// the Redis at redisURL, in the cluster named prefix.
func bootNode(t *testing.T, path, redisURL, prefix, nodeID string, extraEnv ...string) *daemon {
	t.Helper()
	env := append([]string{
		"EVENTROUTER_CLUSTER_REDIS_URL=" + redisURL,
		"EVENTROUTER_CLUSTER_REDIS_PREFIX=" + prefix,
		"EVENTROUTER_CLUSTER_NODE_ID=" + nodeID,
	}, extraEnv...)
	d := bootLoaded(t, path, rules.LoadOptions{Environ: func() []string { return env }}, router.Options{})
	waitStreamReader(t, redisURL, cluster.ReaderName(nodeID))
	return d
}

// waitStreamReader waits until the Redis client called name, a node's
// stream reader, is blocked in XREAD. The adapter reads the stream from
// "$", new entries only, once its reader runs: a broadcast published
// before would never reach that node. In production a node takes clients
// after that; a test must wait for it.
func waitStreamReader(t *testing.T, redisURL, name string) {
	t.Helper()
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := c.ClientList(context.Background()).Result()
		if err == nil && slices.ContainsFunc(strings.Split(list, "\n"), func(line string) bool {
			return strings.Contains(line, " name="+name+" ") && strings.Contains(line, " cmd=xread")
		}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not reading the stream after 10s (CLIENT LIST: %v %v)", name, list, err)
		}
		time.Sleep(10 * time.Millisecond) // polling Redis's state with a deadline, not synchronisation by delay
	}
}

// waitPayload waits for client id's receive_message carrying payload.
func waitPayload(t *testing.T, a *nodeclient.Agent, id string, payload any) {
	t.Helper()
	a.Next(t, func(r nodeclient.Report) bool {
		return r.ID == id && r.Type == nodeclient.TypeEvent && r.Event == "receive_message" && len(r.Args) > 0 && r.Args[0] == payload
	}, nodeclient.DefaultTimeout)
}

// noOtherMessages fails if any client still has a receive_message no case
// expected: a duplicate, or a message for someone else.
func noOtherMessages(t *testing.T, a *nodeclient.Agent, ids []string) {
	t.Helper()
	for _, id := range ids {
		for _, r := range a.Pending(id) {
			if r.Type == nodeclient.TypeEvent && r.Event == "receive_message" {
				t.Errorf("%s got an unexpected receive_message %v", id, r.Args)
			}
		}
	}
}

// TestClusterTwoNodes: every action that sends crosses from one node to
// the other, each message reaches each client once, and rooms, room_size
// and socket_rooms span the nodes. Clients on node A are a1, a2; on B b1,
// b2. Each case checks who receives its payload; the end checks that no
// one received anything else.
func TestClusterTwoNodes(t *testing.T) {
	url := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	nodes := map[string]*daemon{
		"a": bootNode(t, "testdata/cluster.yaml", url, prefix, "node-a"),
		"b": bootNode(t, "testdata/cluster.yaml", url, prefix, "node-b"),
	}
	for _, d := range nodes {
		waitLog(t, d.Logs, "cluster: Redis is reachable")
	}
	agent := nodeclient.Start(t)
	ids := []string{"a1", "a2", "b1", "b2"}
	sids := map[string]string{}
	for i, id := range ids {
		opts := map[string]any{"transports": []string{"websocket"}}
		if i%2 == 1 {
			opts = map[string]any{"transports": []string{"polling"}} // both transports on both nodes
		}
		agent.Connect(id, nodes[id[:1]].URL, opts)
	}
	for _, id := range ids {
		sids[id] = agent.WaitConnect(t, id).SID
	}
	for _, id := range []string{"a1", "b1"} {
		agent.WaitAck(t, id, agent.EmitAck(id, "join", "room"))
	}

	runDeliveryCases(t, agent, []deliveryCase{
		{"broadcast from A", func(p string) { agent.Emit("a1", "send_message", p) }, ids},
		{"broadcast from B over polling", func(p string) { agent.Emit("b2", "send_message", p) }, ids},
		{"broadcast_others", func(p string) { agent.Emit("b1", "shout", p) }, []string{"a1", "a2", "b2"}},
		{"to a room spanning both nodes, from outside it", func(p string) {
			agent.Emit("a2", "to_room", map[string]any{"room": "room", "data": p})
		}, []string{"a1", "b1"}},
		{"to_others in the room", func(p string) {
			agent.Emit("a1", "to_room_others", map[string]any{"room": "room", "data": p})
		}, []string{"b1"}},
		{"to a socket's own room on the other node", func(p string) {
			agent.Emit("a1", "to_room", map[string]any{"room": sids["b2"], "data": p})
		}, []string{"b2"}},
		{"HTTP rule on B", func(p string) {
			resp, err := http.Post(nodes["b"].URL+"/broadcast", "application/json", strings.NewReader(fmt.Sprintf("%q", p)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("POST /broadcast: %d", resp.StatusCode)
			}
		}, ids},
	})

	t.Run("room_size and socket_rooms see both nodes", func(t *testing.T) {
		if got := agent.WaitAck(t, "b2", agent.EmitAck("b2", "count", "room")).Args; len(got) != 1 || got[0] != 2.0 {
			t.Errorf("room_size(room) from B = %v, want 2", got)
		}
		got := agent.WaitAck(t, "b2", agent.EmitAck("b2", "rooms_of", sids["a1"])).Args
		rooms, _ := got[0].([]any)
		if !slices.Contains(rooms, any("room")) || !slices.Contains(rooms, any(sids["a1"])) {
			t.Errorf("socket_rooms(a1) from B = %v, want room and a1's own room", got)
		}
		agent.WaitAck(t, "b1", agent.EmitAck("b1", "leave", "room"))
		if got := agent.WaitAck(t, "a2", agent.EmitAck("a2", "count", "room")).Args; len(got) != 1 || got[0] != 1.0 {
			t.Errorf("room_size(room) from A after b1 left = %v, want 1", got)
		}
		agent.Emit("b2", "to_room", map[string]any{"room": "room", "data": "after-leave"})
		waitPayload(t, agent, "a1", "after-leave")
	})

	t.Run("in order per sender", func(t *testing.T) {
		expectInOrder(t, agent, []string{"a1", "b2"}, ids, 100)
	})
	expectNothingElse(t, agent, []string{"a1", "b1"}, ids)

	t.Run("disconnect_room reaches the other node", func(t *testing.T) {
		agent.WaitAck(t, "b2", agent.EmitAck("b2", "join", "kick"))
		agent.Emit("a2", "kick_room", "kick")
		if got := agent.WaitDisconnect(t, "b2").Reason; got != "io server disconnect" {
			t.Errorf("b2 disconnected with %q, want io server disconnect", got)
		}
	})
	if v := metricValue(t, nodes["a"].Router.Registry(), "eventrouter_cluster_redis_up", "node", "node-a"); v != 1 {
		t.Errorf("eventrouter_cluster_redis_up on A = %v, want 1", v)
	}
	if v := metricValue(t, nodes["b"].Router.Registry(), "eventrouter_cluster_unpublished_total", "node", "node-b"); v != 0 {
		t.Errorf("eventrouter_cluster_unpublished_total on B = %v, want 0", v)
	}
}

// deliveryCase is one message sent somewhere in a cluster and the
// clients it must reach.
type deliveryCase struct {
	name  string
	send  func(payload string)
	reach []string
}

// runDeliveryCases sends each case's own payload and waits for it at
// every client it must reach.
func runDeliveryCases(t *testing.T, agent *nodeclient.Agent, cases []deliveryCase) {
	t.Helper()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := fmt.Sprintf("case-%d", i)
			tc.send(payload)
			for _, id := range tc.reach {
				waitPayload(t, agent, id, payload)
			}
		})
	}
}

// expectInOrder has each sender send n numbered messages and checks that
// every client gets each sender's messages in the order sent.
func expectInOrder(t *testing.T, agent *nodeclient.Agent, senders, ids []string, n int) {
	t.Helper()
	for i := range n {
		for _, from := range senders {
			agent.Emit(from, "send_message", fmt.Sprintf("order-%s-%03d", from, i))
		}
	}
	for _, id := range ids {
		for _, from := range senders {
			prefix := "order-" + from + "-"
			for i := range n {
				r := agent.Next(t, func(r nodeclient.Report) bool {
					s, _ := firstArg(r)
					return r.ID == id && r.Event == "receive_message" && strings.HasPrefix(s, prefix)
				}, nodeclient.DefaultTimeout)
				if got, want := r.Args[0], fmt.Sprintf("%s%03d", prefix, i); got != want {
					t.Fatalf("%s: got %v, want %s", id, got, want)
				}
			}
		}
	}
}

// expectNothingElse sends a last broadcast from each of senders: once
// every client has them all, any duplicate or stray message of the test
// has arrived too, and none may be left.
func expectNothingElse(t *testing.T, agent *nodeclient.Agent, senders, ids []string) {
	t.Helper()
	for _, from := range senders {
		agent.Emit(from, "send_message", "end-"+from)
	}
	for _, id := range ids {
		for _, from := range senders {
			waitPayload(t, agent, id, "end-"+from)
		}
	}
	agent.Sync(t)
	noOtherMessages(t, agent, ids)
}

// firstArg is a report's first argument as a string.
func firstArg(r nodeclient.Report) (string, bool) {
	if len(r.Args) == 0 {
		return "", false
	}
	s, ok := r.Args[0].(string)
	return s, ok
}

// TestClusterRedisOutage kills the cluster's Redis in the middle of a
// test and starts it again, empty. While it is down each node serves its
// own clients (their broadcasts reach them, not the other node's: the
// documented loss), logs the outage once, shows it in /readyz as
// cluster.on_outage says and in eventrouter_cluster_redis_up, and fails
// room_size() rather than count one node. Once Redis is back, broadcasts
// cross nodes again and none is lost.
func TestClusterRedisOutage(t *testing.T) {
	redis := redistest.Start(t)
	prefix := redistest.Prefix(t)
	nodes := map[string]*daemon{
		"a": bootNode(t, "testdata/cluster.yaml", redis.URL(), prefix, "node-a"), // on_outage: degraded
		"b": bootNode(t, "testdata/cluster.yaml", redis.URL(), prefix, "node-b", "EVENTROUTER_CLUSTER_ON_OUTAGE=not_ready"),
	}
	for _, d := range nodes {
		waitLog(t, d.Logs, "cluster: Redis is reachable")
	}
	agent := nodeclient.Start(t)
	ids := []string{"a1", "a2", "b1"}
	for _, id := range ids {
		agent.Connect(id, nodes[id[:1]].URL, map[string]any{"transports": []string{"websocket"}})
	}
	for _, id := range ids {
		agent.WaitConnect(t, id)
	}
	agent.Emit("a1", "send_message", "before")
	for _, id := range ids {
		waitPayload(t, agent, id, "before")
	}

	redis.Kill()
	for _, d := range nodes {
		waitLogs(t, d.Logs, "cluster: Redis is unreachable", 1, 10*time.Second)
	}
	const during = 20
	for i := range during {
		agent.Emit("a1", "send_message", fmt.Sprintf("during-a-%d", i))
		agent.Emit("b1", "send_message", fmt.Sprintf("during-b-%d", i))
	}
	for i := range during {
		waitPayload(t, agent, "a1", fmt.Sprintf("during-a-%d", i))
		waitPayload(t, agent, "a2", fmt.Sprintf("during-a-%d", i))
		waitPayload(t, agent, "b1", fmt.Sprintf("during-b-%d", i))
	}
	ack := agent.WaitAck(t, "a1", agent.EmitAck("a1", "count", "room"))
	if m, _ := ack.Args[0].(map[string]any); m["error"] == nil {
		t.Errorf("room_size during the outage answered %v, want an error", ack.Args)
	}
	if body := readyz(t, nodes["a"]); !strings.HasPrefix(body, "200 ready, degraded") {
		t.Errorf("/readyz of the degraded node: %q", body)
	}
	if body := readyz(t, nodes["b"]); !strings.HasPrefix(body, "503 not ready: cluster: Redis is unreachable") {
		t.Errorf("/readyz of the not_ready node: %q", body)
	}
	for name, d := range nodes {
		if v := metricValue(t, d.Router.Registry(), "eventrouter_cluster_redis_up", "node", "node-"+name); v != 0 {
			t.Errorf("node %s: eventrouter_cluster_redis_up = %v during the outage", name, v)
		}
		if n := d.Logs.FilterMessageSnippet("cluster: Redis is unreachable").Len(); n != 1 {
			t.Errorf("node %s logged the outage %d times, want once", name, n)
		}
	}
	if v := metricValue(t, nodes["a"].Router.Registry(), "eventrouter_cluster_unpublished_total", "node", "node-a"); v != during {
		t.Errorf("node a: eventrouter_cluster_unpublished_total = %v, want %d", v, during)
	}

	redis.Restart()
	for _, d := range nodes {
		waitLogs(t, d.Logs, "cluster: Redis is back", 1, 15*time.Second)
	}
	if body := readyz(t, nodes["b"]); !strings.HasPrefix(body, "200 ready") || strings.Contains(body, "degraded") {
		t.Errorf("/readyz after the outage: %q", body)
	}
	const after = 20
	for i := range after {
		agent.Emit("a1", "send_message", fmt.Sprintf("after-a-%d", i))
		agent.Emit("b1", "send_message", fmt.Sprintf("after-b-%d", i))
	}
	for i := range after {
		for _, id := range ids {
			waitPayload(t, agent, id, fmt.Sprintf("after-a-%d", i))
			waitPayload(t, agent, id, fmt.Sprintf("after-b-%d", i))
		}
	}
	agent.Sync(t)
	// What the outage lost: the other node's messages sent during it, and
	// nothing else.
	noOtherMessages(t, agent, ids)
}

// readyz is "CODE BODY" of d's /readyz.
func readyz(t *testing.T, d *daemon) string {
	t.Helper()
	rec := httptest.NewRecorder()
	d.Router.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	return fmt.Sprintf("%d %s", rec.Code, rec.Body.String())
}
