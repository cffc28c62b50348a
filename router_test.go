package eventrouter_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// daemon is an eventrouter booted in-process from a config file on a random
// loopback port.
type daemon struct {
	URL    string
	Logs   *observer.ObservedLogs
	Router *router.Router
}

// boot loads path exactly as the daemon does and serves it until the test
// ends.
func boot(t *testing.T, path string) *daemon {
	t.Helper()
	return bootWith(t, path, router.Options{})
}

// bootWith is boot with router options; their Logger is replaced by one
// that records into daemon.Logs.
func bootWith(t *testing.T, path string, opts router.Options) *daemon {
	t.Helper()
	return bootStandIns(t, path, nil, opts)
}

// bootStandIns is bootWith with the config's secrets replaced by standIns,
// as rule tests load it (rules.LoadOptions.StandIns); nil reads them.
func bootStandIns(t *testing.T, path string, standIns map[string]any, opts router.Options) *daemon {
	t.Helper()
	return bootLoaded(t, path, rules.LoadOptions{Environ: func() []string { return nil }, StandIns: standIns}, opts)
}

// bootLoaded is boot with the config loaded under lopts (its environment,
// its stand-ins).
func bootLoaded(t *testing.T, path string, lopts rules.LoadOptions, opts router.Options) *daemon {
	t.Helper()
	lopts.Environ = withTestEngine(lopts.Environ)
	rs, err := rules.Load(path, builtin.Registry(), lopts)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	core, logs := observer.New(zap.DebugLevel)
	opts.Logger = zap.New(core)
	r, err := router.New(rs, opts)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("daemon log: %s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return &daemon{URL: "http://" + ln.Addr().String(), Logs: logs, Router: r}
}

// withTestEngine adds to environ, when ERTEST_SOCKETIO_ENGINE names an
// engine, the override that runs every booted daemon on it, so that the
// whole suite runs on either engine while the library's is kept (test.sh
// runs it on both): ERTEST_SOCKETIO_ENGINE=library go test .
func withTestEngine(environ func() []string) func() []string {
	name := os.Getenv("ERTEST_SOCKETIO_ENGINE")
	if name == "" {
		return environ
	}
	return func() []string {
		var env []string
		if environ != nil {
			env = environ()
		}
		return append(env, rules.EnvPrefix+"SOCKETIO_ENGINE="+name)
	}
}

// transportCases are the three ways a client reaches the server.
var transportCases = []struct {
	name string
	opts map[string]any
	want string // transport in use once connected and upgraded
}{
	{"websocket", map[string]any{"transports": []string{"websocket"}}, "websocket"},
	{"polling", map[string]any{"transports": []string{"polling"}}, "polling"},
	{"upgrade", map[string]any{"transports": []string{"polling", "websocket"}}, "websocket"},
}

// TestDefaultConfigChat proves the shipped config.yaml relays send_message
// to every client, the sender included, with identical data, over every
// transport, and logs what the original server logged.
func TestDefaultConfigChat(t *testing.T) {
	d := boot(t, "config.yaml")
	agent := nodeclient.Start(t)
	payloads := []any{
		"こんにちは",
		map[string]any{"user": "ann", "text": "hi", "n": 3.5, "tags": []any{"a", "b"}, "nested": map[string]any{"ok": true, "nil": nil}},
		[]any{1.0, "two", false},
		42.0,
	}
	for _, tc := range transportCases {
		t.Run(tc.name, func(t *testing.T) {
			ids := []string{tc.name + "-a", tc.name + "-b", tc.name + "-c"}
			for _, id := range ids {
				agent.Connect(id, d.URL, tc.opts)
			}
			for _, id := range ids {
				agent.WaitConnect(t, id)
			}
			if tc.name == "upgrade" {
				for _, id := range ids {
					agent.Next(t, func(r nodeclient.Report) bool {
						return r.ID == id && (r.Type == nodeclient.TypeUpgrade || r.Type == nodeclient.TypeConnect && r.Transport == "websocket")
					}, nodeclient.DefaultTimeout)
				}
			}
			for _, p := range payloads {
				agent.Emit(ids[0], "send_message", p)
				for _, id := range ids {
					got := agent.WaitEvent(t, id, "receive_message")
					if !reflect.DeepEqual(got.Args, []any{p}) {
						t.Errorf("%s got %#v, want %#v", id, got.Args, []any{p})
					}
				}
			}
			for _, id := range ids {
				agent.Disconnect(id)
			}
		})
	}
	waitLog(t, d.Logs, "client connected: ")
	waitLog(t, d.Logs, "受信メッセージ: こんにちは")
	waitLog(t, d.Logs, `受信メッセージ: {"n":3.5,"nested":{"nil":null,"ok":true},"tags":["a","b"],"text":"hi","user":"ann"}`)
	waitLog(t, d.Logs, "client disconnected: ")
	for _, e := range d.Logs.FilterMessageSnippet("受信メッセージ").All() {
		if e.ContextMap()["rule"] != "chat" || e.ContextMap()["socket"] == "" {
			t.Errorf("log line %q lacks rule/socket fields: %v", e.Message, e.ContextMap())
		}
	}
}

// waitLog waits for a log line containing snippet.
func waitLog(t *testing.T, logs *observer.ObservedLogs, snippet string) {
	t.Helper()
	waitLogs(t, logs, snippet, 1, 5*time.Second)
}

// waitLogs waits, at most timeout, for n log lines containing snippet.
func waitLogs(t *testing.T, logs *observer.ObservedLogs, snippet string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for logs.FilterMessageSnippet(snippet).Len() < n {
		if time.Now().After(deadline) {
			var all []string
			for _, e := range logs.All() {
				all = append(all, e.Message)
			}
			t.Fatalf("no log line contains %q; got:\n%s", snippet, strings.Join(all, "\n"))
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline, not synchronisation by delay
	}
}

// TestDefaultConfigPost proves POST /post answers like the Express route,
// with CORS, and that bad bodies get clear errors.
func TestDefaultConfigPost(t *testing.T) {
	d := boot(t, "config.yaml")
	big := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
	cases := []struct {
		name       string
		method     string
		body       string
		headers    map[string]string
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{"echo", "POST", `{"name":"太郎","n":1}`, map[string]string{"Content-Type": "application/json", "Origin": "http://example.com"}, 200,
			`{"message":"受け取りました","received":{"n":1,"name":"太郎"}}`, map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"preflight", "OPTIONS", "", map[string]string{"Origin": "http://example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}, 204,
			"", map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST"}},
		{"invalid json", "POST", `{"name":`, map[string]string{"Content-Type": "application/json"}, 400, `{"error":"invalid JSON body: unexpected EOF"}`, nil},
		{"too large", "POST", big, map[string]string{"Content-Type": "application/json"}, 413, `{"error":"request body larger than 1048576 bytes"}`, nil},
		{"wrong method", "GET", "", nil, 405, "", nil},
		{"unknown route", "POST", "{}", nil, 404, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/post"
			if tc.name == "unknown route" {
				path = "/nope"
			}
			req, _ := http.NewRequest(tc.method, d.URL+path, strings.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Errorf("body %s, want %s", body, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	waitLog(t, d.Logs, `POST受信: {"n":1,"name":"太郎"}`)
}

// TestActionsEndToEnd drives every built-in action through the official
// Node client, in / and in a custom namespace.
func TestActionsEndToEnd(t *testing.T) {
	d := boot(t, "testdata/e2e.yaml")
	a := nodeclient.Start(t)
	ws := map[string]any{"transports": []string{"websocket"}}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{"transports": []string{"websocket"}}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}

	t.Run("connection emits handshake auth", func(t *testing.T) {
		a.Connect("auth", d.URL, with(map[string]any{"auth": map[string]any{"token": "abc", "n": 1}}))
		got := a.WaitEvent(t, "auth", "auth")
		want := []any{map[string]any{"token": "abc", "n": 1.0}}
		if !reflect.DeepEqual(got.Args, want) {
			t.Errorf("auth event %#v, want %#v", got.Args, want)
		}
	})

	bin := []byte{0, 1, 2, 250, 255, 10, 13}
	echoCases := []struct {
		name string
		ns   string
		args []any
	}{
		{"several args", "", []any{"a", 2.0, map[string]any{"k": []any{true, nil}}}},
		{"no args", "", []any{}},
		{"binary", "", []any{bin, map[string]any{"nested": bin}}},
		{"custom namespace", "/admin", []any{"x", 1.0}},
	}
	for i, tc := range echoCases {
		t.Run("echo "+tc.name, func(t *testing.T) {
			id := fmt.Sprintf("echo%d", i)
			opts := ws
			if tc.ns == "/admin" {
				opts = with(map[string]any{"auth": map[string]any{"token": "letmein"}})
			}
			a.Connect(id, d.URL+tc.ns, opts)
			a.WaitConnect(t, id)
			seq := a.EmitAck(id, "echo_this", tc.args...)
			ack := a.WaitAck(t, id, seq)
			if !equalArgs(ack.Args, tc.args) {
				t.Errorf("ack args %#v, want %#v", ack.Args, tc.args)
			}
			ev := a.WaitEvent(t, id, "echoed:echo_this")
			if !equalArgs(ev.Args, tc.args) {
				t.Errorf("echoed args %#v, want %#v", ev.Args, tc.args)
			}
		})
	}

	t.Run("reject reaches connect_error", func(t *testing.T) {
		a.Connect("bad", d.URL+"/admin", with(map[string]any{"auth": map[string]any{"token": "nope"}}))
		r := a.WaitConnectError(t, "bad")
		if r.Message != "unauthorized" || !reflect.DeepEqual(r.Data, map[string]any{"code": 401.0}) {
			t.Errorf("connect_error %q %#v, want unauthorized {code:401}", r.Message, r.Data)
		}
	})

	t.Run("undeclared namespace", func(t *testing.T) {
		a.Connect("nons", d.URL+"/nowhere", ws)
		if r := a.WaitConnectError(t, "nons"); r.Message != "Invalid namespace" {
			t.Errorf("connect_error %q, want Invalid namespace", r.Message)
		}
	})

	t.Run("rooms state and others", func(t *testing.T) {
		a.Connect("r1", d.URL, with(map[string]any{"query": map[string]any{"nick": "ann"}}))
		a.Connect("r2", d.URL, ws)
		a.Connect("r3", d.URL, ws)
		for _, id := range []string{"r1", "r2", "r3"} {
			a.WaitConnect(t, id)
		}
		seq := a.EmitAck("r1", "whoami")
		ack := a.WaitAck(t, "r1", seq)
		if len(ack.Args) != 2 || ack.Args[0] != "ann" || !containsString(ack.Args[1], "lobby") {
			t.Errorf("whoami %#v, want [ann, rooms with lobby]", ack.Args)
		}
		for _, id := range []string{"r1", "r2"} {
			seq := a.EmitAck(id, "join", "blue")
			a.WaitAck(t, id, seq)
		}
		a.Emit("r1", "say", map[string]any{"room": "blue", "text": "hello blue"})
		for _, id := range []string{"r1", "r2"} {
			got := a.WaitEvent(t, id, "said")
			if want := []any{"hello blue", "ann"}; !reflect.DeepEqual(got.Args, want) {
				t.Errorf("%s said %#v, want %#v", id, got.Args, want)
			}
		}
		a.Emit("r3", "shout", "hey")
		for _, id := range []string{"r1", "r2"} {
			a.WaitEvent(t, id, "shouted")
		}
		// r3 must not hear its own shout: a marker sent after it arrives first.
		a.Emit("r1", "shout", "marker")
		got := a.WaitEvent(t, "r3", "shouted")
		if got.Args[0] != "marker" {
			t.Errorf("r3 heard %v, want only the marker", got.Args)
		}
	})

	t.Run("rule error keeps other rules and clients", func(t *testing.T) {
		a.Connect("boom", d.URL, ws)
		a.WaitConnect(t, "boom")
		a.Emit("boom", "boom", "text")
		got := a.WaitEvent(t, "boom", "survived")
		if got.Args[0] != "text" {
			t.Errorf("survived %v", got.Args)
		}
		waitLog(t, d.Logs, "rule failed")
		e := d.Logs.FilterMessage("rule failed").All()[0].ContextMap()
		if e["rule"] != "boom" || e["event"] != "boom" || e["socket"] == "" {
			t.Errorf("rule failed log fields %v", e)
		}
	})

	t.Run("binary broadcast reaches websocket and polling clients", func(t *testing.T) {
		a.Connect("bw", d.URL, ws)
		a.Connect("bp", d.URL, map[string]any{"transports": []string{"polling"}})
		a.WaitConnect(t, "bw")
		a.WaitConnect(t, "bp")
		payload := []byte{7, 0, 255, 1}
		a.Emit("bw", "relay_bin", payload)
		for _, id := range []string{"bw", "bp"} {
			got := a.WaitEvent(t, id, "bin")
			if want := []any{payload, "tail"}; !reflect.DeepEqual(got.Args, want) {
				t.Errorf("%s got %#v, want %#v", id, got.Args, want)
			}
		}
	})

	t.Run("events handled in order", func(t *testing.T) {
		a.Connect("order", d.URL, ws)
		a.WaitConnect(t, "order")
		const n = 300
		for i := 0; i < n; i++ {
			a.Emit("order", "echo_seq", float64(i))
		}
		for i := 0; i < n; i++ {
			got := a.WaitEvent(t, "order", "echoed:echo_seq")
			if got.Args[0] != float64(i) {
				t.Fatalf("event %d arrived as %v", i, got.Args[0])
			}
		}
	})
}

func equalArgs(got, want []any) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

func containsString(list any, s string) bool {
	items, _ := list.([]any)
	for _, it := range items {
		if it == s {
			return true
		}
	}
	return false
}
