package eventrouter_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/internal/redistest"
	"golang.org/x/crypto/bcrypt"
)

// adminPassword is the Admin UI password of the tests.
const adminPassword = "s3cret-pass"

// adminRules are the chat rules the Admin UI tests watch.
const adminRules = `
rules:
  - name: hello
    namespace: /chat
    on: connection
    do:
      - 'set("nick", socket.handshake.query.nick)'
      - join("lobby")
  - name: join
    namespace: /chat
    on: join
    do: [join(data)]
  - name: leave
    namespace: /chat
    on: leave
    do: [leave(data)]
  - name: say
    namespace: /chat
    on: say
    do: ['emit("said", data)']
`

// bootAdmin boots a daemon with namespaces / and /chat, the chat rules and
// the admin_ui block given (YAML, without the admin_ui: line; empty leaves
// admin_ui out).
func bootAdmin(t *testing.T, adminUI string) *daemon {
	t.Helper()
	cfg := "namespaces: [\"/\", \"/chat\"]\n"
	if adminUI != "" {
		cfg += "admin_ui:\n" + adminUI + "\n"
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg+adminRules), 0o600); err != nil {
		t.Fatal(err)
	}
	return boot(t, path)
}

// adminHash is a bcrypt hash of adminPassword, at the lowest cost so the
// tests stay fast.
func adminHash(t *testing.T) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// adminLogin is the Node client option that logs in to the Admin UI.
func adminLogin(user, password string) map[string]any {
	return map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"username": user, "password": password}}
}

// nextAdminEvent returns the next greeting event (session, config,
// all_sockets) socket id got, or its disconnection; the live events
// (its own room_joined among them) and server_stats are skipped.
func nextAdminEvent(t *testing.T, a *nodeclient.Agent, id string) nodeclient.Report {
	t.Helper()
	greeting := []string{"session", "config", "all_sockets"}
	return a.Next(t, func(r nodeclient.Report) bool {
		return r.ID == id && (r.Type == nodeclient.TypeEvent && slices.Contains(greeting, r.Event) || r.Type == nodeclient.TypeConnectError || r.Type == nodeclient.TypeDisconnect)
	}, nodeclient.DefaultTimeout)
}

// waitAdmin waits for event ev on id whose arguments satisfy match.
func waitAdmin(t *testing.T, a *nodeclient.Agent, id, ev string, match func(args []any) bool) nodeclient.Report {
	t.Helper()
	return a.Next(t, func(r nodeclient.Report) bool {
		return r.ID == id && r.Type == nodeclient.TypeEvent && r.Event == ev && (match == nil || match(r.Args))
	}, nodeclient.DefaultTimeout)
}

// argsAre reports whether args start with want (strings compared).
func argsAre(want ...any) func([]any) bool {
	return func(args []any) bool {
		if len(args) < len(want) {
			return false
		}
		for i, w := range want {
			if args[i] != w {
				return false
			}
		}
		return true
	}
}

// socketByID finds a serialised socket in an all_sockets list.
func socketByID(list []any, id string) map[string]any {
	for _, item := range list {
		if m, ok := item.(map[string]any); ok && m["id"] == id {
			return m
		}
	}
	return nil
}

// roomsOf is a serialised socket's rooms.
func roomsOf(s map[string]any) []string {
	var out []string
	for _, r := range s["rooms"].([]any) {
		out = append(out, r.(string))
	}
	slices.Sort(out)
	return out
}

// TestAdminUIOffByDefault proves that without admin_ui there is no admin
// namespace.
func TestAdminUIOffByDefault(t *testing.T) {
	d := bootAdmin(t, "")
	a := nodeclient.Start(t)
	a.Connect("admin", d.URL+"/admin", adminLogin("admin", adminPassword))
	if r := a.WaitConnectError(t, "admin"); r.Message != "Invalid namespace" {
		t.Fatalf("connect_error %q, want Invalid namespace", r.Message)
	}
}

// TestAdminUILogin covers instrument()'s basic authentication: a wrong
// username or password is refused with "invalid credentials"; the right
// ones get "session", then "config", then "all_sockets"; the session id
// logs in again without the password, and an unknown one does not.
func TestAdminUILogin(t *testing.T) {
	d := bootAdmin(t, "  enabled: true\n  auth: {username: admin, password_hash: \""+adminHash(t)+"\"}")
	a := nodeclient.Start(t)
	for _, tc := range []struct {
		name string
		auth map[string]any
	}{
		{"wrong password", adminLogin("admin", "nope")},
		{"wrong user", adminLogin("root", adminPassword)},
		{"no auth", map[string]any{"transports": []string{"websocket"}}},
		{"unknown session", map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"sessionId": "0123456789abcdef"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.Connect(tc.name, d.URL+"/admin", tc.auth)
			if r := a.WaitConnectError(t, tc.name); r.Message != "invalid credentials" {
				t.Fatalf("connect_error %q, want invalid credentials", r.Message)
			}
		})
	}

	a.Connect("admin", d.URL+"/admin", adminLogin("admin", adminPassword))
	a.WaitConnect(t, "admin")
	var session string
	for i, want := range []string{"session", "config", "all_sockets"} {
		r := nextAdminEvent(t, a, "admin")
		if r.Type != nodeclient.TypeEvent || r.Event != want {
			t.Fatalf("message %d: got %s, want event %s", i, r, want)
		}
		if want == "session" {
			session, _ = r.Args[0].(string)
		}
	}
	if len(session) < 16 {
		t.Fatalf("session id %q is too short", session)
	}
	a.Connect("again", d.URL+"/admin", map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"sessionId": session}})
	a.WaitConnect(t, "again")
	if r := nextAdminEvent(t, a, "again"); r.Event != "config" {
		t.Fatalf("after a session login: got %s, want config (no new session)", r)
	}

	// Guessing is throttled per address, before the password is checked:
	// 10 tries at once (5 are spent above), then the right password is
	// refused too, and a session id still logs in.
	throttled := false
	for i := 0; i < 10 && !throttled; i++ {
		id := fmt.Sprintf("guess-%d", i)
		a.Connect(id, d.URL+"/admin", adminLogin("admin", fmt.Sprintf("guess %d", i)))
		switch r := a.WaitConnectError(t, id); r.Message {
		case "too many login attempts, try again later":
			throttled = true
		case "invalid credentials":
		default:
			t.Fatalf("guess %d: connect_error %q", i, r.Message)
		}
	}
	if !throttled {
		t.Fatal("10 more wrong passwords from one address were never throttled")
	}
	a.Connect("right-but-throttled", d.URL+"/admin", adminLogin("admin", adminPassword))
	if r := a.WaitConnectError(t, "right-but-throttled"); r.Message != "too many login attempts, try again later" {
		t.Errorf("the right password while throttled: connect_error %q", r.Message)
	}
	a.Connect("session-while-throttled", d.URL+"/admin", map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"sessionId": session}})
	a.WaitConnect(t, "session-while-throttled")
}

// TestAdminUIDevelopment drives the admin namespace as the UI does: the
// features, the socket list with rooms, handshake and state, server
// stats, the live events of a chat client, and the join, leave, emit and
// disconnect actions.
func TestAdminUIDevelopment(t *testing.T) {
	d := bootAdmin(t, "  enabled: true\n  auth: {username: admin, password_hash: \""+adminHash(t)+"\"}\n  server_id: node-a")
	a := nodeclient.Start(t)
	a.Connect("c1", d.URL+"/chat", map[string]any{"transports": []string{"websocket"}, "query": map[string]any{"nick": "ann"}, "extraHeaders": map[string]any{"X-Test": "yes"}})
	c1 := a.WaitConnect(t, "c1").SID

	a.Connect("admin", d.URL+"/admin", adminLogin("admin", adminPassword))
	a.WaitConnect(t, "admin")
	cfg := waitAdmin(t, a, "admin", "config", nil)
	features, _ := cfg.Args[0].(map[string]any)["supportedFeatures"].([]any)
	for _, f := range []any{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"} {
		if !slices.Contains(features, f) {
			t.Errorf("supportedFeatures %v lacks %s", features, f)
		}
	}
	all := waitAdmin(t, a, "admin", "all_sockets", nil).Args[0].([]any)
	s := socketByID(all, c1)
	if s == nil {
		t.Fatalf("all_sockets has no socket %s: %v", c1, all)
	}
	if got, want := roomsOf(s), []string{c1, "lobby"}; !slices.Equal(got, sortedCopy(want)) {
		t.Errorf("rooms %v, want %v", got, want)
	}
	hs := s["handshake"].(map[string]any)
	if s["nsp"] != "/chat" || s["transport"] != "websocket" || s["clientId"] == "" {
		t.Errorf("socket %v: want nsp /chat, transport websocket and a clientId", s)
	}
	if hs["address"] != "127.0.0.1" || hs["query"].(map[string]any)["nick"] != "ann" || hs["headers"].(map[string]any)["x-test"] != "yes" {
		t.Errorf("handshake %v: want address 127.0.0.1, query nick ann, header x-test", hs)
	}
	if s["data"].(map[string]any)["nick"] != "ann" {
		t.Errorf("data %v: want the socket's state, nick ann", s["data"])
	}

	stats := waitAdmin(t, a, "admin", "server_stats", nil).Args[0].(map[string]any)
	if stats["serverId"] != "node-a" || stats["clientsCount"].(float64) < 2 {
		t.Errorf("server_stats %v: want serverId node-a and 2 clients", stats)
	}
	counts := map[string]float64{}
	for _, n := range stats["namespaces"].([]any) {
		m := n.(map[string]any)
		counts[m["name"].(string)] = m["socketsCount"].(float64)
	}
	if counts["/chat"] != 1 || counts["/admin"] != 1 {
		t.Errorf("server_stats namespaces %v: want /chat 1 and /admin 1", counts)
	}

	// A second client's life, live.
	a.Connect("c2", d.URL+"/chat", map[string]any{"transports": []string{"websocket"}, "query": map[string]any{"nick": "bob"}})
	c2 := a.WaitConnect(t, "c2").SID
	waitAdmin(t, a, "admin", "socket_connected", func(args []any) bool {
		m, _ := args[0].(map[string]any)
		return m["id"] == c2 && m["nsp"] == "/chat"
	})
	waitAdmin(t, a, "admin", "room_joined", argsAre("/chat", "lobby", c2))
	a.Emit("c2", "join", "r1")
	waitAdmin(t, a, "admin", "event_received", func(args []any) bool {
		ev, _ := args[2].([]any)
		return args[0] == "/chat" && args[1] == c2 && len(ev) == 2 && ev[0] == "join" && ev[1] == "r1"
	})
	waitAdmin(t, a, "admin", "room_joined", argsAre("/chat", "r1", c2))
	a.Emit("c2", "say", "hi")
	waitAdmin(t, a, "admin", "event_sent", func(args []any) bool {
		ev, _ := args[2].([]any)
		return args[0] == "/chat" && args[1] == c2 && len(ev) == 2 && ev[0] == "said" && ev[1] == "hi"
	})
	a.Emit("c2", "leave", "r1")
	waitAdmin(t, a, "admin", "room_left", argsAre("/chat", "r1", c2))

	// The UI's actions.
	a.Emit("admin", "join", "/chat", "vip", c1)
	waitAdmin(t, a, "admin", "room_joined", argsAre("/chat", "vip", c1))
	a.Emit("admin", "emit", "/chat", "vip", "news", "for vips")
	if r := a.WaitEvent(t, "c1", "news"); len(r.Args) != 1 || r.Args[0] != "for vips" {
		t.Errorf("c1 got news %v", r.Args)
	}
	a.Emit("admin", "emit", "/chat", "", "all", 1)
	a.WaitEvent(t, "c1", "all")
	a.WaitEvent(t, "c2", "all")
	if p := a.Pending("c2"); slices.ContainsFunc(p, func(r nodeclient.Report) bool { return r.Event == "news" }) {
		t.Errorf("c2 got the vip room's news")
	}
	a.Emit("admin", "leave", "/chat", "vip", c1)
	waitAdmin(t, a, "admin", "room_left", argsAre("/chat", "vip", c1))
	a.Emit("admin", "_disconnect", "/chat", false, c2)
	if r := a.WaitDisconnect(t, "c2"); r.Reason != "io server disconnect" {
		t.Errorf("c2 disconnect reason %q, want io server disconnect", r.Reason)
	}
	// The reason is the one the disconnect rules see: the server's, every
	// time, though the library may report the client's transport close
	// (the Node client closes its connection on a DISCONNECT for its only
	// socket) before its own.
	waitAdmin(t, a, "admin", "socket_disconnected", argsAre("/chat", c2, "server namespace disconnect"))
	// A client that starts on polling shows its upgrade.
	a.Connect("c3", d.URL+"/chat", map[string]any{"transports": []string{"polling", "websocket"}})
	c3 := a.WaitConnect(t, "c3").SID
	waitAdmin(t, a, "admin", "socket_connected", func(args []any) bool {
		m, _ := args[0].(map[string]any)
		return m["id"] == c3 && m["transport"] == "polling"
	})
	waitAdmin(t, a, "admin", "socket_updated", func(args []any) bool {
		m, _ := args[0].(map[string]any)
		return m["id"] == c3 && m["nsp"] == "/chat" && m["transport"] == "websocket"
	})

	a.Disconnect("c1")
	// The Node client closes its connection with the namespace: the
	// reason is whichever of the two the server sees first.
	waitAdmin(t, a, "admin", "socket_disconnected", argsAre("/chat", c1))
}

// sortedCopy is a sorted copy of s.
func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestAdminUIModes covers readonly (no actions announced or carried out)
// and production mode (no socket list, no live events), with the login
// turned off explicitly.
func TestAdminUIModes(t *testing.T) {
	tests := []struct {
		name       string
		settings   string
		wantAll    bool
		wantAction bool
	}{
		{"readonly", "  enabled: true\n  auth: {disabled: true}\n  readonly: true", true, false},
		{"production", "  enabled: true\n  auth: {disabled: true}\n  mode: production", false, true},
	}
	a := nodeclient.Start(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := bootAdmin(t, tc.settings)
			c, adm := tc.name+"-c", tc.name+"-admin"
			a.Connect(c, d.URL+"/chat", map[string]any{"transports": []string{"websocket"}})
			sid := a.WaitConnect(t, c).SID
			a.Connect(adm, d.URL+"/admin", map[string]any{"transports": []string{"websocket"}})
			a.WaitConnect(t, adm)
			features := waitAdmin(t, a, adm, "config", nil).Args[0].(map[string]any)["supportedFeatures"].([]any)
			if got := slices.Contains(features, "EMIT"); got != tc.wantAction {
				t.Errorf("features %v: EMIT %v, want %v", features, got, tc.wantAction)
			}
			if got := slices.Contains(features, "ALL_EVENTS"); got != tc.wantAll {
				t.Errorf("features %v: ALL_EVENTS %v, want %v", features, got, tc.wantAll)
			}
			a.Emit(adm, "emit", "/chat", sid, "poke")
			// Stats come every two seconds: by the second one after the
			// action, the action has long been handled or refused.
			waitAdmin(t, a, adm, "server_stats", nil)
			waitAdmin(t, a, adm, "server_stats", nil)
			poked := slices.ContainsFunc(a.Pending(c), func(r nodeclient.Report) bool { return r.Event == "poke" })
			if poked != tc.wantAction {
				t.Errorf("client poked: %v, want %v", poked, tc.wantAction)
			}
			sawAll := slices.ContainsFunc(a.Pending(adm), func(r nodeclient.Report) bool { return r.Event == "all_sockets" })
			if sawAll != tc.wantAll {
				t.Errorf("all_sockets sent: %v, want %v", sawAll, tc.wantAll)
			}
			for _, r := range a.Pending(adm) {
				if strings.HasPrefix(r.Event, "socket_") || strings.HasPrefix(r.Event, "room_") {
					if !tc.wantAll {
						t.Errorf("production mode sent %s", r)
					}
				}
			}
		})
	}
}

// TestAdminUICluster: in a cluster, an Admin UI connected to node A lists
// node B's sockets too, sees node B's stats and live events through the
// adapter, and its join and disconnect actions reach a socket on node B.
func TestAdminUICluster(t *testing.T) {
	url := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	admin := []string{"EVENTROUTER_ADMIN_UI_ENABLED=true", "EVENTROUTER_ADMIN_UI_AUTH_DISABLED=true"}
	nodeA := bootNode(t, "testdata/cluster.yaml", url, prefix, "node-a", admin...)
	nodeB := bootNode(t, "testdata/cluster.yaml", url, prefix, "node-b", admin...)
	for _, d := range []*daemon{nodeA, nodeB} {
		waitLog(t, d.Logs, "cluster: Redis is reachable")
	}
	a := nodeclient.Start(t)
	ws := map[string]any{"transports": []string{"websocket"}}
	a.Connect("a1", nodeA.URL, ws)
	a1 := a.WaitConnect(t, "a1").SID
	a.Connect("admin", nodeA.URL+"/admin", ws)
	a.WaitConnect(t, "admin")
	all := waitAdmin(t, a, "admin", "all_sockets", nil).Args[0].([]any)
	if socketByID(all, a1) == nil {
		t.Errorf("all_sockets %v lacks node A's socket %s", all, a1)
	}
	for _, id := range []string{"node-a", "node-b"} {
		waitAdmin(t, a, "admin", "server_stats", func(args []any) bool {
			m, _ := args[0].(map[string]any)
			return m["serverId"] == id
		})
	}

	// A second UI gets node B's sockets in its list too.
	a.Connect("b0", nodeB.URL, map[string]any{"transports": []string{"websocket"}, "query": map[string]any{"who": "b0"}})
	b0 := a.WaitConnect(t, "b0").SID
	a.Connect("admin2", nodeA.URL+"/admin", ws)
	all = waitAdmin(t, a, "admin2", "all_sockets", nil).Args[0].([]any)
	if socketByID(all, a1) == nil {
		t.Errorf("all_sockets %v lacks node A's socket %s", all, a1)
	}
	if s := socketByID(all, b0); s == nil {
		t.Errorf("all_sockets %v lacks node B's socket %s", all, b0)
	} else if rooms := roomsOf(s); !slices.Contains(rooms, b0) || s["nsp"] != "/" || s["handshake"].(map[string]any)["query"].(map[string]any)["who"] != "b0" {
		t.Errorf("node B's socket %v: want its own room, namespace / and query who=b0", s)
	}

	a.Connect("b1", nodeB.URL, ws)
	b1 := a.WaitConnect(t, "b1").SID
	waitAdmin(t, a, "admin", "socket_connected", func(args []any) bool {
		m, _ := args[0].(map[string]any)
		return m["id"] == b1
	})
	a.Emit("admin", "join", "/", "from-admin", b1)
	waitAdmin(t, a, "admin", "room_joined", argsAre("/", "from-admin", b1))
	a.Emit("admin", "_disconnect", "/", false, "from-admin")
	a.WaitDisconnect(t, "b1")
	waitAdmin(t, a, "admin", "socket_disconnected", argsAre("/", b1)) // the reason may be the transport close, see TestAdminUIDevelopment
}
