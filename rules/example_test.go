package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// A third-party plugin registers exactly as the built-ins do: expr
// functions that build actions, and the executor that carries them out.
func Example() {
	reg := builtin.Registry()
	reg.MustRegister(rules.Plugin{
		Name: "shout",
		Doc:  "Shouts text to the log.",
		Functions: []rules.Function{{
			Name:  "shout",
			Usage: "shout(text)",
			Doc:   "logs text in capitals.",
			Types: []any{new(func(string) rules.Action)},
			Build: func(args ...any) (any, error) {
				return rules.Action{Kind: "shout", Message: strings.ToUpper(args[0].(string)) + "!"}, nil
			},
		}},
		Kinds: []string{"shout"},
		Executor: rules.ExecutorFunc(func(_ context.Context, fx rules.Effects, a rules.Action) error {
			fx.Log(a.Rule, "warn", a.Message)
			return nil
		}),
	})

	cfg := rules.Defaults()
	cfg.Rules = []rules.RuleSpec{{
		Name: "loud",
		On:   "say",
		When: "data != nil",
		Do:   []string{`shout(data.text)`, `broadcast("said", data.text)`},
	}}
	rs, err := rules.Compile(&cfg, reg)
	if err != nil {
		fmt.Println(err)
		return
	}

	res := rs.Evaluate(&rules.Event{
		Kind: rules.TriggerEvent,
		Name: "say",
		Args: []any{map[string]any{"text": "hello"}},
	})
	for _, a := range res.Actions {
		out, _ := json.Marshal(a)
		fmt.Println(string(out))
	}
	// Output:
	// {"kind":"shout","rule":"loud","message":"HELLO!"}
	// {"kind":"broadcast","rule":"loud","event":"said","args":["hello"]}
}

// Rules are pure: a table of events and the actions they should produce
// is a complete test of a config, without a network.
func ExampleRuleset_Evaluate() {
	rs, err := rules.Load("../config.yaml", builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range []*rules.Event{
		{Kind: rules.TriggerConnection, Name: "connection", Socket: rules.Socket{ID: "abc"}},
		{Kind: rules.TriggerEvent, Name: "send_message", Args: []any{"hi"}},
		{Kind: rules.TriggerEvent, Name: "unknown"},
		{Kind: rules.TriggerHTTP, Name: "POST /post", Request: rules.Request{Body: map[string]any{"n": 1}}},
	} {
		fmt.Printf("%s:\n", ev.Name)
		for _, a := range rs.Evaluate(ev).Actions {
			out, _ := json.Marshal(a)
			fmt.Printf("  %s\n", out)
		}
	}
	// Output:
	// connection:
	//   {"kind":"log","rule":"connected","message":"client connected: abc","level":"info"}
	// send_message:
	//   {"kind":"log","rule":"chat","message":"受信メッセージ: hi","level":"info"}
	//   {"kind":"broadcast","rule":"chat","event":"receive_message","args":["hi"]}
	// unknown:
	// POST /post:
	//   {"kind":"log","rule":"post-echo","message":"POST受信: {\"n\":1}","level":"info"}
	//   {"kind":"respond","rule":"post-echo","status":200,"body":{"message":"受け取りました","received":{"n":1}}}
}

// Load reports every problem of a config at once, each with its position.
func ExampleLoad() {
	_, err := rules.Load("testdata/many-problems.bad.yaml", builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	fmt.Println(err)
	// Output:
	// testdata/many-problems.bad.yaml:2:3: server.listen: want a string, got the number 3000
	// testdata/many-problems.bad.yaml:4:5: unknown key server.cors.methiods, did you mean methods?
	// testdata/many-problems.bad.yaml:6:3: socketio.ping_interval: want a duration with a unit such as "10s" or "500ms", got 5
	// testdata/many-problems.bad.yaml:11:9: rule "a": do[0]: respond(status, body[, headers]) is only valid in HTTP route rules, not in a socket event rule
	// testdata/many-problems.bad.yaml:12:5: rule "a": duplicate rule name, first used by the rule at line 8
	// testdata/many-problems.bad.yaml:13:5: rule "a": on: cannot route event "connect": use on: connection
	// testdata/many-problems.bad.yaml:15:9: rule "a": do[0]: yields a number, want an action such as emit(...) or log(...)
}
