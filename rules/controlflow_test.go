package rules_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// gateConfig is the obvious auth gate: a token must name a user in vars.
const gateConfig = `
vars:
  tokens: {t-ann: ann}
rules:
  - name: gate
    on: connection
    when: vars.tokens[socket.handshake.auth.token] == nil
    do:
      - log_at("warn", "refused", socket.handshake.address)
      - reject("unauthorized")
      - log("after reject, same rule")
  - name: welcome
    on: connection
    do:
      - emit("hello", "user " + vars.tokens[socket.handshake.auth.token])
`

// finalConfig stops at a matching rule with final: true.
const finalConfig = `
rules:
  - name: ping
    on: ping
    final: true
    when: data == "stop"
    do: [reply("stopped")]
  - name: fallback
    on: "*"
    do: [reply("fallback")]
`

// elseGateConfig gates connections with do and else.
const elseGateConfig = `
vars: {tokens: {t1: ann}}
rules:
  - name: gate
    on: connection
    when: vars.tokens[socket.handshake.auth.token] != nil
    do:
      - set("user", vars.tokens[socket.handshake.auth.token])
    else: [reject("unauthorized")]
  - name: welcome
    on: connection
    do: ['emit("hello", socket.state.user)']
`

func connectWith(auth map[string]any) *rules.Event {
	return &rules.Event{Kind: rules.TriggerConnection, Name: "connection", Socket: rules.Socket{ID: "s1", Handshake: rules.Handshake{Auth: auth, Address: "10.0.0.1"}}}
}

// controlFlowTests cover fail-closed gates, final, else, on_error, the
// answers evaluation adds for failed or unanswered events, and the server
// reads.
var controlFlowTests = []evalCase{
	{
		name:   "gate/known token is let in",
		config: gateConfig,
		event:  connectWith(map[string]any{"token": "t-ann"}),
		want:   []rules.Action{{Kind: "emit", Rule: "welcome", Event: "hello", Args: []any{"user ann"}}},
	},
	{
		name:   "gate/a numeric token reads as unknown and is refused",
		config: gateConfig,
		event:  connectWith(map[string]any{"token": 42.0}),
		want: []rules.Action{
			{Kind: "log", Rule: "gate", Level: "warn", Message: "refused 10.0.0.1"},
			{Kind: "reject", Rule: "gate", Message: "unauthorized"},
			{Kind: "log", Rule: "gate", Level: "info", Message: "after reject, same rule"},
		},
		wantMatched: []string{"gate"},
	},
	{
		name:        "gate/a list token reads as unknown and is refused",
		config:      gateConfig,
		event:       connectWith(map[string]any{"token": []any{"x"}}),
		want:        []rules.Action{{Kind: "log", Rule: "gate", Level: "warn", Message: "refused 10.0.0.1"}, {Kind: "reject", Rule: "gate", Message: "unauthorized"}, {Kind: "log", Rule: "gate", Level: "info", Message: "after reject, same rule"}},
		wantMatched: []string{"gate"},
	},
	{
		name:   "gate/no auth at all is refused",
		config: gateConfig,
		event:  connectWith(nil),
		want:   []rules.Action{{Kind: "log", Rule: "gate", Level: "warn", Message: "refused 10.0.0.1"}, {Kind: "reject", Rule: "gate", Message: "unauthorized"}, {Kind: "log", Rule: "gate", Level: "info", Message: "after reject, same rule"}},
	},
	{
		name: "fail closed/a connection rule that fails refuses with the generic message",
		config: `
socketio: {error_message: "try again later"}
rules:
  - name: broken
    on: connection
    when: socket.handshake.auth.n > 1
    do: [emit("ok")]
  - name: later
    on: connection
    do: [emit("later")]
`,
		event:      connectWith(map[string]any{"n": "text"}),
		want:       []rules.Action{{Kind: "reject", Rule: "broken", Message: "try again later"}},
		wantErrors: []wantError{{"broken", "when", "invalid operation"}},
	},
	{
		name: "fail closed/a failing do item refuses too, and earlier rules' actions stay in order",
		config: `
rules:
  - name: first
    on: connection
    do: [log("first")]
  - name: broken
    on: connection
    do: ['emit("x", "a" + socket.state.missing)']
`,
		event: connectWith(nil),
		want: []rules.Action{
			{Kind: "log", Rule: "first", Level: "info", Message: "first"},
			{Kind: "reject", Rule: "broken", Message: "internal error"},
		},
		wantErrors: []wantError{{"broken", "do[0]", "invalid operation"}},
	},
	{
		name: "fail closed/on_error continue lets the connection in",
		config: `
rules:
  - name: optional
    on: connection
    on_error: continue
    do: ['emit("x", "a" + socket.state.missing)']
  - name: later
    on: connection
    do: [emit("later")]
`,
		event:      connectWith(nil),
		want:       []rules.Action{{Kind: "emit", Rule: "later", Event: "later"}},
		wantErrors: []wantError{{"optional", "do[0]", "invalid operation"}},
	},
	{
		name:        "final/stops later rules after a match",
		config:      finalConfig,
		event:       socketEvent("ping", "stop"),
		want:        []rules.Action{{Kind: "reply", Rule: "ping", Args: []any{"stopped"}}},
		wantMatched: []string{"ping"},
	},
	{
		name:        "final/a rule that does not match does not stop",
		config:      finalConfig,
		event:       socketEvent("ping", "go"),
		want:        []rules.Action{{Kind: "reply", Rule: "fallback", Args: []any{"fallback"}}},
		wantMatched: []string{"fallback"},
	},
	{
		name:        "else/runs when when is false, and reject in it stops evaluation",
		config:      elseGateConfig,
		event:       connectWith(map[string]any{"token": 7.0}),
		want:        []rules.Action{{Kind: "reject", Rule: "gate", Message: "unauthorized"}},
		wantMatched: []string{"gate"},
	},
	{
		name:   "else/the do branch and later rules see its state",
		config: elseGateConfig,
		event:  connectWith(map[string]any{"token": "t1"}),
		want: []rules.Action{
			{Kind: "set", Rule: "gate", Key: "user", Value: "ann"},
			{Kind: "emit", Rule: "welcome", Event: "hello", Args: []any{"ann"}},
		},
	},
	{
		name: "ack/a failed rule answers an awaited ack with an error",
		config: `
rules:
  - name: sum
    on: sum
    do: ['reply(data.a + data.b)']
`,
		event: func() *rules.Event {
			ev := socketEvent("sum", map[string]any{"a": 1.0, "b": "x"})
			ev.HasAck = true
			return ev
		}(),
		want:       []rules.Action{{Kind: "reply", Rule: "sum", Args: []any{map[string]any{"error": "internal error"}}}},
		wantErrors: []wantError{{"sum", "do[0]", "invalid operation"}},
	},
	{
		name: "ack/no ack is added when the client awaits none",
		config: `
rules:
  - name: sum
    on: sum
    do: ['reply(data.a + data.b)']
`,
		event:      socketEvent("sum", map[string]any{"a": 1.0, "b": "x"}),
		want:       nil,
		wantErrors: []wantError{{"sum", "do[0]", "invalid operation"}},
	},
	{
		name: "ack/unanswered stays silent by default",
		config: `
rules:
  - name: other
    on: other
    do: [reply("x")]
`,
		event: func() *rules.Event { ev := socketEvent("nobody"); ev.HasAck = true; return ev }(),
		want:  nil,
	},
	{
		name: "ack/unanswered gets an error with ack_unanswered error",
		config: `
socketio: {ack_unanswered: error}
rules:
  - name: quiet
    on: nobody
    do: [log("heard")]
`,
		event: func() *rules.Event { ev := socketEvent("nobody"); ev.HasAck = true; return ev }(),
		want: []rules.Action{
			{Kind: "log", Rule: "quiet", Level: "info", Message: "heard"},
			{Kind: "reply", Args: []any{map[string]any{"error": "unanswered"}}},
		},
	},
	{
		name: "http/a failed rule answers 500 when nothing responded",
		config: `
rules:
  - name: calc
    on: POST /calc
    do: ['respond(200, {"n": body.a + 1})']
`,
		event:      &rules.Event{Kind: rules.TriggerHTTP, Name: "POST /calc", Request: rules.Request{Method: "POST", Path: "/calc", Body: map[string]any{"a": "x"}}},
		want:       []rules.Action{{Kind: "respond", Rule: "calc", Status: 500, Body: map[string]any{"error": "internal error"}}},
		wantErrors: []wantError{{"calc", "do[0]", "invalid operation"}},
	},
	{
		name: "lookup/in with a key of the wrong type is false, not an error",
		config: `
vars: {admins: {ann: true}}
rules:
  - name: admin
    on: who
    when: data in vars.admins
    do: [reply("admin")]
    else: [reply("user")]
`,
		event: socketEvent("who", 3.0),
		want:  []rules.Action{{Kind: "reply", Rule: "admin", Args: []any{"user"}}},
	},
	{
		name: "server/room_size and socket_rooms read the server view",
		config: `
rules:
  - name: count
    on: count
    do: ['reply(room_size(data), room_size(data, "/other"), socket_rooms(), socket_rooms("s2"))']
`,
		event: func() *rules.Event {
			ev := socketEvent("count", "lobby")
			ev.Socket.Rooms = []string{"s1", "lobby"}
			ev.Server = testServer{"/": {"lobby": {"s1", "s2"}, "s2": {"s2"}}, "/other": {"lobby": {"x"}}}
			return ev
		}(),
		want: []rules.Action{{Kind: "reply", Rule: "count", Args: []any{2, 1, []string{"s1", "lobby"}, []string{"lobby", "s2"}}}},
	},
}

// testServer maps namespace → room → socket ids.
type testServer map[string]map[string][]string

func (s testServer) RoomSize(ns, room string) (int, error) { return len(s[ns][room]), nil }

func (s testServer) SocketRooms(ns, id string) ([]string, error) {
	var out []string
	for room, ids := range s[ns] {
		for _, m := range ids {
			if m == id {
				out = append(out, room)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func TestControlFlow(t *testing.T) {
	for _, tc := range controlFlowTests {
		t.Run(tc.name, func(t *testing.T) {
			rs := loadRules(t, tc.config)
			res := rs.Evaluate(tc.event)
			if !sameActions(res.Actions, tc.want) {
				t.Errorf("actions differ\n got %s\nwant %s", asJSON(res.Actions), asJSON(tc.want))
			}
			if tc.wantMatched != nil && !slices.Equal(res.Matched, tc.wantMatched) {
				t.Errorf("matched %q, want %q", res.Matched, tc.wantMatched)
			}
			if len(res.Errors) != len(tc.wantErrors) {
				t.Fatalf("%d errors, want %d: %v", len(res.Errors), len(tc.wantErrors), res.Errors)
			}
			for i, want := range tc.wantErrors {
				got := res.Errors[i]
				if got.Rule != want.rule || got.Field != want.field || !strings.Contains(got.Error(), want.text) {
					t.Errorf("error %d = %v, want rule %q field %q text %q", i, got, want.rule, want.field, want.text)
				}
			}
			// The hot path must agree.
			var into rules.Result
			rs.EvaluateInto(tc.event, &into)
			if len(into.Actions) != len(res.Actions) || !slices.Equal(into.Matched, res.Matched) {
				t.Errorf("EvaluateInto yields %d actions %q, Evaluate %d %q", len(into.Actions), into.Matched, len(res.Actions), res.Matched)
			}
		})
	}
}

func TestControlFlowConfigErrors(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"unknown on_error", `
rules:
  - name: r
    on: e
    on_error: contnue
    do: [log("x")]
`, `rule "r": on_error: want fail or continue, got "contnue", did you mean continue?`},
		{"else without when", `
rules:
  - name: r
    on: e
    do: [log("x")]
    else: [log("y")]
`, `rule "r": else: a rule without when never runs its else; add a when condition`},
		{"else item is compiled and checked", `
rules:
  - name: r
    on: e
    when: data != nil
    do: [log("x")]
    else:
      - respond(200, "no")
`, `rule "r": else[0]: respond(status, body[, headers]) is only valid in HTTP route rules, not in a socket event rule`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rules.Load(writeConfig(t, tc.config), builtin.Registry(), noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}
