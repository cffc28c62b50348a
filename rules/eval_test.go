package rules_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// socketEvent builds a socket event in namespace / from socket "s1".
func socketEvent(name string, args ...any) *rules.Event {
	return &rules.Event{Kind: rules.TriggerEvent, Name: name, Args: args, Socket: rules.Socket{ID: "s1", Namespace: "/"}}
}

// wantError is a run-time error expected in Result.Errors.
type wantError struct {
	rule, field, text string
}

// evalCase is one (config, event) → actions row. config is a whole YAML
// file, or a path to one when it starts with "file:".
type evalCase struct {
	name        string
	config      string
	event       *rules.Event
	want        []rules.Action
	wantMatched []string
	wantErrors  []wantError
}

// evalTests are the evaluator's table.
var evalTests = []evalCase{
	// The default config.yaml: the behaviour of the Node server it replaces.
	{
		name:   "default/connection",
		config: "file:../config.yaml",
		event:  &rules.Event{Kind: rules.TriggerConnection, Name: "connection", Socket: rules.Socket{ID: "abc"}},
		want:   []rules.Action{{Kind: "log", Rule: "connected", Level: "info", Message: "client connected: abc"}},
	},
	{
		name:   "default/send_message is broadcast to everyone, the sender included",
		config: "file:../config.yaml",
		event:  socketEvent("send_message", map[string]any{"user": "bob", "text": "hi"}),
		want: []rules.Action{
			{Kind: "log", Rule: "chat", Level: "info", Message: `受信メッセージ: {"text":"hi","user":"bob"}`},
			{Kind: "broadcast", Rule: "chat", Event: "receive_message", Args: []any{map[string]any{"user": "bob", "text": "hi"}}},
		},
	},
	{
		name:   "default/send_message with a string",
		config: "file:../config.yaml",
		event:  socketEvent("send_message", "hello"),
		want: []rules.Action{
			{Kind: "log", Rule: "chat", Level: "info", Message: "受信メッセージ: hello"},
			{Kind: "broadcast", Rule: "chat", Event: "receive_message", Args: []any{"hello"}},
		},
	},
	{
		name:   "default/disconnect",
		config: "file:../config.yaml",
		event:  &rules.Event{Kind: rules.TriggerDisconnect, Name: "disconnect", Socket: rules.Socket{ID: "abc"}, Reason: "transport close"},
		want:   []rules.Action{{Kind: "log", Rule: "left", Level: "info", Message: "client disconnected: abc"}},
	},
	{
		name:   "default/POST /post",
		config: "file:../config.yaml",
		event: &rules.Event{Kind: rules.TriggerHTTP, Name: "POST /post", Request: rules.Request{
			Method: "POST", Path: "/post", Body: map[string]any{"name": "taro"},
		}},
		want: []rules.Action{
			{Kind: "log", Rule: "post-echo", Level: "info", Message: `POST受信: {"name":"taro"}`},
			{Kind: "respond", Rule: "post-echo", Status: 200, Body: map[string]any{"message": "受け取りました", "received": map[string]any{"name": "taro"}}},
		},
	},
	{
		name:   "default/unknown event yields nothing",
		config: "file:../config.yaml",
		event:  socketEvent("nobody_listens"),
		want:   nil,
	},
	{
		name:   "default/unknown route yields nothing",
		config: "file:../config.yaml",
		event:  &rules.Event{Kind: rules.TriggerHTTP, Name: "GET /post"},
		want:   nil,
	},

	// when
	{
		name: "when true",
		config: `
rules:
  - name: big
    on: n
    when: data > 10
    do:
      - emit("big", data)
`,
		event:       socketEvent("n", 11),
		want:        []rules.Action{{Kind: "emit", Rule: "big", Event: "big", Args: []any{11}}},
		wantMatched: []string{"big"},
	},
	{
		name: "when false",
		config: `
rules:
  - name: big
    on: n
    when: data > 10
    do:
      - emit("big", data)
`,
		event: socketEvent("n", 3),
		want:  nil,
	},

	{
		name: "when of type any holding a non-bool",
		config: `
rules:
  - name: truthy
    on: n
    when: data
    do:
      - emit("yes")
`,
		event:      socketEvent("n", "yes"),
		want:       nil,
		wantErrors: []wantError{{"truthy", "when", "invalid operation: bool(string)"}},
	},

	// order
	{
		name: "several rules match in file order",
		config: `
rules:
  - name: one
    on: e
    do:
      - emit("1")
  - name: other
    on: f
    do:
      - emit("x")
  - name: two
    on: e
    do:
      - emit("2")
      - emit("3")
`,
		event: socketEvent("e"),
		want: []rules.Action{
			{Kind: "emit", Rule: "one", Event: "1"},
			{Kind: "emit", Rule: "two", Event: "2"},
			{Kind: "emit", Rule: "two", Event: "3"},
		},
		wantMatched: []string{"one", "two"},
	},
	{
		name: "wildcard merged with exact rules in file order",
		config: `
rules:
  - name: all-first
    on: "*"
    do:
      - log("saw", event)
  - name: exact
    on: e
    do:
      - emit("exact")
  - name: all-last
    on: "*"
    do:
      - emit("last", event)
`,
		event: socketEvent("e"),
		want: []rules.Action{
			{Kind: "log", Rule: "all-first", Level: "info", Message: "saw e"},
			{Kind: "emit", Rule: "exact", Event: "exact"},
			{Kind: "emit", Rule: "all-last", Event: "last", Args: []any{"e"}},
		},
		wantMatched: []string{"all-first", "exact", "all-last"},
	},
	{
		name: "wildcard alone",
		config: `
rules:
  - name: exact
    on: e
    do:
      - emit("exact")
  - name: all
    on: "*"
    do:
      - emit("any", event)
`,
		event: socketEvent("other"),
		want:  []rules.Action{{Kind: "emit", Rule: "all", Event: "any", Args: []any{"other"}}},
	},
	{
		name: "wildcard does not catch lifecycle events",
		config: `
rules:
  - name: all
    on: "*"
    do:
      - emit("any", event)
`,
		event: &rules.Event{Kind: rules.TriggerConnection, Name: "connection"},
		want:  nil,
	},

	// namespaces
	{
		name:   "a /chat rule does not fire in /",
		config: namespacedConfig,
		event:  socketEvent("say", "hi"),
		want:   []rules.Action{{Kind: "emit", Rule: "root-say", Event: "root", Args: []any{"hi"}}},
	},
	{
		name:   "a /chat rule fires in /chat",
		config: namespacedConfig,
		event:  &rules.Event{Kind: rules.TriggerEvent, Name: "say", Namespace: "/chat", Args: []any{"hi"}},
		want:   []rules.Action{{Kind: "broadcast_others", Rule: "chat-say", Event: "said", Args: []any{"/chat", "hi"}}},
	},
	{
		name:   "a /chat connection rule does not fire in /",
		config: namespacedConfig,
		event:  &rules.Event{Kind: rules.TriggerConnection, Name: "connection", Namespace: "/"},
		want:   nil,
	},
	{
		name:   "a /chat connection rule fires in /chat",
		config: namespacedConfig,
		event:  &rules.Event{Kind: rules.TriggerConnection, Name: "connection", Namespace: "/chat", Socket: rules.Socket{ID: "c1"}},
		want:   []rules.Action{{Kind: "join", Rule: "chat-join", Rooms: []string{"lobby"}}},
	},

	// the emit plugin
	{
		name: "emit family with several arguments",
		config: `
rules:
  - name: all
    on: e
    do:
      - emit("a", 1, "two", [3], nil)
      - broadcast("b", data, 2)
      - broadcast_others("c", true, false)
      - to("room1", "d", 1, 2)
      - to(["r1", "r2"], "e", data)
      - to_others(socket.rooms, "f", 1.5)
      - reply("ok", 42)
`,
		event: &rules.Event{Kind: rules.TriggerEvent, Name: "e", Args: []any{"x"}, HasAck: true, Socket: rules.Socket{ID: "s1", Rooms: []string{"s1", "lobby"}}},
		want: []rules.Action{
			{Kind: "emit", Rule: "all", Event: "a", Args: []any{1, "two", []any{3}, nil}},
			{Kind: "broadcast", Rule: "all", Event: "b", Args: []any{"x", 2}},
			{Kind: "broadcast_others", Rule: "all", Event: "c", Args: []any{true, false}},
			{Kind: "to", Rule: "all", Rooms: []string{"room1"}, Event: "d", Args: []any{1, 2}},
			{Kind: "to", Rule: "all", Rooms: []string{"r1", "r2"}, Event: "e", Args: []any{"x"}},
			{Kind: "to_others", Rule: "all", Rooms: []string{"s1", "lobby"}, Event: "f", Args: []any{1.5}},
			{Kind: "reply", Rule: "all", Args: []any{"ok", 42}},
		},
	},
	{
		name: "spread(args) re-emits the whole argument list",
		config: `
rules:
  - name: echo
    on: echo
    do:
      - emit("echo", spread(args))
      - broadcast("echo", "prefix", spread(args), "suffix")
      - reply(spread(args))
`,
		event: socketEvent("echo", "a", 2, map[string]any{"k": "v"}),
		want: []rules.Action{
			{Kind: "emit", Rule: "echo", Event: "echo", Args: []any{"a", 2, map[string]any{"k": "v"}}},
			{Kind: "broadcast", Rule: "echo", Event: "echo", Args: []any{"prefix", "a", 2, map[string]any{"k": "v"}, "suffix"}},
			{Kind: "reply", Rule: "echo", Args: []any{"a", 2, map[string]any{"k": "v"}}},
		},
	},
	{
		name: "spread of no arguments",
		config: `
rules:
  - name: echo
    on: echo
    do:
      - reply(spread(args))
`,
		event: socketEvent("echo"),
		want:  []rules.Action{{Kind: "reply", Rule: "echo", Args: []any{}}},
	},
	{
		name: "emit data passes the argument as is, a list included",
		config: `
rules:
  - name: echo
    on: echo
    do:
      - emit("echo", data)
`,
		event: socketEvent("echo", []any{1, 2}),
		want:  []rules.Action{{Kind: "emit", Rule: "echo", Event: "echo", Args: []any{[]any{1, 2}}}},
	},

	// overlays: later rules of the same event see state and rooms
	{
		name: "set() is visible as socket.state in a later rule",
		config: `
rules:
  - name: remember
    on: nick
    do:
      - set("nick", data)
  - name: greet
    on: nick
    do:
      - emit("hello", socket.state.nick, socket.state.old)
`,
		event: &rules.Event{Kind: rules.TriggerEvent, Name: "nick", Args: []any{"bob"}, Socket: rules.Socket{State: map[string]any{"old": 1}}},
		want: []rules.Action{
			{Kind: "set", Rule: "remember", Key: "nick", Value: "bob"},
			{Kind: "emit", Rule: "greet", Event: "hello", Args: []any{"bob", 1}},
		},
	},
	{
		name: "set() is not visible inside the same rule",
		config: `
rules:
  - name: remember
    on: nick
    do:
      - set("nick", data)
      - emit("hello", socket.state.nick)
`,
		event: socketEvent("nick", "bob"),
		want: []rules.Action{
			{Kind: "set", Rule: "remember", Key: "nick", Value: "bob"},
			{Kind: "emit", Rule: "remember", Event: "hello", Args: []any{nil}},
		},
	},
	{
		name: "join() and leave() are visible in socket.rooms of a later rule",
		config: `
rules:
  - name: move
    on: move
    do:
      - join(["b", "c"])
      - leave("a")
  - name: where
    on: move
    when: '"c" in socket.rooms'
    do:
      - emit("rooms", socket.rooms)
`,
		event: &rules.Event{Kind: rules.TriggerEvent, Name: "move", Socket: rules.Socket{ID: "s1", Rooms: []string{"s1", "a", "b"}}},
		want: []rules.Action{
			{Kind: "join", Rule: "move", Rooms: []string{"b", "c"}},
			{Kind: "leave", Rule: "move", Rooms: []string{"a"}},
			{Kind: "emit", Rule: "where", Event: "rooms", Args: []any{[]string{"s1", "b", "c"}}},
		},
	},

	// run-time errors
	{
		name: "run-time errors are recorded; other rules still act",
		config: `
rules:
  - name: before
    on: e
    do:
      - emit("before")
  - name: nil-fetch
    on: e
    do:
      - emit("dropped")
      - emit("x", data.x.y)
  - name: bad-level
    on: e
    do:
      - log("dropped")
      - log_at("bogus", data)
  - name: divide
    on: e
    do:
      - emit("r", 1 % len(args))
  - name: bad-when
    on: e
    when: data.x > 1
    do:
      - emit("never")
  - name: after
    on: e
    do:
      - emit("after")
`,
		event: socketEvent("e"),
		want: []rules.Action{
			{Kind: "emit", Rule: "before", Event: "before"},
			{Kind: "emit", Rule: "after", Event: "after"},
		},
		wantMatched: []string{"before", "nil-fetch", "bad-level", "divide", "after"},
		wantErrors: []wantError{
			{"nil-fetch", "do[1]", "cannot read x of nil"},
			{"bad-level", "do[1]", `log_at: level "bogus" is not debug, info, warn or error`},
			{"divide", "do[0]", "integer divide by zero"},
			{"bad-when", "when", "cannot read x of nil"},
		},
	},
	{
		name: "a failing rule's state change is not seen by later rules",
		config: `
rules:
  - name: half
    on: e
    do:
      - set("k", "v")
      - emit("x", 1 % len(args))
  - name: read
    on: e
    do:
      - emit("k", socket.state.k)
`,
		event:      socketEvent("e"),
		want:       []rules.Action{{Kind: "emit", Rule: "read", Event: "k", Args: []any{nil}}},
		wantErrors: []wantError{{"half", "do[1]", "integer divide by zero"}},
	},
	{
		name: "empty event name at run time",
		config: `
rules:
  - name: dyn
    on: e
    do:
      - emit(data)
`,
		event:      socketEvent("e", ""),
		want:       nil,
		wantErrors: []wantError{{"dyn", "do[0]", "emit: event name is empty"}},
	},

	// vars and the environment
	{
		name: "vars are readable",
		config: `
vars:
  greeting: hello
  limits: {max: 3}
rules:
  - name: greet
    on: hi
    when: len(args) <= vars.limits.max
    do:
      - emit("greet", vars.greeting, vars.missing)
`,
		event: socketEvent("hi"),
		want:  []rules.Action{{Kind: "emit", Rule: "greet", Event: "greet", Args: []any{"hello", nil}}},
	},
	{
		name: "Event.Vars replaces the config's vars",
		config: `
vars: {greeting: hello}
rules:
  - name: greet
    on: hi
    do:
      - emit("greet", vars.greeting)
`,
		event: &rules.Event{Kind: rules.TriggerEvent, Name: "hi", Vars: map[string]any{"greeting": "bonjour"}},
		want:  []rules.Action{{Kind: "emit", Rule: "greet", Event: "greet", Args: []any{"bonjour"}}},
	},
	{
		name: "socket, handshake, ack, namespace and event are readable",
		config: `
rules:
  - name: who
    on: whoami
    when: ack
    do:
      - reply(socket.id, socket.handshake.auth.user, socket.handshake.query.v, socket.handshake.headers["user-agent"], namespace, event)
`,
		event: &rules.Event{Kind: rules.TriggerEvent, Name: "whoami", HasAck: true, Socket: rules.Socket{
			ID: "s9",
			Handshake: rules.Handshake{
				Auth:    map[string]any{"user": "ann"},
				Query:   map[string]string{"v": "4"},
				Headers: map[string]string{"user-agent": "test"},
			},
		}},
		want: []rules.Action{{Kind: "reply", Rule: "who", Args: []any{"s9", "ann", "4", "test", "/", "whoami"}}},
	},
	{
		name: "disconnect reason",
		config: `
rules:
  - name: bye
    on: disconnect
    do:
      - log("left:", reason)
`,
		event: &rules.Event{Kind: rules.TriggerDisconnect, Name: "disconnect", Reason: "ping timeout"},
		want:  []rules.Action{{Kind: "log", Rule: "bye", Level: "info", Message: "left: ping timeout"}},
	},
	{
		name: "route params, query and headers",
		config: `
rules:
  - name: user
    on: GET /users/{id}
    do:
      - 'respond(200, {"id": request.params.id, "q": request.query.q}, {"X-Id": request.params.id, "X-N": 1})'
`,
		event: &rules.Event{Kind: rules.TriggerHTTP, Name: "GET /users/{id}", Request: rules.Request{
			Method: "GET", Path: "/users/7", Params: map[string]string{"id": "7"}, Query: map[string]string{"q": "x"},
		}},
		want: []rules.Action{{Kind: "respond", Rule: "user", Status: 200,
			Body:    map[string]any{"id": "7", "q": "x"},
			Headers: map[string]string{"X-Id": "7", "X-N": "1"},
		}},
	},
	{
		name: "reject on connection",
		config: `
rules:
  - name: auth
    on: connection
    when: socket.handshake.auth.token != "secret"
    do:
      - 'reject("unauthorized", {"code": 401})'
`,
		event: &rules.Event{Kind: rules.TriggerConnection, Name: "connection"},
		want:  []rules.Action{{Kind: "reject", Rule: "auth", Message: "unauthorized", Value: map[string]any{"code": 401}}},
	},
}

// namespacedConfig has rules in / and /chat.
const namespacedConfig = `
namespaces: ["/", "/chat"]
rules:
  - name: root-say
    on: say
    do:
      - emit("root", data)
  - name: chat-say
    on: say
    namespace: /chat
    do:
      - broadcast_others("said", namespace, data)
  - name: chat-join
    on: connection
    namespace: /chat
    do:
      - join("lobby")
`

func TestEvaluate(t *testing.T) {
	for _, tc := range evalTests {
		t.Run(tc.name, func(t *testing.T) {
			rs := loadRules(t, tc.config)
			res := rs.Evaluate(tc.event)

			if !sameActions(res.Actions, tc.want) {
				t.Errorf("actions differ\n got %s\nwant %s\n got %#v\nwant %#v", asJSON(res.Actions), asJSON(tc.want), res.Actions, tc.want)
			}
			if tc.wantMatched != nil && !reflect.DeepEqual(res.Matched, tc.wantMatched) {
				t.Errorf("matched %q, want %q", res.Matched, tc.wantMatched)
			}
			if len(res.Errors) != len(tc.wantErrors) {
				t.Errorf("%d errors, want %d: %v", len(res.Errors), len(tc.wantErrors), res.Errors)
			}
			for i, want := range tc.wantErrors {
				if i >= len(res.Errors) {
					break
				}
				got := res.Errors[i]
				if got.Rule != want.rule || got.Field != want.field || got.Event != tc.event.Name || !strings.Contains(got.Error(), want.text) {
					t.Errorf("error %d = %+v (%v), want rule %q field %q text %q", i, got, got, want.rule, want.field, want.text)
				}
			}
		})
	}
}

// TestEvaluateIsPure checks that Evaluate leaves the event as it found it,
// even when rules set state and join rooms.
func TestEvaluateIsPure(t *testing.T) {
	rs := loadRules(t, `
rules:
  - name: change
    on: e
    do:
      - set("k", 2)
      - join("b")
      - leave("a")
  - name: read
    on: e
    do:
      - emit("x", socket.state.k, socket.rooms)
`)
	ev := &rules.Event{Kind: rules.TriggerEvent, Name: "e", Socket: rules.Socket{Rooms: []string{"a"}, State: map[string]any{"k": 1}}}
	first := rs.Evaluate(ev)
	if !reflect.DeepEqual(ev.Socket, rules.Socket{Rooms: []string{"a"}, State: map[string]any{"k": 1}}) {
		t.Errorf("Evaluate changed the event's socket: %+v", ev.Socket)
	}
	second := rs.Evaluate(ev)
	if !reflect.DeepEqual(first, second) {
		t.Errorf("two evaluations of one event differ:\n%s\n%s", asJSON(first), asJSON(second))
	}
	want := rules.Action{Kind: "emit", Rule: "read", Event: "x", Args: []any{2, []string{"b"}}}
	if n := len(first.Actions); n == 0 || !reflect.DeepEqual(first.Actions[n-1], want) {
		t.Errorf("last action %s, want %s", asJSON(first.Actions), asJSON(want))
	}
}

// TestEvaluateConcurrent runs one ruleset from many goroutines; run with
// -race.
func TestEvaluateConcurrent(t *testing.T) {
	rs := loadRules(t, "file:../config.yaml")
	done := make(chan rules.Result)
	for i := 0; i < 8; i++ {
		go func() { done <- rs.Evaluate(socketEvent("send_message", "hi")) }()
	}
	for i := 0; i < 8; i++ {
		if res := <-done; len(res.Actions) != 2 {
			t.Errorf("got %s, want two actions", asJSON(res.Actions))
		}
	}
}

// TestMatch checks which rules an event selects before when is checked.
func TestMatch(t *testing.T) {
	rs := loadRules(t, namespacedConfig)
	names := func(rs []*rules.Rule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return out
	}
	tests := []struct {
		event *rules.Event
		want  []string
	}{
		{socketEvent("say"), []string{"root-say"}},
		{&rules.Event{Kind: rules.TriggerEvent, Name: "say", Namespace: "/chat"}, []string{"chat-say"}},
		{&rules.Event{Kind: rules.TriggerConnection, Namespace: "/chat"}, []string{"chat-join"}},
		{&rules.Event{Kind: rules.TriggerEvent, Name: "say", Namespace: "/other"}, nil},
		{&rules.Event{Kind: rules.TriggerHTTP, Name: "say"}, nil},
	}
	for _, tc := range tests {
		if got := names(rs.Match(tc.event)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Match(%+v) = %q, want %q", tc.event, got, tc.want)
		}
	}
}

// loadRules loads config, a YAML document or "file:PATH", with the
// built-in registry.
func loadRules(t *testing.T, config string) *rules.Ruleset {
	t.Helper()
	path, ok := strings.CutPrefix(config, "file:")
	if !ok {
		path = writeConfig(t, config)
	}
	rs, err := rules.Load(path, builtin.Registry(), noEnv)
	if err != nil {
		t.Fatalf("load:\n%v", err)
	}
	return rs
}

// sameActions compares action lists, treating nil and empty lists alike,
// in the list and in each action's Args, Rooms and Headers: the router
// treats them the same.
func sameActions(got, want []rules.Action) bool {
	return reflect.DeepEqual(normalize(got), normalize(want))
}

func normalize(in []rules.Action) []rules.Action {
	if len(in) == 0 {
		return nil
	}
	out := make([]rules.Action, len(in))
	for i, a := range in {
		if len(a.Args) == 0 {
			a.Args = nil
		}
		if len(a.Rooms) == 0 {
			a.Rooms = nil
		}
		if len(a.Headers) == 0 {
			a.Headers = nil
		}
		out[i] = a
	}
	return out
}

// asJSON renders v for a readable failure message. JSON conflates some Go
// types (int and float64, nil and empty), so failures also print %#v.
func asJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}
