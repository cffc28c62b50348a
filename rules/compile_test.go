package rules_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// TestCompile compiles decoded configs, as a program embedding eventrouter
// would, without a file.
func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		rules   []rules.RuleSpec
		wantErr string // "" means Compile must succeed
	}{
		{
			name:  "every trigger kind",
			rules: []rules.RuleSpec{{Name: "a", On: "connection", Do: []string{`join("lobby")`}}, {Name: "b", On: "disconnect", Do: []string{`log(reason)`}}, {Name: "c", On: "msg", Do: []string{`reply(data)`}}, {Name: "d", On: "*", Do: []string{`log(event)`}}, {Name: "e", On: "DELETE /x/{id}", Do: []string{`respond(204, nil)`}}},
		},
		{
			name:  "two rules may share a route",
			rules: []rules.RuleSpec{{Name: "log", On: "POST /post", Do: []string{`log(body)`}}, {Name: "answer", On: "POST /post", Do: []string{`respond(200, body)`}}},
		},
		{
			name:  "a conditional yields one action or another",
			rules: []rules.RuleSpec{{Name: "a", On: "msg", Do: []string{`data == nil ? log("empty") : emit("echo", data)`}}},
		},
		{
			name:  "broadcast is allowed in HTTP rules",
			rules: []rules.RuleSpec{{Name: "a", On: "POST /publish", Do: []string{`broadcast("news", body)`, `respond(202, nil)`}}},
		},
		{
			name:    "when must be boolean, not a string",
			rules:   []rules.RuleSpec{{Name: "a", On: "msg", When: `"yes"`, Do: []string{`log(data)`}}},
			wantErr: `rule "a": when: want true or false, got a string`,
		},
		{
			name:    "wrong argument type",
			rules:   []rules.RuleSpec{{Name: "a", On: "msg", Do: []string{`emit(1, data)`}}},
			wantErr: `rule "a": do[0]:`,
		},
		{
			name:    "a rule needs a name",
			rules:   []rules.RuleSpec{{On: "msg", Do: []string{`log(data)`}}},
			wantErr: "rules[0]: a rule needs a name",
		},
		{
			name:    "emit is not for disconnect",
			rules:   []rules.RuleSpec{{Name: "a", On: "disconnect", Do: []string{`emit("bye")`}}},
			wantErr: `rule "a": do[0]: emit(event, args...) is only valid in socket event or connection rules, not in a disconnect rule`,
		},
		{
			name:    "reply is for socket events only",
			rules:   []rules.RuleSpec{{Name: "a", On: "connection", Do: []string{`reply("hi")`}}},
			wantErr: `reply(args...) is only valid in socket event rules, not in a connection rule`,
		},
		{
			name:    "set in an HTTP rule",
			rules:   []rules.RuleSpec{{Name: "a", On: "GET /x", Do: []string{`set("k", 1)`, `respond(200, nil)`}}},
			wantErr: `set(key, value) is only valid in socket event or connection rules, not in a HTTP route rule`,
		},
		{
			name:    "a restricted call inside when is checked too",
			rules:   []rules.RuleSpec{{Name: "a", On: "msg", When: `respond(200, nil) != nil`, Do: []string{`log(data)`}}},
			wantErr: `rule "a": when: respond(status, body[, headers]) is only valid in HTTP route rules`,
		},
		{
			name:    "HTTP rules have no namespace",
			rules:   []rules.RuleSpec{{Name: "a", On: "GET /x", Namespace: "/", Do: []string{`respond(200, nil)`}}},
			wantErr: `rule "a": namespace: HTTP rules have no namespace`,
		},
		{
			name:    "invalid route pattern",
			rules:   []rules.RuleSpec{{Name: "a", On: "GET /x/{", Do: []string{`respond(200, nil)`}}},
			wantErr: `rule "a": on: route GET /x/{:`,
		},
		{
			name:    "route without a slash",
			rules:   []rules.RuleSpec{{Name: "a", On: "GET x", Do: []string{`respond(200, nil)`}}},
			wantErr: `on: "GET x" is not a route`,
		},
		{
			name:    "reserved Socket.IO event",
			rules:   []rules.RuleSpec{{Name: "a", On: "disconnecting", Do: []string{`log("x")`}}},
			wantErr: `on: cannot route event "disconnecting": it is reserved by Socket.IO`,
		},
		{
			name:    "a string is not an action",
			rules:   []rules.RuleSpec{{Name: "a", On: "msg", Do: []string{`"emit"`}}},
			wantErr: `do[0]: yields a string, want an action`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := rules.Defaults()
			cfg.Rules = tc.rules
			rs, err := rules.Compile(&cfg, builtin.Registry())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				if len(rs.Rules) != len(tc.rules) {
					t.Errorf("%d compiled rules, want %d", len(rs.Rules), len(tc.rules))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Compile error:\n%v\nwant %q", err, tc.wantErr)
			}
			var le *rules.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error is %T, want *rules.LoadError", err)
			}
			for _, p := range le.Problems {
				// Without a file there is nothing to point at.
				if p.File != "" || p.Line != 0 {
					t.Errorf("problem %+v has a position without a file", p)
				}
			}
		})
	}
}

// TestCompiledRules checks what a compiled rule records about itself.
func TestCompiledRules(t *testing.T) {
	reg := builtin.Registry()
	rs, err := rules.Load("testdata/multi-namespace.good.yaml", reg, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Registry() != reg {
		t.Error("Registry() is not the registry the rules were compiled against")
	}
	want := []struct {
		name, on, ns string
		kind         rules.TriggerKind
	}{
		{"root-ping", "ping", "/", rules.TriggerEvent},
		{"chat-say", "say", "/chat", rules.TriggerEvent},
		{"admin-connect", "connection", "/admin", rules.TriggerConnection},
	}
	if len(rs.Rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(rs.Rules), len(want))
	}
	for i, w := range want {
		r := rs.Rules[i]
		if r.Name != w.name || r.On != w.on || r.Namespace != w.ns || r.Kind != w.kind || r.Index != i {
			t.Errorf("rule %d = {%s %s %s %v %d}, want {%s %s %s %v %d}", i, r.Name, r.On, r.Namespace, r.Kind, r.Index, w.name, w.on, w.ns, w.kind, i)
		}
	}
	if len(rs.Routes) != 0 {
		t.Errorf("Routes = %q, want none", rs.Routes)
	}
}

// TestExprPositions checks that an error inside an expression points at
// its line and column in the file, whatever the YAML style.
func TestExprPositions(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		line, col int
	}{
		{"plain", `rules:
  - name: r
    on: msg
    do:
      - emit("x", dta)
`, 5, 19},
		{"single-quoted", `rules:
  - name: r
    on: msg
    do:
      - 'emit("x", dta)'
`, 5, 20},
		{"double-quoted", `rules:
  - name: r
    on: msg
    when: "data != nil && dta"
`, 4, 27},
		{"literal block, second line", `rules:
  - name: r
    on: msg
    when: |
      data != nil &&
      dta.ok
    do:
      - log(data)
`, 6, 7},
		{"literal block item, extra indentation kept", `rules:
  - name: r
    on: msg
    do:
      - |
        emit("x",
          dta)
`, 7, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rules.Load(writeConfig(t, tc.yaml), builtin.Registry(), noEnv)
			var le *rules.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v, want a *LoadError", err)
			}
			var found bool
			for _, p := range le.Problems {
				if strings.Contains(p.Message, "unknown name dta") {
					found = true
					if p.Line != tc.line || p.Column != tc.col {
						t.Errorf("%s at %d:%d, want %d:%d", p.Message, p.Line, p.Column, tc.line, tc.col)
					}
				}
			}
			if !found {
				t.Errorf("no unknown name dta in:\n%v", err)
			}
		})
	}
}
