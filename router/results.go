package router

import (
	"sync"

	"github.com/eventrouter/eventrouter/rules"
)

// results holds the Results onEvent evaluates into, so evaluating a client
// event reuses the memory of the last one (rules.Ruleset.EvaluateInto).
// A pool rather than one per socket: an idle socket holds none.
var results = sync.Pool{New: func() any { return new(rules.Result) }}
