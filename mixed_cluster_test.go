package eventrouter_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/internal/redistest"
)

// startNodeServer runs testdata/cluster/node-server.mjs, a Node socket.io
// 4.8 server on @socket.io/redis-streams-adapter, in the cluster named
// prefix on the Redis at redisURL, and returns its URL. It stops with the
// test.
func startNodeServer(t *testing.T, redisURL, prefix string, extraEnv ...string) string {
	t.Helper()
	root := nodeclient.EnsureInstalled(t)
	cmd := exec.Command("node", "testdata/cluster/node-server.mjs")
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "PORT=0", "REDIS_URL="+redisURL, "PREFIX="+prefix), extraEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Node server: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("node-server stderr:\n%s", stderr.String())
		}
	})
	ports := make(chan int, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var line struct{ Port int }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Port > 0 {
				ports <- line.Port
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case port := <-ports:
		return fmt.Sprintf("http://127.0.0.1:%d", port)
	case <-done:
		t.Fatalf("the Node server exited before listening:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the Node server did not listen in 30s:\n%s", stderr.String())
	}
	return ""
}

// TestMixedCluster: two eventrouter nodes and a Node socket.io 4.8 server
// on @socket.io/redis-streams-adapter share one Redis, as a team migrating
// one node at a time runs them. Broadcasts and room messages from either
// side reach the clients of both, each once; eventrouter's room_size()
// counts the Node server's sockets too.
func TestMixedCluster(t *testing.T) {
	url, prefix := redistest.Shared(t), redistest.Prefix(t)
	urls := map[string]string{
		"a": bootNode(t, "testdata/cluster.yaml", url, prefix, "node-a").URL,
		"b": bootNode(t, "testdata/cluster.yaml", url, prefix, "node-b").URL,
		"n": startNodeServer(t, url, prefix),
	}
	agent := nodeclient.Start(t)
	ids := []string{"a1", "b1", "n1", "n2"}
	for i, id := range ids {
		transports := []string{"websocket"}
		if i%2 == 1 {
			transports = []string{"polling"}
		}
		agent.Connect(id, urls[id[:1]], map[string]any{"transports": transports})
	}
	for _, id := range ids {
		agent.WaitConnect(t, id)
	}
	for _, id := range []string{"a1", "n2"} {
		agent.WaitAck(t, id, agent.EmitAck(id, "join", "room"))
	}
	post := func(base string) func(string) {
		return func(p string) {
			resp, err := http.Post(base+"/broadcast", "application/json", strings.NewReader(fmt.Sprintf("%q", p)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("POST %s/broadcast: %d", base, resp.StatusCode)
			}
		}
	}
	runDeliveryCases(t, agent, []deliveryCase{
		{"eventrouter broadcast", func(p string) { agent.Emit("a1", "send_message", p) }, ids},
		{"Node broadcast", func(p string) { agent.Emit("n1", "send_message", p) }, ids},
		{"eventrouter to a room with a Node socket", func(p string) {
			agent.Emit("b1", "to_room", map[string]any{"room": "room", "data": p})
		}, []string{"a1", "n2"}},
		{"Node to a room with an eventrouter socket", func(p string) {
			agent.Emit("n1", "to_room", map[string]any{"room": "room", "data": p})
		}, []string{"a1", "n2"}},
		{"Node HTTP broadcast", post(urls["n"]), ids},
		{"eventrouter HTTP broadcast", post(urls["b"]), ids},
	})
	t.Run("room_size counts the Node server's sockets", func(t *testing.T) {
		if got := agent.WaitAck(t, "b1", agent.EmitAck("b1", "count", "room")).Args; len(got) != 1 || got[0] != 2.0 {
			t.Errorf("room_size(room) = %v, want 2 (a1 on eventrouter, n2 on Node)", got)
		}
	})
	t.Run("in order per sender, both ways", func(t *testing.T) {
		expectInOrder(t, agent, []string{"n1", "a1"}, ids, 50)
	})
	expectNothingElse(t, agent, []string{"a1", "n1"}, ids)
}
