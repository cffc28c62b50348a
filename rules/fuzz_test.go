package rules_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// The fuzz targets. Run one for a while with, for example:
//
//	go test -run '^$' -fuzz '^FuzzEvaluate$' -fuzztime 60s ./rules/
//
// New failing inputs land in testdata/fuzz/FuzzXxx/ and then run with every
// go test, as regression tests.

// fuzzConfig is a realistic config whose rules read the payload in every
// way the language allows: fields, computed keys, loops, string functions,
// conditions and state.
const fuzzConfig = `
vars:
  tokens: {"t1": "alice", "t2": "bob"}
  banned: ["mallory"]
  max_len: 200
rules:
  - name: gate
    on: connection
    when: vars.tokens[socket.handshake.auth.token] == nil
    do:
      - reject("unauthorized")
    else:
      - set("user", vars.tokens[socket.handshake.auth.token])
  - name: filter
    on: send_message
    when: data == nil || type(data) != "map" || len(string(data.text ?? "")) > vars.max_len || socket.state.user in vars.banned
    do:
      - 'reply({"error": "refused"})'
    final: true
  - name: chat
    on: send_message
    do:
      - log("message:", data)
      - 'broadcast("receive_message", {"user": socket.state.user, "text": upper(string(data.text ?? "")), "tags": filter(data.tags ?? [], # != nil)})'
      - 'data.room != nil ? to(string(data.room), "receive_message", data) : nil'
  - name: rooms
    on: join
    when: type(data) == "array" && all(data, type(#) == "string")
    do:
      - join(data)
      - 'emit("joined", map(data, ({"room": #, "size": room_size(#)})))'
    on_error: continue
  - name: stats
    on: stats
    do:
      - 'reply({"count": count(args, true), "keys": type(data) == "map" ? keys(data) : [], "sum": sum(map(type(data) == "array" ? data : [], type(#) in ["int", "float"] ? # : 0))})'
  - name: anything
    on: "*"
    do:
      - log(event, len(args), toJSON(args))
  - name: publish
    on: POST /publish
    when: body.channel != nil
    do:
      - 'broadcast(string(body.channel), body.message)'
      - 'respond(202, {"ok": true, "fields": len(body)})'
    else:
      - 'respond(400, {"error": "channel required"})'
`

// fuzzEvents turns a JSON payload into the events a client could send with
// it: as arguments of several events (decoded as the wire decodes them), as
// a connection's auth and as an HTTP body.
func fuzzEvents(payload []byte) []*rules.Event {
	var args []any
	if json.Unmarshal(payload, &args) != nil {
		var v any
		if json.Unmarshal(payload, &v) != nil {
			return nil
		}
		args = []any{v}
	}
	var auth map[string]any
	if len(args) > 0 {
		auth, _ = args[0].(map[string]any)
	}
	sock := rules.Socket{ID: "s1", Namespace: "/", Rooms: []string{"s1"}, State: map[string]any{"user": "alice"}, Handshake: rules.Handshake{Auth: auth}}
	var evs []*rules.Event
	for _, name := range []string{"send_message", "join", "stats", "other"} {
		for _, ack := range []bool{false, true} {
			evs = append(evs, &rules.Event{Kind: rules.TriggerEvent, Name: name, Args: args, HasAck: ack, Socket: sock})
		}
	}
	evs = append(evs,
		&rules.Event{Kind: rules.TriggerConnection, Name: "connection", Socket: sock},
		&rules.Event{Kind: rules.TriggerHTTP, Name: "POST /publish", Request: rules.Request{Method: "POST", Path: "/publish", Body: args[0:min(1, len(args))]}},
	)
	if len(args) > 0 {
		evs = append(evs, &rules.Event{Kind: rules.TriggerHTTP, Name: "POST /publish", Request: rules.Request{Method: "POST", Path: "/publish", Body: args[0]}})
	}
	return evs
}

// checkEvaluate evaluates ev twice, through Evaluate and EvaluateInto: it
// must not panic, must give the same result both times (evaluation is
// pure), and every failure must be a RuleError naming the rule and field,
// with a one-line reason.
func checkEvaluate(t *testing.T, rs *rules.Ruleset, ev *rules.Event) {
	t.Helper()
	res := rs.Evaluate(ev)
	for _, e := range res.Errors {
		if e == nil || e.Err == nil || e.Rule == "" || e.Field == "" {
			t.Fatalf("event %s: incomplete RuleError %#v", ev.Name, e)
		}
		if r := e.Reason(); strings.Contains(r, "\n") {
			t.Fatalf("event %s: reason spans lines: %q", ev.Name, r)
		}
	}
	var into rules.Result
	rs.EvaluateInto(ev, &into)
	if !reflect.DeepEqual(res.Matched, into.Matched) || len(res.Actions) != len(into.Actions) || len(res.Errors) != len(into.Errors) {
		t.Fatalf("event %s: Evaluate and EvaluateInto differ:\n%+v\n%+v", ev.Name, res, into)
	}
}

// FuzzEvaluate evaluates a fixed, realistic config on arbitrary payloads.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		`{"text":"hi","user":"bob"}`, `"hello"`, `[]`, `null`, `1e308`, `-0`,
		`[{"text":"hi","room":"lobby","tags":["a",null,1]}]`,
		`[{"token":"t1"}]`, `[{"token":1}]`, `[{"token":["t1"]}]`, `[{"token":null}]`,
		`[["a","b","c"]]`, `[["a",1]]`, `[[1,2.5,"x",{"a":1}]]`,
		`[{"text":"` + strings.Repeat("x", 300) + `"}]`,
		`[{"channel":"news","message":{"a":[1,2,3]}}]`, `[{"channel":7}]`,
		`[{"a":{"b":{"c":{"d":[[[[[]]]]]}}}}]`, `["\u0000\ud800"]`,
		`[` + strings.Repeat(`[1,2,3],`, 200) + `0]`,
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(fuzzConfig), 0o600); err != nil {
		f.Fatal(err)
	}
	rs, err := rules.Load(path, builtin.Registry(), noEnv)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, ev := range fuzzEvents(payload) {
			checkEvaluate(t, rs, ev)
		}
	})
}

// FuzzLoad loads arbitrary bytes as a config file: it must never panic,
// and every failure must be a *rules.LoadError. What loads is evaluated.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "../config.yaml", "../examples/auth/config.yaml", "../examples/chat-rooms/config.yaml", "../examples/publish-api/config.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(fuzzConfig))
	f.Add([]byte("rules: [{name: a, on: x, do: ['log(map(1..100000000, #))']}]"))
	f.Add([]byte("limits: {expr_nodes: 1, expr_memory: 1}\nrules: [{name: a, on: x, do: [log(data)]}]"))
	f.Add([]byte("rules:\n  - &a {name: a, on: x, do: [log(data)]}\n  - *a\n"))
	f.Add([]byte("server: {listen: [1, {a: b}]}\nrules: 7"))
	path := filepath.Join(f.TempDir(), "config.yaml")
	f.Fuzz(func(t *testing.T, config []byte) {
		if err := os.WriteFile(path, config, 0o600); err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Load(path, builtin.Registry(), noEnv)
		if err != nil {
			var le *rules.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *rules.LoadError: %v", err, err)
			}
			if rs != nil {
				t.Fatal("a ruleset along with an error")
			}
			return
		}
		for _, r := range rs.Rules {
			ev := &rules.Event{Kind: r.Kind, Name: r.On, Namespace: r.Namespace, Args: []any{map[string]any{"a": 1.0}}, Socket: rules.Socket{ID: "s1"}}
			checkEvaluate(t, rs, ev)
		}
	})
}

// FuzzCompileExpr compiles arbitrary expression text as a when and as a do
// item: it must never panic, and what compiles must evaluate without
// panicking, failing only with RuleErrors.
func FuzzCompileExpr(f *testing.F) {
	for _, s := range [][2]string{
		{`data != nil`, `log(data)`},
		{`vars.tokens[data] == nil`, `emit("x", data)`},
		{`len(filter(args, # > 1)) > 0`, `[emit("a"), emit("b")]`},
		{`data.a?.b ?? false`, `data == nil ? log("x") : reply(data)`},
		{`"a" in data`, `let x = data; log(x, x)`},
		{`any(1..10, # > 5)`, `log(reduce(1..100, #acc + #, 0))`},
		{`socket.state.muted != true`, `set("n", (socket.state.n ?? 0) + 1)`},
		{`true`, `broadcast(spread(args))`},
		{`room_size("lobby") > 0`, `to(socket_rooms(), "x", data)`},
		{`$env.data != nil`, `$lookup(data, "a")`},
		{`now().Year() > 2000`, `log(duration("1s"))`},
		{`data matches "^a+$"`, `log(toJSON(fromJSON(string(data))))`},
		// The budget's own names, used by hand.
		{`$charge($budget, data) != nil`, `log($budget, $charge($budget, data))`},
		{`let $budget = 1; len(upper(string(data))) > 0`, `$charge(nil, 1)`},
		{`len(map(1..1000000, #)) > 0`, `log(map(args, map(args, #)))`},
		{`timezone("UTC") != nil`, `log(date("2024-01-01"))`},
	} {
		f.Add(s[0], s[1])
	}
	reg := builtin.Registry()
	f.Fuzz(func(t *testing.T, when, do string) {
		// The when and the do item are compiled apart, so that one that
		// compiles is evaluated even when the other does not.
		for _, specs := range [][]rules.RuleSpec{
			{{Name: "w", On: "msg", When: when, Do: []string{"log(data)"}}, {Name: "hw", On: "POST /x", When: when, Do: []string{"respond(200, body)"}}},
			{{Name: "d", On: "msg", Do: []string{do}}, {Name: "hd", On: "POST /x", Do: []string{do}}},
		} {
			cfg := rules.Defaults()
			cfg.Rules = specs
			rs, err := rules.Compile(&cfg, reg)
			if err != nil {
				var le *rules.LoadError
				if !errors.As(err, &le) {
					t.Fatalf("error %T is not a *rules.LoadError: %v", err, err)
				}
				continue
			}
			for _, data := range []any{nil, "x", 1.0, []any{1.0, "a"}, map[string]any{"a": map[string]any{"b": true}}} {
				checkEvaluate(t, rs, &rules.Event{Kind: rules.TriggerEvent, Name: "msg", Args: []any{data}, HasAck: true, Socket: rules.Socket{ID: "s1", Namespace: "/"}})
				checkEvaluate(t, rs, &rules.Event{Kind: rules.TriggerHTTP, Name: "POST /x", Request: rules.Request{Method: "POST", Path: "/x", Body: data}})
			}
		}
	})
}
