package eventrouter_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/nats"
	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
)

// startNATS runs a real NATS server in the test process, on a random
// loopback port, until the test ends.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	return startNATSOn(t, server.RANDOM_PORT)
}

// startNATSOn is startNATS on a given loopback port.
func startNATSOn(t *testing.T, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// natsConfig writes examples/nats/config.yaml, pointed at srv and with
// edit applied, into a temporary directory, and returns its path.
func natsConfig(t *testing.T, srv *server.Server, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile("examples/nats/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "nats://127.0.0.1:4222", srv.ClientURL(), 1)
	if !strings.Contains(text, srv.ClientURL()) {
		t.Fatal("examples/nats/config.yaml no longer sets plugins.nats.url to nats://127.0.0.1:4222")
	}
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// natsName is the connection name of rs's nats plugin.
func natsName(rs *rules.Ruleset) string {
	if c, ok := rs.PluginConfig("nats").(*nats.Config); ok {
		return c.Name
	}
	return nats.DefaultConfig().Name
}

// daemonConn returns the server's view of the daemon's connection (named
// eventrouter by the example), with its subscriptions, or nil.
func daemonConn(t *testing.T, srv *server.Server) *server.ConnInfo {
	t.Helper()
	return connOf(t, srv, "eventrouter")
}

// connOf returns the server's view of the connection named name, with
// its subscriptions, or nil.
func connOf(t *testing.T, srv *server.Server, name string) *server.ConnInfo {
	t.Helper()
	cz, err := srv.Connz(&server.ConnzOptions{Subscriptions: true})
	if err != nil {
		t.Fatalf("connz: %v", err)
	}
	for _, c := range cz.Conns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// waitSubs waits until the daemon's connection has exactly the
// subscriptions want, and returns the connection.
func waitSubs(t *testing.T, srv *server.Server, want ...string) *server.ConnInfo {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := daemonConn(t, srv)
		var got []string
		if c != nil {
			got = slices.Sorted(slices.Values(c.Subs))
		}
		if c != nil && reflect.DeepEqual(got, want) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon's NATS subscriptions = %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond) // polling the server's state, not synchronising with it
	}
}

// TestNATSEndToEnd runs examples/nats against a real NATS server and the
// official Node client: a message published on NATS reaches Socket.IO
// clients through nats: rules, a socket event reaches a NATS subscriber
// through nats_publish, and a reload that changes the subjects changes
// the subscriptions on the same connection.
func TestNATSEndToEnd(t *testing.T) {
	srv := startNATS(t)
	d := boot(t, natsConfig(t, srv, nil))
	first := waitSubs(t, srv, "orders.*.*", "alerts.>")

	nc, err := natsgo.Connect(srv.ClientURL(), natsgo.Name("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	agent := nodeclient.Start(t)
	agent.Connect("eu", d.URL, map[string]any{"transports": []string{"websocket"}})
	agent.Connect("us", d.URL, map[string]any{"transports": []string{"polling"}})
	agent.WaitConnect(t, "eu")
	agent.WaitConnect(t, "us")
	agent.WaitAck(t, "eu", agent.EmitAck("eu", "watch", "eu"))
	agent.WaitAck(t, "us", agent.EmitAck("us", "watch", "us"))

	// NATS to Socket.IO: only the region's watchers get an order.
	if err := nc.Publish("orders.eu.new", []byte(`{"id": 7, "total": 12.5}`)); err != nil {
		t.Fatal(err)
	}
	got := agent.WaitEvent(t, "eu", "order")
	if want := []any{"new", map[string]any{"id": 7.0, "total": 12.5}}; !reflect.DeepEqual(got.Args, want) {
		t.Errorf("order = %#v, want %#v", got.Args, want)
	}
	// A plain-text payload is a string; alerts reach everyone.
	if err := nc.Publish("alerts.disk.full", []byte("disk 95% full")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"eu", "us"} {
		got := agent.WaitEvent(t, id, "alert")
		if want := []any{"alerts.disk.full", "disk 95% full"}; !reflect.DeepEqual(got.Args, want) {
			t.Errorf("%s: alert = %#v, want %#v", id, got.Args, want)
		}
	}
	// The us client got no order: its next event is the alert above.
	for _, r := range agent.Pending("us") {
		if r.Event == "order" {
			t.Errorf("us got an order of region eu: %v", r)
		}
	}
	waitLog(t, d.Logs, "alert on alerts.disk.full")

	// Socket.IO to NATS.
	sub, err := nc.SubscribeSync("chat.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	agent.WaitAck(t, "eu", agent.EmitAck("eu", "chat", map[string]any{"room": "lobby", "text": "hi"}))
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no chat message on NATS: %v", err)
	}
	var payload map[string]any
	if err := json.Unmarshal(msg.Data, &payload); err != nil {
		t.Fatalf("chat payload %q: %v", msg.Data, err)
	}
	if msg.Subject != "chat.lobby" || payload["text"] != "hi" || payload["from"] == "" {
		t.Errorf("chat message on %s = %s", msg.Subject, msg.Data)
	}

	// A reload that moves the orders to shipments and drops the alerts
	// changes the subscriptions of the same connection.
	rs, err := rules.Load(natsConfig(t, srv, func(s string) string {
		s = strings.Replace(s, `"nats:orders.*.*"`, `"nats:shipments.*.*"`, 1)
		return strings.Replace(s, `"nats:alerts.>"`, `"nats:alerts.critical"`, 1)
	}), d.Router.Runtime().Rules.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Router.Reload(rs, ""); err != nil {
		t.Fatal(err)
	}
	after := waitSubs(t, srv, "shipments.*.*", "alerts.critical")
	if after.Cid != first.Cid {
		t.Errorf("the reload reconnected: connection %d, was %d", after.Cid, first.Cid)
	}
	if err := nc.Publish("shipments.eu.sent", []byte(`{"id": 8}`)); err != nil {
		t.Fatal(err)
	}
	got = agent.WaitEvent(t, "eu", "order")
	if want := []any{"sent", map[string]any{"id": 8.0}}; !reflect.DeepEqual(got.Args, want) {
		t.Errorf("order after reload = %#v, want %#v", got.Args, want)
	}
	if n := len(d.Logs.FilterMessageSnippet("reconnected").All()); n != 0 {
		t.Errorf("%d reconnections logged", n)
	}
}

// TestNATSServerRestart: when the NATS server goes away and comes back on
// the same address, the daemon's connection (nats.go's reconnect) logs
// the loss, comes back with its subscriptions, and messages flow again.
func TestNATSServerRestart(t *testing.T) {
	srv := startNATS(t)
	port := srv.Addr().(*net.TCPAddr).Port
	d := boot(t, natsConfig(t, srv, func(s string) string {
		return strings.Replace(s, "    name: eventrouter\n", "    name: eventrouter\n    reconnect_wait: 20ms\n", 1)
	}))
	waitSubs(t, srv, "orders.*.*", "alerts.>")
	agent := nodeclient.Start(t)
	agent.Connect("c", d.URL, map[string]any{"transports": []string{"websocket"}})
	agent.WaitConnect(t, "c")

	srv.Shutdown()
	srv.WaitForShutdown()
	waitLog(t, d.Logs, "source failed")
	again := startNATSOn(t, port)
	waitSubs(t, again, "orders.*.*", "alerts.>")
	waitLog(t, d.Logs, "nats: reconnected to")

	nc, err := natsgo.Connect(again.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := nc.Publish("alerts.back", []byte(`"up again"`)); err != nil {
		t.Fatal(err)
	}
	if got := agent.WaitEvent(t, "c", "alert"); !reflect.DeepEqual(got.Args, []any{"alerts.back", "up again"}) {
		t.Errorf("alert after the restart = %#v", got.Args)
	}
}
