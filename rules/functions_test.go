package rules_test

import (
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// reviewedFunctions is every function expressions may call, each reviewed:
// none reads the environment or the filesystem, or does I/O, and what
// builds large values is charged to limits.expr_memory. A function that is
// added (a new plugin, a new expr version) fails TestExprFunctions until it
// is reviewed and listed here.
var reviewedFunctions = map[string]string{
	// Internal: the compiler's rewrites call them (rules/lookup.go, rules/budget.go).
	"$charge": "charges a value's size to the run's budget",
	"$in":     "`in` that reads false for a key of the wrong type",
	"$lookup": "m[k] that reads nil for a key of the wrong type",

	// The environment: reads of this node's rooms through rules.ServerView.
	"room_size":    "reads the router's room table, in memory",
	"socket_rooms": "reads the router's room table, in memory",
	// Auth (rules/auth.go, internal/jwtauth): verification in memory with
	// the configured secret, key or fetched JWKS. No I/O on the event's
	// path: a token naming an unknown kid only wakes the JWKS task, which
	// refreshes at most once per interval, in the background.
	"jwt":       "verifies a token in memory",
	"jwt_error": "verifies a token in memory",
	"bearer":    "string: the token of an Authorization header",

	// Plugins: each builds an action value; the router executes it.
	"broadcast": "action", "broadcast_others": "action", "disconnect": "action",
	"disconnect_room": "action", "emit": "action", "join": "action (the rooms plugin's; it hides expr's join)",
	"leave": "action", "log": "action", "log_at": "action", "reject": "action",
	"reply": "action", "respond": "action", "set": "action", "spread": "value",
	"to": "action", "to_others": "action",
	"nats_publish": "action (the nats plugin's: executing it publishes, evaluating it does no I/O)",
	"webhook":      "action (the POST is the router's, after evaluation)", "forward": "action (the POST is the router's, after evaluation)",

	// expr v1.17.8 builtins: pure functions of their arguments.
	"abs": "math", "ceil": "math", "floor": "math", "round": "math",
	"int": "conversion", "float": "conversion", "string": "conversion", "type": "type name",
	"max": "math", "min": "math", "mean": "math", "median": "math", "sum": "math",
	"bitand": "bits", "bitnand": "bits", "bitnot": "bits", "bitor": "bits",
	"bitshl": "bits", "bitshr": "bits", "bitushr": "bits", "bitxor": "bits",
	"len": "size", "get": "read", "first": "read", "last": "read",
	"all": "loop", "any": "loop", "none": "loop", "one": "loop", "filter": "loop",
	"map": "loop", "find": "loop", "findIndex": "loop", "findLast": "loop",
	"findLastIndex": "loop", "count": "loop", "groupBy": "loop", "sortBy": "loop",
	"reduce": "loop",
	"concat": "list", "flatten": "list", "reverse": "list", "sort": "list",
	"take": "list", "uniq": "list", "keys": "mapping", "values": "mapping",
	"toPairs": "mapping", "fromPairs": "mapping",
	"lower": "string", "upper": "string", "trim": "string", "trimPrefix": "string",
	"trimSuffix": "string", "split": "string", "splitAfter": "string",
	"replace": "string", "repeat": "string (expr caps it and charges its size)",
	"indexOf": "string", "lastIndexOf": "string", "hasPrefix": "string", "hasSuffix": "string",
	"toJSON": "encoding", "fromJSON": "encoding", "toBase64": "encoding", "fromBase64": "encoding",
	"duration": "parses a duration",
	"now":      "reads the clock: no environment, file or network, but its value changes between runs",
}

// TestExprFunctions fails on a function expressions can call that is not
// reviewed, and on a reviewed one that is gone (the list must not rot).
func TestExprFunctions(t *testing.T) {
	got := map[string]bool{}
	for _, name := range rules.ExprFunctions(builtin.Registry()) {
		got[name] = true
		if _, ok := reviewedFunctions[name]; !ok {
			t.Errorf("expressions can call %s, which is not reviewed: check that it reads no environment variable or file and does no I/O, then add it to reviewedFunctions (or disable it, see rules/budget.go)", name)
		}
	}
	for name := range reviewedFunctions {
		if !got[name] {
			t.Errorf("reviewedFunctions lists %s, which expressions cannot call", name)
		}
	}
	// Disabled: they read the tz database from the filesystem.
	for _, name := range []string{"timezone", "date"} {
		if got[name] {
			t.Errorf("expressions can call %s", name)
		}
	}
}

// TestDisabledBuiltinsFailTheLoad: a disabled builtin is an unknown
// function, reported at load.
func TestDisabledBuiltinsFailTheLoad(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`log(timezone("Europe/Paris"))`, "timezone"},
		{`log(date("2024-01-01", "2006-01-02", "../../etc/passwd"))`, "date"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := rules.Compile(&rules.Config{Namespaces: []string{"/"}, Rules: []rules.RuleSpec{{Name: "r", On: "msg", Do: []string{tc.expr}}}}, builtin.Registry())
			if err == nil || !strings.Contains(err.Error(), "unknown") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile(%s) = %v, want an unknown name error naming %q", tc.expr, err, tc.want)
			}
		})
	}
}
