// Package builtin assembles the registry of built-in action plugins.
package builtin

import (
	"github.com/eventrouter/eventrouter/actions/backends"
	"github.com/eventrouter/eventrouter/actions/disconnect"
	"github.com/eventrouter/eventrouter/actions/emit"
	"github.com/eventrouter/eventrouter/actions/logaction"
	"github.com/eventrouter/eventrouter/actions/nats"
	"github.com/eventrouter/eventrouter/actions/reject"
	"github.com/eventrouter/eventrouter/actions/respond"
	"github.com/eventrouter/eventrouter/actions/rooms"
	"github.com/eventrouter/eventrouter/actions/state"
	"github.com/eventrouter/eventrouter/rules"
)

// Plugins returns every built-in plugin. Each call makes new instances of
// the plugins that hold state (nats: its connection).
func Plugins() []rules.Plugin {
	return []rules.Plugin{
		logaction.Plugin(),
		emit.Plugin(),
		rooms.Plugin(),
		state.Plugin(),
		respond.Plugin(),
		reject.Plugin(),
		disconnect.Plugin(),
		nats.New().Plugin(),
		backends.Plugin(),
	}
}

// Registry returns a new registry holding every built-in plugin. Each call
// builds a fresh one, so callers may add their own plugins to it.
func Registry() *rules.Registry {
	reg := rules.NewRegistry()
	for _, p := range Plugins() {
		reg.MustRegister(p)
	}
	return reg
}
