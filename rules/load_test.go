package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// noEnv keeps the test process's own EVENTROUTER_* variables out of a load.
var noEnv = rules.LoadOptions{Environ: func() []string { return nil }}

// TestLoadGood loads every testdata/*.good.yaml: each must load and compile.
func TestLoadGood(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.good.yaml")
	}
	for _, f := range append(files, "../config.yaml") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := rules.Load(f, builtin.Registry(), noEnv); err != nil {
				t.Errorf("Load(%s):\n%v", f, err)
			}
		})
	}
}

// badConfigs pairs every testdata/*.bad.yaml with exactly what Load
// reports for it, one line per problem in file order, each after the
// file's path: ":line:col: message".
var badConfigs = []struct {
	file string
	want []string
}{
	{"socket-limits.bad.yaml", []string{
		`:2:35: server.trusted_proxies: "10.0.0.300" is neither an IP address nor a CIDR such as 10.0.0.0/8`,
		`:2:49: server.trusted_proxies: "fd00::/129" is not a CIDR such as 10.0.0.0/8`,
		`:5:3: limits.events_burst: must be at least 1 while limits.events_per_second is set, got 0`,
		`:6:3: limits.on_exceed: want drop or disconnect, got "dorp", did you mean drop?`,
		`:7:3: limits.max_rooms_per_socket: must not be negative (0 means no limit), got -1`,
		`:11:5: rule "connected": limits: only a rule on a socket event can set limits, not one on connection`,
		`:15:5: rule "any": limits: a rule on * cannot set limits; set them on the rule of each event, or use limits.events_per_second`,
		`:19:14: rule "move": limits.events_per_second: must be a positive number of events per second, got 0`,
		`:19:36: rule "move": limits.events_burst: must not be negative, got -1`,
		`:27:5: rule "chat-again": limits: event "chat" in namespace / already has limits from rule "chat"; set them on one rule only`,
		`:27:14: rule "chat-again": unknown key limits.event_per_second, did you mean events_per_second?`,
	}},
	{"sources.bad.yaml", []string{
		`:2:3: plugins.nats: unknown key "urll", did you mean url?`,
		`:4:3: plugins: no plugin "natz" takes a config (plugins with one: nats), did you mean nats?`,
		`:8:5: rule "typo": on: unknown source "nast:", did you mean nats:?`,
		`:11:5: rule "wild": on: nats: subject "orders.>.new": > must be the last token`,
		`:14:5: rule "empty": on: nats: needs a pattern after the colon`,
		`:18:5: rule "ns": namespace: nats rules have no namespace`,
		`:20:9: rule "ns": do[0]: emit(event, args...) is only valid in socket event or connection rules, not in a source rule`,
		`:26:11: rule "subject-outside": when: subject is only set in source rules (on: "nats:SUBJECT"), not in a socket event rule`,
		`:28:13: rule "subject-outside": do[0]: meta is only set in source rules (on: "nats:SUBJECT"), not in a socket event rule`,
	}},
	{"static.bad.yaml", []string{
		`:5:7: server.static[1].path: must start with /, got "assets"`,
		`:7:7: server.static[2].path: "/a/../b" is not a clean path; write /b`,
		`:8:7: server.static[2].dir: no directory testdata/nowhere`,
		`:9:7: server.static[3].path: / is already served by server.static[0]`,
		`:10:7: server.static[3].dir: testdata/minimal.good.yaml is not a directory`,
		`:11:7: server.static[4].path: /socket.io/files is inside socketio.path /socket.io, which the Socket.IO server answers`,
		`:13:7: server.static[5].path: required: the URL path to serve the files under, such as / or /assets`,
		`:16:7: unknown key server.static[6].lst, did you mean list?`,
	}},
	{"unknown-key.bad.yaml", []string{
		":5:5: unknown key server.cors.methiods, did you mean methods?",
	}},
	{"unknown-rule-key.bad.yaml", []string{
		":8:5: rule \"second\": unknown key wen, did you mean when?",
	}},
	{"expr-nodes.bad.yaml", []string{
		":13:11: rule \"huge\": when: the expression is too large: it has more nodes than limits.expr_nodes allows",
		":16:9: rule \"huge\": do[1]: the expression is too large: it has more nodes than limits.expr_nodes allows",
	}},
	{"limits.bad.yaml", []string{
		":3:3: limits.expr_nodes: must not be negative (0 means no limit)",
		":4:3: limits.expr_memory: must not be negative (0 means no limit)",
	}},
	{"wrong-type.bad.yaml", []string{
		":2:3: server.listen: want a string, got the number 3000",
	}},
	{"duration-number.bad.yaml", []string{
		":2:3: socketio.ping_interval: want a duration with a unit such as \"10s\" or \"500ms\", got 5",
	}},
	{"duration-unit.bad.yaml", []string{
		":2:3: socketio.ping_timeout: want a duration such as \"10s\" or \"500ms\", got \"5 parsecs\"",
	}},
	{"size.bad.yaml", []string{
		":2:3: server.max_body: want a size such as 1048576, \"1MiB\" or \"512KB\", got \"lots\"",
	}},
	{"duplicate-name.bad.yaml", []string{
		":6:5: rule \"hello\": duplicate rule name, first used by the rule at line 2",
	}},
	{"missing-on-do.bad.yaml", []string{
		":2:5: rule \"no-trigger\": on: a trigger is required (an event name, connection, disconnect, * or METHOD /path)",
		":5:5: rule \"no-actions\": do: a rule needs at least one action",
	}},
	{"http-limits.bad.yaml", []string{
		":2:3: server.read_timeout: must be a positive duration",
		":4:3: limits.http_requests_per_second: must not be negative",
		":5:3: limits.http_burst: must not be negative",
	}},
	{"cluster.bad.yaml", []string{ // the URL's password never shows
		`:3:5: socketio.recovery.max_disconnection: duration "-1s" is negative`,
		`:6:5: cluster.redis.url: want redis://[user:password@]host:port/db, rediss://... for TLS or unix:///path, got "http://user:xxxxx@127.0.0.1:6379/0"`,
		":7:5: cluster.redis.prefix: must not be empty",
		`:8:3: cluster.on_outage: want degraded or not_ready, got "notready", did you mean not_ready?`,
		":9:3: cluster.request_timeout: must be a positive duration",
	}},
	{"adminui.bad.yaml", []string{ // enabled without auth
		`:1:19: namespaces: "/admin" is the Admin UI's namespace (admin_ui.namespace); it needs one of its own`,
		":3:3: admin_ui.auth: required when admin_ui is enabled: set username and password_hash, or disabled: true to run without a login",
		`:4:3: admin_ui.mode: want development or production, got "dev"`,
	}},
	{"adminui-hash.bad.yaml", []string{ // the hash never shows
		`:3:3: admin_ui.namespace: must start with /, got "admin"`,
		":6:5: admin_ui.auth.password_hash: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters): too short",
	}},
	{"adminui-auth.bad.yaml", []string{
		":5:5: admin_ui.auth: disabled is set, and so are username or password_hash; choose one",
	}},
	{"cluster-no-url.bad.yaml", []string{
		":1:1: cluster.redis.url: required when cluster is set (redis://host:6379/0)",
	}},
	{"transport.bad.yaml", []string{
		":2:25: socketio.transports: unknown transport \"websockets\", did you mean websocket?",
	}},
	{"engine.bad.yaml", []string{
		`:2:3: socketio.engine: want library or builtin, got "buitlin", did you mean builtin?`,
	}},
	{"namespace.bad.yaml", []string{
		":4:5: rule \"chat\": namespace: \"/chat\" is not declared in namespaces [/]",
	}},
	{"reserved-event.bad.yaml", []string{
		":3:5: rule \"on-connect\": on: cannot route event \"connect\": use on: connection",
	}},
	{"route-in-socketio-path.bad.yaml", []string{
		":3:5: rule \"shadow\": on: route GET /socket.io/x is inside socketio.path /socket.io",
	}},
	{"route-lowercase.bad.yaml", []string{
		":3:5: rule \"lower\": on: \"post /x\" is not a route; write METHOD /path with an upper-case method",
	}},
	{"route-conflict.bad.yaml", []string{
		":7:5: rule \"by-name\": on: route GET /{kind}/latest: pattern \"GET /{kind}/latest\" conflicts with pattern \"GET /items/{id}\": GET /{kind}/latest and GET /items/{id} both match some paths, like \"/items/latest\".",
	}},
	{"expr-syntax.bad.yaml", []string{
		// The expression starts at column 9; the dangling "." is its 19th character.
		":5:27: rule \"broken\": do[0]: unexpected end of expression (at 1:19 of the expression)",
	}},
	{"unknown-name.bad.yaml", []string{
		":4:11: rule \"typo\": when: unknown name dat, did you mean data? (at 1:1 of the expression)",
	}},
	{"respond-in-socket.bad.yaml", []string{
		":5:9: rule \"wrong-place\": do[0]: respond(status, body[, headers]) is only valid in HTTP route rules, not in a socket event rule",
	}},
	{"reject-outside-connection.bad.yaml", []string{
		":5:9: rule \"wrong-place\": do[0]: reject(message[, data]) is only valid in connection rules, not in a socket event rule",
	}},
	{"not-an-action.bad.yaml", []string{
		":5:9: rule \"sum\": do[0]: yields a number, want an action such as emit(...) or log(...)",
	}},
	{"invalid-yaml.bad.yaml", []string{
		":5:9: rule \"post-echo\": do[0]: want a string, got a mapping (an expression that holds \": \" must be quoted, or YAML reads it as a mapping)",
	}},
	{"yaml-syntax.bad.yaml", []string{
		":3:1: invalid YAML: found character that cannot start any token (indent with spaces: YAML does not allow tabs)",
	}},
	{"rule-not-mapping.bad.yaml", []string{
		":6:5: rules[1]: want a mapping, got the string \"emit(\\\"b\\\")\"",
	}},
	{"many-problems.bad.yaml", []string{
		":2:3: server.listen: want a string, got the number 3000",
		":4:5: unknown key server.cors.methiods, did you mean methods?",
		":6:3: socketio.ping_interval: want a duration with a unit such as \"10s\" or \"500ms\", got 5",
		":11:9: rule \"a\": do[0]: respond(status, body[, headers]) is only valid in HTTP route rules, not in a socket event rule",
		":12:5: rule \"a\": duplicate rule name, first used by the rule at line 8",
		":13:5: rule \"a\": on: cannot route event \"connect\": use on: connection",
		":15:9: rule \"a\": do[0]: yields a number, want an action such as emit(...) or log(...)",
	}},
	{"five-mistakes.bad.yaml", []string{
		// Five different mistakes, five messages, one run: a bad duration, a
		// wrong type, a key typo inside a rule, an unknown function and an
		// unknown field.
		":2:3: socketio.ping_interval: want a duration such as \"10s\" or \"500ms\", got \"5m30\"",
		":4:3: server.max_body: want a size such as 1048576 or \"1MiB\", got a list",
		":8:5: rule \"chat\": unknown key whn, did you mean when?",
		":11:9: rule \"chat\": do[1]: unknown function brodcast, did you mean broadcast? (at 1:1 of the expression)",
		":15:30: rule \"post-echo\": do[0]: request has no field param, did you mean params? (at 1:22 of the expression)",
	}},
	{"yaml-indent.bad.yaml", []string{
		// The item at line 6 is indented one space less than the one above it;
		// the parser itself blames line 1.
		":6:6: invalid YAML: did not find expected key (check this line's indentation against the lines above it)",
	}},
	{"yaml-colon.bad.yaml", []string{
		// ": " inside an unquoted expression: the quoting hint applies here.
		":7:7: invalid YAML: mapping values are not allowed in this context (an expression that holds \": \" must be quoted, as in 'emit(\"note\", {\"text\": data.text})')",
	}},
	{"list-as-scalar.bad.yaml", []string{
		// A single value where a list belongs is checked as a one-item list.
		":2:3: socketio.transports: want a list, not a single value; write transports: [websocket], or put websocket on the next line as a list item that starts with \"- \"",
		":7:5: rule \"chat\": do: want a list, not a single value; write do: ['log(\"chat:\", data)'], or put log(\"chat:\", data) on the next line as a list item that starts with \"- \"",
		":8:5: rule \"chat\": else: want a list, not a single value; write else: [reply(\"empty\")], or put reply(\"empty\") on the next line as a list item that starts with \"- \"",
	}},
	{"typo-value.bad.yaml", []string{
		// A misspelt key's value is checked under the key it was meant to be,
		// so fixing the typo reveals nothing new.
		":1:1: unknown key rule, did you mean rules?",
		":4:5: rule \"chat\": unknown key whn, did you mean when?",
		":4:10: rule \"chat\": when: unknown name dta, did you mean data? (at 1:1 of the expression)",
	}},
	{"go-types.bad.yaml", []string{
		// Messages that expr writes with Go types, in config words.
		":4:28: rule \"hs\": when: socket.handshake has no field auht, did you mean auth? (at 1:18 of the expression)",
		":6:14: rule \"hs\": do[0]: emit(event, args...): want a string here, got a number (at 1:6 of the expression)",
		":7:23: rule \"hs\": do[1]: cannot apply + to a string and a number (at 1:15 of the expression)",
		":8:26: rule \"hs\": do[2]: list items are selected by number, as in list[0], not by a string (at 1:18 of the expression)",
		":9:26: rule \"hs\": do[3]: cannot apply + to a list and a number (at 1:18 of the expression)",
		":10:9: rule \"hs\": do[4]: yields a string, want an action such as emit(...) or log(...)",
		":13:11: rule \"ping\": when: want true or false, got a number",
		":15:43: rule \"ping\": do[0]: cannot apply * to a string and a number (at 1:35 of the expression)",
		":16:9: rule \"ping\": do[1]: unknown function emitt, did you mean emit? (at 1:1 of the expression)",
		":17:13: rule \"ping\": do[2]: unknown name reqest, did you mean request? (at 1:5 of the expression)",
	}},
	{"wrong-shapes.bad.yaml", []string{
		// Wrong shapes inside a named rule; the rest of the rule is still checked.
		":1:1: namespaces: want a list of strings, got a mapping",
		":4:5: rule \"chat\": on: want a string, got the number 5",
		":5:5: rule \"chat\": final: want true or false, got the string \"maybe\"",
		":6:5: rule \"chat\": on_error: want a string, got a list",
		":8:18: rule \"chat\": do[0]: unknown name dat, did you mean data? (at 1:10 of the expression)",
		":9:9: rule \"chat\": do[1]: want a string, got the number 5",
		":10:8: rule \"chat\": do[2]: empty item: write a value after \"- \", or remove the line",
	}},
	{"top-level-list.bad.yaml", []string{
		":1:1: the config must be a mapping of keys such as server: and rules:, got a list",
	}},
}

// goTypeName matches Go type names, which no message may show: a config
// author thinks in strings, numbers, lists and mappings.
var goTypeName = regexp.MustCompile(`\b(?:rules|time|ast|vm)\.[A-Z]\w*|interface \{\}|\bmap\[\w|\[\]\w|\b(?:u?int(?:8|16|32|64)?|float(?:32|64)|bool)\b`)

// TestLoadBad loads every testdata/*.bad.yaml and checks that it fails with
// exactly the problems listed in badConfigs: each one, and no other.
func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range badConfigs {
		listed[tc.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no entry in badConfigs", f)
		}
	}

	for _, tc := range badConfigs {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			rs, err := rules.Load(path, builtin.Registry(), noEnv)
			if err == nil {
				t.Fatalf("Load(%s) = %v, nil; want an error", path, rs)
			}
			if rs != nil {
				t.Errorf("Load(%s) returned a ruleset along with the error", path)
			}
			var le *rules.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load(%s) error is %T, want *rules.LoadError: %v", path, err, err)
			}
			// Problems come sorted by position, one line each, exactly as
			// written in badConfigs: nothing missing, nothing extra.
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = path + w
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("Load(%s):\n got:\n%s\nwant:\n%s", path, got, strings.Join(want, "\n"))
			}
			for _, p := range le.Problems {
				if p.File != path {
					t.Errorf("problem %q names file %q, want %q", p, p.File, path)
				}
				if strings.Contains(p.Message, "\n") {
					t.Errorf("problem message spans lines: %q", p.Message)
				}
				if goType := goTypeName.FindString(p.Message); goType != "" {
					t.Errorf("problem %q names the Go type %q", p, goType)
				}
			}
		})
	}
}

// TestLoadErrorPositions pins the structured fields of a Problem, not only
// its text.
func TestLoadErrorPositions(t *testing.T) {
	tests := []struct {
		file string
		want rules.Problem
	}{
		{"unknown-key.bad.yaml", rules.Problem{Line: 5, Column: 5, Key: "server.cors.methiods", Message: "unknown key server.cors.methiods, did you mean methods?"}},
		{"unknown-name.bad.yaml", rules.Problem{Line: 4, Column: 11, Key: "rules[0].when", Rule: "typo", Message: "when: unknown name dat, did you mean data? (at 1:1 of the expression)"}},
		{"unknown-rule-key.bad.yaml", rules.Problem{Line: 8, Column: 5, Key: "rules[1].wen", Rule: "second", Message: "unknown key wen, did you mean when?"}},
		{"yaml-indent.bad.yaml", rules.Problem{Line: 6, Column: 6, Message: "invalid YAML: did not find expected key (check this line's indentation against the lines above it)"}},
		{"rule-not-mapping.bad.yaml", rules.Problem{Line: 6, Column: 5, Key: "rules[1]", Message: `rules[1]: want a mapping, got the string "emit(\"b\")"`}},
		{"expr-syntax.bad.yaml", rules.Problem{Line: 5, Column: 27, Key: "rules[0].do[0]", Rule: "broken", Message: "do[0]: unexpected end of expression (at 1:19 of the expression)"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			_, err := rules.Load(path, builtin.Registry(), noEnv)
			var le *rules.LoadError
			if !errors.As(err, &le) || len(le.Problems) != 1 {
				t.Fatalf("Load(%s) = %v, want one problem", path, err)
			}
			tc.want.File = path
			if got := le.Problems[0]; got != tc.want {
				t.Errorf("Load(%s) problem\n got %+v\nwant %+v", path, got, tc.want)
			}
		})
	}
}

// TestLoadFileDoesNotCompile shows that LoadFile checks the schema only:
// expression errors are Load's business.
func TestLoadFileDoesNotCompile(t *testing.T) {
	if _, err := rules.LoadFile("testdata/unknown-name.bad.yaml", noEnv); err != nil {
		t.Errorf("LoadFile reported an expression error: %v", err)
	}
	if _, err := rules.LoadFile("testdata/unknown-key.bad.yaml", noEnv); err == nil {
		t.Error("LoadFile accepted an unknown key")
	}
	if _, err := rules.LoadFile("testdata/does-not-exist.yaml", noEnv); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("LoadFile of a missing file = %v, want a read config error", err)
	}
}

// TestDefaults checks that a file holding only rules gets Defaults() for
// every other key.
func TestDefaults(t *testing.T) {
	cfg, err := rules.LoadFile("testdata/minimal.good.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 1 || cfg.Rules[0].Name != "hello" {
		t.Fatalf("rules = %+v, want the one rule hello", cfg.Rules)
	}
	got := *cfg
	got.Rules = nil
	if want := rules.Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("config without rules\n got %+v\nwant %+v", got, want)
	}
}

// TestLoadFull checks that every key of full.good.yaml reaches Config.
func TestLoadFull(t *testing.T) {
	cfg, err := rules.LoadFile("testdata/full.good.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := rules.Config{
		Server: rules.ServerConfig{
			Listen: "127.0.0.1:8080",
			CORS: rules.CORSConfig{
				Origins:     []string{"https://a.example", "https://b.example"},
				Methods:     []string{"GET", "POST", "PUT"},
				Headers:     []string{"Content-Type", "Authorization"},
				Credentials: true,
			},
			MaxBody:           2 << 20,
			ShutdownTimeout:   30 * time.Second,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       20 * time.Second,
			IdleTimeout:       90 * time.Second,
		},
		Admin: rules.AdminConfig{Listen: "127.0.0.1:9191"},
		SocketIO: rules.SocketIOConfig{
			Path:           "/rt",
			PingInterval:   10 * time.Second,
			PingTimeout:    5 * time.Second,
			ConnectTimeout: 15 * time.Second,
			MaxPayload:     512_000,
			Transports:     []string{"websocket"},
			Engine:         rules.EngineBuiltin,
			WriteCoalesce:  5 * time.Millisecond,
			WriteTimeout:   3 * time.Second,
			MaxQueue:       100,
			ErrorMessage:   "internal error",
			AckUnanswered:  "silent",
		},
		Namespaces: []string{"/", "/chat"},
		Log:        rules.LogConfig{Level: "debug", Format: "json"},
		Runtime:    rules.RuntimeConfig{GCPercent: 50, MemoryLimit: 1 << 30},
		Limits: rules.LimitsConfig{EventsPerSecond: 1000, EventsBurst: 2000, OnExceed: "drop", MaxRoomsPerSocket: 1000, MaxEventArgs: 16,
			ExprNodes: 200, ExprMemory: 50_000},
		Vars:    map[string]any{"greeting": "hello", "limit": 10},
		Cluster: rules.Defaults().Cluster,
		AdminUI: rules.Defaults().AdminUI,
		Rules: []rules.RuleSpec{{
			Name:        "greet",
			Description: "says hello on connection",
			On:          "connection",
			Namespace:   "/chat",
			When:        "socket.handshake.auth.token != nil",
			Do:          []string{`emit("greeting", vars.greeting)`},
		}},
	}
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("full.good.yaml\n got %#v\nwant %#v", *cfg, want)
	}
}

// TestRoutes checks the compiled route list of routes.good.yaml.
func TestRoutes(t *testing.T) {
	rs, err := rules.Load("testdata/routes.good.yaml", builtin.Registry(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /users/{id}", "PUT /users/{id}", "GET /files/{path...}", "POST /publish/{room}"}
	if !reflect.DeepEqual(rs.Routes, want) {
		t.Errorf("Routes = %q, want %q", rs.Routes, want)
	}
	for _, r := range rs.Rules {
		if r.Kind != rules.TriggerHTTP || r.Namespace != "" {
			t.Errorf("rule %q: kind %v namespace %q, want an HTTP rule without namespace", r.Name, r.Kind, r.Namespace)
		}
	}
}

// TestEnvOverrides checks EVENTROUTER_* variables, read through
// LoadOptions.Environ.
func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		check   func(*rules.Config) any // returns the overridden value
		want    any
		wantErr string
	}{
		{
			name:    "listen",
			environ: []string{"EVENTROUTER_SERVER_LISTEN=:8080"},
			check:   func(c *rules.Config) any { return c.Server.Listen },
			want:    ":8080",
		},
		{
			name:    "size with unit",
			environ: []string{"EVENTROUTER_SERVER_MAX_BODY=2MiB"},
			check:   func(c *rules.Config) any { return c.Server.MaxBody },
			want:    rules.ByteSize(2 << 20),
		},
		{
			name:    "list",
			environ: []string{"EVENTROUTER_SERVER_CORS_ORIGINS=a,b"},
			check:   func(c *rules.Config) any { return c.Server.CORS.Origins },
			want:    []string{"a", "b"},
		},
		{
			name:    "bool",
			environ: []string{"EVENTROUTER_SERVER_CORS_CREDENTIALS=true"},
			check:   func(c *rules.Config) any { return c.Server.CORS.Credentials },
			want:    true,
		},
		{
			name:    "duration",
			environ: []string{"EVENTROUTER_SOCKETIO_PING_INTERVAL=3s"},
			check:   func(c *rules.Config) any { return c.SocketIO.PingInterval },
			want:    3 * time.Second,
		},
		{
			name:    "variables without the prefix are ignored",
			environ: []string{"SERVER_LISTEN=:1", "HOME=/root"},
			check:   func(c *rules.Config) any { return c.Server.Listen },
			want:    ":3000",
		},
		{
			name:    "bad bool",
			environ: []string{"EVENTROUTER_SERVER_CORS_CREDENTIALS=maybe"},
			wantErr: `environment variable EVENTROUTER_SERVER_CORS_CREDENTIALS: want true or false, got "maybe"`,
		},
		{
			name:    "bad duration",
			environ: []string{"EVENTROUTER_SOCKETIO_PING_TIMEOUT=soon"},
			wantErr: `socketio.ping_timeout: want a duration such as "10s" or "500ms", got "soon"`,
		},
		{
			name:    "unknown variable",
			environ: []string{"EVENTROUTER_SERVER_LISTN=:8080"},
			wantErr: "unknown environment variable EVENTROUTER_SERVER_LISTN, did you mean EVENTROUTER_SERVER_LISTEN?",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := rules.LoadOptions{Environ: func() []string { return tc.environ }}
			cfg, err := rules.LoadFile("testdata/minimal.good.yaml", opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadFile with %q: error %v, want %q", tc.environ, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadFile with %q: %v", tc.environ, err)
			}
			if got := tc.check(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("LoadFile with %q: got %#v, want %#v", tc.environ, got, tc.want)
			}
		})
	}
}

// TestEnvOverridesFile checks that the environment wins over the file.
func TestEnvOverridesFile(t *testing.T) {
	opts := rules.LoadOptions{Environ: func() []string {
		return []string{"EVENTROUTER_SERVER_LISTEN=:9999", "EVENTROUTER_LOG_LEVEL=warn"}
	}}
	cfg, err := rules.LoadFile("testdata/full.good.yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != ":9999" || cfg.Log.Level != "warn" {
		t.Errorf("listen %q level %q, want :9999 and warn", cfg.Server.Listen, cfg.Log.Level)
	}
	if cfg.Server.CORS.Credentials != true || cfg.Log.Format != "json" {
		t.Error("keys the environment does not set lost their file values")
	}
}

// TestLoadOptionsDefaultEnviron checks that a nil Environ reads the process
// environment.
func TestLoadOptionsDefaultEnviron(t *testing.T) {
	t.Setenv("EVENTROUTER_ADMIN_LISTEN", "127.0.0.1:1")
	cfg, err := rules.LoadFile("testdata/minimal.good.yaml", rules.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Listen != "127.0.0.1:1" {
		t.Errorf("admin.listen = %q, want the value of EVENTROUTER_ADMIN_LISTEN", cfg.Admin.Listen)
	}
}

// writeConfig writes yaml to a config file in a temporary directory.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRuleEventLimits: a rule's limits key applies to its event in its
// namespace, with events_burst defaulting to twice the rate.
func TestRuleEventLimits(t *testing.T) {
	rs, err := rules.Load("testdata/socket-limits.good.yaml", builtin.Registry(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ns, event string
		want      *rules.EventLimit
	}{
		{"/", "chat", &rules.EventLimit{Rule: "chat", PerSecond: 5, Burst: 10}},
		{"/", "move", &rules.EventLimit{Rule: "move", PerSecond: 0.5, Burst: 1}},
		{"/", "other", nil},
		{"/admin", "chat", nil},
	}
	for _, tc := range tests {
		if got := rs.EventLimit(tc.ns, tc.event); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("EventLimit(%q, %q) = %+v, want %+v", tc.ns, tc.event, got, tc.want)
		}
	}
	if got, want := rs.Config.Server.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.7", "::1", "fd00::/64"}; !reflect.DeepEqual(got, want) {
		t.Errorf("trusted_proxies %q, want %q", got, want)
	}
}
