package rules_test

import (
	"errors"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// TestExprMessages pins how each kind of expr compile error reads: in
// config words, with no Go type, and with a suggestion where a name or a
// field is misspelt.
func TestExprMessages(t *testing.T) {
	tests := []struct {
		on, expr string
		want     string
	}{
		{"msg", `brodcast("a", data)`, `do[0]: unknown function brodcast, did you mean broadcast? (at 1:1 of the expression)`},
		{"msg", `log(uper(data))`, `do[0]: unknown function uper, did you mean upper? (at 1:5 of the expression)`},
		{"msg", `log(sokcet.id)`, `do[0]: unknown name sokcet, did you mean socket? (at 1:5 of the expression)`},
		{"msg", `log(zzzz)`, `do[0]: unknown name zzzz (at 1:5 of the expression)`},
		{"POST /x", `respond(200, request.param)`, `do[0]: request has no field param, did you mean params? (at 1:22 of the expression)`},
		{"msg", `log(socket.handshake.auht)`, `do[0]: socket.handshake has no field auht, did you mean auth? (at 1:22 of the expression)`},
		{"msg", `log(socket.idd)`, `do[0]: socket has no field idd, did you mean id? (at 1:12 of the expression)`},
		{"msg", `emit(1, data)`, `do[0]: emit(event, args...): want a string here, got a number (at 1:6 of the expression)`},
		{"msg", `emit()`, `do[0]: not enough arguments to call emit(event, args...) (at 1:1 of the expression)`},
		{"msg", `log(socket.id + 1)`, `do[0]: cannot apply + to a string and a number (at 1:15 of the expression)`},
		{"msg", `log(-socket.id)`, `do[0]: cannot apply - to a string (at 1:5 of the expression)`},
		{"msg", `log(args.first)`, `do[0]: list items are selected by number, as in list[0], not by a string (at 1:10 of the expression)`},
		{"msg", `log(socket.id())`, `do[0]: a string cannot be called (at 1:12 of the expression)`},
		{"msg", `socket.ack ? log("a") : log("b")`, `do[0]: socket has no field ack (at 1:8 of the expression)`},
		{"msg", `1 ? log("a") : log("b")`, `do[0]: a condition must be true or false, got a number (at 1:1 of the expression)`},
		{"msg", `log(filter(1, true))`, `do[0]: filter takes a list, got a number (at 1:12 of the expression)`},
		{"msg", `log(len(1))`, `do[0]: len cannot take a number (at 1:5 of the expression)`},
		{"msg", `emit("a", [1, 2] + 1)`, `do[0]: cannot apply + to a list and a number (at 1:18 of the expression)`},
		{"msg", `emit("a", data) + 1`, `do[0]: cannot apply + to an action and a number (at 1:17 of the expression)`},
		{"msg", `socket.rooms`, `do[0]: yields a list, want an action such as emit(...) or log(...)`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			cfg := rules.Defaults()
			cfg.Rules = []rules.RuleSpec{{Name: "r", On: tc.on, Do: []string{tc.expr}}}
			_, err := rules.Compile(&cfg, builtin.Registry())
			var le *rules.LoadError
			if !errors.As(err, &le) || len(le.Problems) != 1 {
				t.Fatalf("Compile(%s) = %v, want one problem", tc.expr, err)
			}
			if got := le.Problems[0]; got.Rule != "r" || got.Message != tc.want {
				t.Errorf("Compile(%s)\n got rule %q: %s\nwant rule \"r\": %s", tc.expr, got.Rule, got.Message, tc.want)
			}
			if goType := goTypeName.FindString(le.Problems[0].Message); goType != "" {
				t.Errorf("Compile(%s) names the Go type %q", tc.expr, goType)
			}
		})
	}
}

// TestYAMLErrors pins where a YAML syntax error is reported and which hint
// comes with it: a hint only when it applies.
func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // the problem after the file name
	}{
		{"tab", "server:\n\tlisten: x\n", ":2:1: invalid YAML: found character that cannot start any token (indent with spaces: YAML does not allow tabs)"},
		{"colon in expression", "rules:\n  - name: a\n    on: a\n    when: data.kind == \"a: b\"\n    do: [log(data)]\n", `:4:5: invalid YAML: mapping values are not allowed in this context (an expression that holds ": " must be quoted, as in 'data.kind == "a: b"')`},
		{"mis-indented item", "rules:\n  - name: a\n    on: a\n    do:\n      - log(\"a\")\n     - log(\"b\")\n", ":6:6: invalid YAML: did not find expected key (check this line's indentation against the lines above it)"},
		{"item under a key", "rules:\n  - name: a\n    on: a\n    do:\n    - log(\"a\")\n  - log(\"b\")\n  x: 1\n", ":7:3: invalid YAML: did not find expected '-' indicator (check this line's indentation against the lines above it)"},
		{"quote that does not end the value", "rules:\n  - name: a\n    on: a\n    do:\n      - \"a\" + data\n", ":5:7: invalid YAML: did not find expected '-' indicator (a value that starts with a quote must end with it: quote the whole expression)"},
		{"bare star", "rules:\n  - name: a\n    on: *\n    do: [log(\"a\")]\n", `:3:5: invalid YAML: did not find expected alphabetic or numeric character (* must be quoted: "*")`},
		{"unclosed list", "server:\n  cors:\n    origins: [a, b\n  listen: x\n", ":3:5: invalid YAML: did not find expected ',' or ']'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.yaml)
			_, err := rules.Load(path, builtin.Registry(), noEnv)
			var le *rules.LoadError
			if !errors.As(err, &le) || len(le.Problems) != 1 {
				t.Fatalf("Load = %v, want one problem", err)
			}
			if got := le.Problems[0].String(); got != path+tc.want {
				t.Errorf("Load\n got %s\nwant %s", got, path+tc.want)
			}
		})
	}
}
