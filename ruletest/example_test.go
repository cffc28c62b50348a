package ruletest_test

import (
	"fmt"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/eventrouter/eventrouter/ruletest"
)

// A table-driven rule test in Go: compile rules, then check a table of
// events against the actions they must yield. In a _test.go file, run
// each row in t.Run and report Check's error with t.Error.
func Example() {
	cfg := rules.Defaults()
	cfg.Rules = []rules.RuleSpec{
		{Name: "chat", On: "send_message", Do: []string{
			`log("受信メッセージ:", data)`,
			`broadcast("receive_message", data)`,
		}},
		{Name: "post-echo", On: "POST /post", Do: []string{
			`respond(200, {"message": "受け取りました", "received": body})`,
		}},
	}
	rs, err := rules.Compile(&cfg, builtin.Registry())
	if err != nil {
		fmt.Println(err)
		return
	}

	type A = ruletest.Action
	tests := []ruletest.Case{
		{
			Name:  "chat is broadcast unchanged",
			Event: ruletest.Event{On: "send_message", Data: map[string]any{"text": "hi", "n": 1}},
			Expect: ruletest.Expect{Actions: []A{
				{"kind": "log", "message": `受信メッセージ: {"n":1,"text":"hi"}`},
				{"kind": "broadcast", "event": "receive_message", "args": []any{map[string]any{"text": "hi", "n": 1.0}}},
			}},
		},
		{
			Name:   "POST /post echoes the body",
			Event:  ruletest.Event{On: "POST /post", Body: map[string]any{"name": "taro"}},
			Expect: ruletest.Expect{Contains: []A{{"kind": "respond", "status": 200, "body": map[string]any{"message": "受け取りました"}}}},
		},
		{
			Name:   "nobody listens to other events",
			Event:  ruletest.Event{On: "typing"},
			Expect: ruletest.Expect{NoActions: true},
		},
		{
			Name:   "a wrong expectation fails with a diff",
			Event:  ruletest.Event{On: "send_message", Data: "hi"},
			Expect: ruletest.Expect{Contains: []A{{"kind": "emit", "event": "receive_message"}}},
		},
	}
	for _, tc := range tests {
		if err := ruletest.Check(rs, tc); err != nil {
			fmt.Printf("FAIL %v\n", err)
			continue
		}
		fmt.Println("ok  ", tc.Name)
	}
	// Output:
	// ok   chat is broadcast unchanged
	// ok   POST /post echoes the body
	// ok   nobody listens to other events
	// FAIL case "a wrong expectation fails with a diff":
	// expected actions not found in order (- missing):
	// - {"kind":"emit","event":"receive_message"}
	// actual actions:
	// + {"kind":"log","message":"受信メッセージ: hi"}
	// + {"kind":"broadcast","event":"receive_message","args":["hi"]}
}

// Eval shows what rules make of an event, for a table to be written from.
func ExampleEval() {
	cfg := rules.Defaults()
	cfg.Rules = []rules.RuleSpec{{Name: "hello", On: "connection", Do: []string{`emit("welcome", socket.id)`, `join("lobby")`}}}
	rs, err := rules.Compile(&cfg, builtin.Registry())
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := ruletest.Eval(rs, ruletest.Case{Event: ruletest.Event{On: "connection"}, Socket: ruletest.Socket{ID: "abc"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range res.Actions {
		fmt.Println(ruletest.FromAction(a))
	}
	// Output:
	// map[args:[abc] event:welcome kind:emit rule:hello]
	// map[kind:join rooms:[lobby] rule:hello]
}
