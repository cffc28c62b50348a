package rules

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// TriggerKind is the kind of event a rule reacts to.
type TriggerKind uint8

// The trigger kinds. A Function may restrict itself to some of them.
const (
	TriggerEvent      TriggerKind = 1 << iota // a Socket.IO event sent by a client
	TriggerConnection                         // a socket joins a namespace
	TriggerDisconnect                         // a socket leaves
	TriggerHTTP                               // an HTTP request to a route
	TriggerSource                             // a message from a plugin's Source (on: nats:orders.>)

	// AnyTrigger allows a function in every kind of rule.
	AnyTrigger = TriggerEvent | TriggerConnection | TriggerDisconnect | TriggerHTTP | TriggerSource
	// ServerTriggers are the kinds without a socket: HTTP routes and
	// source messages.
	ServerTriggers = TriggerHTTP | TriggerSource
	// SocketTriggers are the kinds that have a socket.
	SocketTriggers = TriggerEvent | TriggerConnection | TriggerDisconnect
)

// String names the kinds in k, e.g. "event or connection".
func (k TriggerKind) String() string {
	var names []string
	for _, n := range []struct {
		k    TriggerKind
		name string
	}{{TriggerEvent, "socket event"}, {TriggerConnection, "connection"}, {TriggerDisconnect, "disconnect"}, {TriggerHTTP, "HTTP route"}, {TriggerSource, "source"}} {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, " or ")
}

// Function is one expr function a plugin contributes. Most build an Action;
// a helper may return any value.
type Function struct {
	// Name is how expressions call it. It must be a valid identifier.
	Name string
	// Usage is the call form shown in docs and errors, e.g.
	// "emit(event, args...)".
	Usage string
	// Doc says what it does, in one sentence.
	Doc string
	// Types are expr signatures, e.g. new(func(string, ...any) Action),
	// used to type-check calls at load.
	Types []any
	// Build runs when an expression calls the function.
	Build func(args ...any) (any, error)
	// BuildAction, when set, is the allocation-free form of Build for a
	// function that builds one Action: it fills *dst, which starts zero.
	// args is a slice of this call's own that the action may keep (as
	// Args, for instance). Evaluation uses it when a do item is a plain
	// call of the function. With deferred true the function may leave work
	// that only executing the action needs to the executor, as log leaves
	// formatting its message; Evaluate passes false, so its actions are
	// complete values, and EvaluateInto passes true. A Function with
	// BuildAction and no Build gets a Build derived from it.
	BuildAction func(dst *Action, args []any, deferred bool) error
	// Triggers restricts the rules that may call it; zero means any.
	Triggers TriggerKind
	// NamesBackend says the first argument names a backend: the load
	// refuses a call whose first argument is not a string literal naming
	// an entry of the config's backends.
	NamesBackend bool
}

// Plugin contributes expr functions and executes the actions they build.
// Built-in actions are plugins registered exactly as a third party would.
type Plugin struct {
	// Name identifies the plugin; it must be unique in a Registry.
	Name string
	// Doc describes the plugin for the generated reference.
	Doc string
	// Functions are the expr functions it contributes.
	Functions []Function
	// Kinds are the Action kinds Executor handles. Usually the names of the
	// functions that build actions.
	Kinds []string
	// Executor carries out actions of Kinds. Nil for helper-only plugins.
	Executor Executor
	// Overlay, if set, applies what an action of Kinds will do to the
	// socket to sock, so later rules of the same event see it (set shows in
	// socket.state, join in socket.rooms). It must not modify sock's maps
	// or slices in place: they may be shared; it replaces them instead.
	Overlay func(sock *Socket, a Action)
	// Source, if set, makes the plugin an event source too: rules whose
	// on: starts with its prefix react to its messages.
	Source *Source
	// Config, if set, is a pointer to the plugin's config struct holding
	// its defaults (koanf and doc tags name and describe its keys). The
	// file's plugins.NAME section is decoded strictly into a copy, found
	// by Ruleset.PluginConfig and SourceRun.Config.
	Config any
}

// Registry holds the plugins a rule set may use. Each rule set compiles
// against one Registry, so tests can build their own.
type Registry struct {
	plugins map[string]*Plugin
	funcs   map[string]*Function
	kinds   map[string]*Plugin
	sources map[string]*Plugin // plugins with a Source, by prefix
}

// NewRegistry returns a registry with only the core helper functions
// (spread) registered.
func NewRegistry() *Registry {
	r := &Registry{plugins: map[string]*Plugin{}, funcs: map[string]*Function{}, kinds: map[string]*Plugin{}, sources: map[string]*Plugin{}}
	r.MustRegister(corePlugin())
	return r
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Register adds p. It refuses an empty or duplicate plugin name, a function
// or kind another plugin already registered, and a function without types.
func (r *Registry) Register(p Plugin) error {
	if p.Name == "" {
		return fmt.Errorf("register plugin: empty name")
	}
	if _, dup := r.plugins[p.Name]; dup {
		return fmt.Errorf("register plugin %q: already registered", p.Name)
	}
	own := map[string]bool{}
	for i := range p.Functions {
		f := &p.Functions[i]
		if !identifier.MatchString(f.Name) {
			return fmt.Errorf("register plugin %q: function %q is not a valid identifier", p.Name, f.Name)
		}
		if what, taken := reservedName(f.Name); taken {
			return fmt.Errorf("register plugin %q: function %s would hide %s", p.Name, f.Name, what)
		}
		if _, dup := r.funcs[f.Name]; dup || own[f.Name] {
			return fmt.Errorf("register plugin %q: function %s is already registered", p.Name, f.Name)
		}
		if len(f.Types) == 0 || (f.Build == nil && f.BuildAction == nil) {
			return fmt.Errorf("register plugin %q: function %s needs Types and Build", p.Name, f.Name)
		}
		for _, typ := range f.Types {
			// expr panics at compile time on anything but a function type.
			t := reflect.TypeOf(typ)
			if t != nil && t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t == nil || t.Kind() != reflect.Func {
				return fmt.Errorf("register plugin %q: function %s: type %T is not a function type such as new(func(string) rules.Action)", p.Name, f.Name, typ)
			}
		}
		own[f.Name] = true
	}
	for _, k := range p.Kinds {
		if other, dup := r.kinds[k]; dup {
			return fmt.Errorf("register plugin %q: action kind %q is already handled by plugin %q", p.Name, k, other.Name)
		}
	}
	if len(p.Kinds) > 0 && p.Executor == nil {
		return fmt.Errorf("register plugin %q: has action kinds but no Executor", p.Name)
	}
	if p.Source != nil {
		if err := r.registerSource(&p); err != nil {
			return err
		}
	}
	if p.Config != nil {
		if t := reflect.TypeOf(p.Config); t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			return fmt.Errorf("register plugin %q: Config is %T, want a pointer to a struct", p.Name, p.Config)
		}
	}
	// Own the lists, so the caller changing its Plugin later cannot change
	// what the registry holds.
	p.Functions = slices.Clone(p.Functions)
	p.Kinds = slices.Clone(p.Kinds)
	for i := range p.Functions {
		if f := &p.Functions[i]; f.Build == nil {
			f.Build = buildFrom(f.BuildAction)
		}
	}
	pp := &p
	r.plugins[p.Name] = pp
	for i := range pp.Functions {
		r.funcs[pp.Functions[i].Name] = &pp.Functions[i]
	}
	for _, k := range pp.Kinds {
		r.kinds[k] = pp
	}
	if pp.Source != nil {
		r.sources[pp.Source.Prefix] = pp
	}
	return nil
}

// reservedName says what an expression already means by name, if anything:
// an expr keyword or a variable of Env. (expr's built-in functions may be
// replaced, as join is by the rooms plugin.)
func reservedName(name string) (string, bool) {
	switch name {
	case "true", "false", "nil", "in", "not", "and", "or", "matches", "contains", "startsWith", "endsWith", "let", "if", "else":
		return "the expr keyword " + name, true
	}
	t := reflect.TypeOf(Env{})
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("expr") == name {
			return "the variable " + name, true
		}
	}
	return "", false
}

// MustRegister is Register that panics; for wiring built-ins.
func (r *Registry) MustRegister(p Plugin) {
	if err := r.Register(p); err != nil {
		panic(err)
	}
}

// Plugins lists registered plugins sorted by name.
func (r *Registry) Plugins() []Plugin {
	out := make([]Plugin, 0, len(r.plugins))
	for _, p := range r.plugins {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// overlay returns the Overlay of the plugin handling kind, or nil.
func (r *Registry) overlay(kind string) func(*Socket, Action) {
	if p, ok := r.kinds[kind]; ok {
		return p.Overlay
	}
	return nil
}

// Executor returns the executor for an action kind.
func (r *Registry) Executor(kind string) (Executor, bool) {
	p, ok := r.kinds[kind]
	if !ok {
		return nil, false
	}
	return p.Executor, true
}

// functionNames lists every registered function, sorted.
func (r *Registry) functionNames() []string {
	return keysOf(r.funcs)
}

// corePlugin holds helpers every rule set has.
func corePlugin() Plugin {
	return Plugin{
		Name: "core",
		Doc:  "Helpers available in every expression.",
		Functions: []Function{{
			Name:  "spread",
			Usage: "spread(list)",
			Doc:   "passes the items of list as separate arguments to an action: emit(\"echo\", spread(args)).",
			Types: []any{new(func([]any) Spread)},
			Build: func(args ...any) (any, error) {
				list, _ := args[0].([]any)
				return Spread(list), nil
			},
		}},
	}
}

// buildFrom derives Build from BuildAction.
func buildFrom(build func(*Action, []any, bool) error) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		var a Action
		if err := build(&a, args, false); err != nil {
			return nil, err
		}
		return a, nil
	}
}
