package rules

import (
	"reflect"
	"slices"
)

// ExprFunctions lists, sorted, every function an expression compiled
// against reg can call: expr's builtins that are not disabled, the
// functions of reg's plugins, the functions of the environment (room_size,
// socket_rooms) and the internal ones the compiler's rewrites call, whose
// names start with $. It is what a review of what expressions can do
// starts from: none of them may read the environment or the filesystem,
// or do I/O.
func ExprFunctions(reg *Registry) []string {
	cfg := subConfig(exprOptions(reg, Defaults().Limits))
	var names []string
	for name := range cfg.Builtins {
		names = append(names, name)
	}
	for name := range cfg.Functions {
		names = append(names, name)
	}
	names = append(names, envFunctions(reflect.TypeOf(Env{}))...)
	slices.Sort(names)
	return slices.Compact(names)
}

// envFunctions lists the fields of the environment type t that hold
// functions, by their names in expressions.
func envFunctions(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Type.Kind() == reflect.Func {
			names = append(names, f.Tag.Get("expr"))
		}
	}
	return names
}
