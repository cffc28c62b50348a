package rules

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// Lookups by a computed key, such as vars.tokens[socket.handshake.auth.token],
// read nil when the key has the wrong type for the map, exactly as a missing
// key does. expr itself raises a reflection error there ("value of type
// float64 is not assignable to type string"), which turned the obvious auth
// gate, `when: vars.tokens[token] == nil` with reject, into a rule that
// fails and so let a client with a numeric token in. The same holds for
// `key in map`.
//
// The rewrite happens at compile time: a patcher replaces each computed
// lookup on a map (or on a value whose type is only known at run time) with
// a call of lookupFunc, and each `in` on such a value with inFunc. Their
// names start with $, so no expression can call them by name.
const (
	lookupFunc = "$lookup"
	inFunc     = "$in"
)

// lookupFunctions are the expr options that declare the functions the
// lookup rewrite calls.
func lookupFunctions() []expr.Option {
	return []expr.Option{
		expr.Function(lookupFunc, func(args ...any) (any, error) { return lookup(args[0], args[1]) }, new(func(any, any) any)),
		expr.Function(inFunc, func(args ...any) (any, error) { return contains(args[1], args[0]) }, new(func(any, any) bool)),
	}
}

// compileExpr compiles src with opts, the lookup rewrite and the budget
// charges (see budgetPatcher). It checks src once without the rewrites
// first: with a patcher installed, expr checks the tree before patching and
// again after, and the second pass misses some errors the first found (an
// unknown name among a function's arguments compiles), so only the
// unpatched check is trusted to report them.
func compileExpr(src string, opts []expr.Option) (*vm.Program, error) {
	if _, err := expr.Compile(src, opts...); err != nil {
		return nil, tooManyNodes(err)
	}
	return expr.Compile(src, append(slices.Clip(opts), expr.Patch(lookupPatcher{}), expr.Patch(budgetPatcher{}))...)
}

// lookupPatcher rewrites computed map lookups and `in` tests on maps.
type lookupPatcher struct{}

// Visit implements ast.Visitor.
func (lookupPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if _, literal := n.Property.(*ast.StringNode); literal || n.Method || !mapOrUnknown(n.Node.Type()) {
			return
		}
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: lookupFunc}, Arguments: []ast.Node{n.Node, n.Property}})
	case *ast.BinaryNode:
		if n.Operator != "in" || !mapOrUnknown(n.Right.Type()) {
			return
		}
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: inFunc}, Arguments: []ast.Node{n.Left, n.Right}})
	}
}

// mapOrUnknown reports whether a value of static type t may be a map.
func mapOrUnknown(t reflect.Type) bool {
	if t == nil {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Map || t.Kind() == reflect.Interface
}

// mapKey converts key for a lookup in the map m, or reports that no entry
// can have it: a key of another type, or nil.
func mapKey(m reflect.Value, key any) (reflect.Value, bool) {
	if key == nil {
		return reflect.Value{}, false
	}
	k := reflect.ValueOf(key)
	kt := m.Type().Key()
	if !k.Type().AssignableTo(kt) {
		return reflect.Value{}, false
	}
	return k, true
}

// lookup is from[key]: nil for a missing key, a key of the wrong type, or a
// nil map; expr's own semantics for lists, strings and structs.
func lookup(from, key any) (out any, err error) {
	v := reflect.ValueOf(from)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Invalid:
		return nil, nil // nil[key] reads nil, like a missing key
	case reflect.Map:
		k, ok := mapKey(v, key)
		if !ok {
			return nil, nil
		}
		if e := v.MapIndex(k); e.IsValid() {
			return e.Interface(), nil
		}
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return runtime.Fetch(from, key), nil
}

// contains is `needle in haystack`: false for a key of the wrong type; expr's
// own semantics for lists and structs.
func contains(haystack, needle any) (out bool, err error) {
	v := reflect.ValueOf(haystack)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return false, nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Invalid:
		return false, nil
	case reflect.Map:
		k, ok := mapKey(v, needle)
		return ok && v.MapIndex(k).IsValid(), nil
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = false, fmt.Errorf("%v", r)
		}
	}()
	return runtime.In(needle, haystack), nil
}
