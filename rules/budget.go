package rules

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm"
)

// Expressions are written by the operator but run on what clients send, so
// their cost is bounded twice:
//
//   - At load, an expression may have at most limits.expr_nodes syntax
//     tree nodes (expr.MaxNodes), which bounds the work of an expression
//     without loops to a multiple of the payload's size.
//   - At run time, each run of an expression has a budget of
//     limits.expr_memory units, the VM's memory budget. expr charges it for
//     the lists and mappings it builds (1..n, [..], {..}, sort, repeat)
//     but not for looping over a list, nor for strings. A compile-time
//     patcher closes that gap: it wraps the collection of every loop
//     (map, filter, all, reduce, …), every string, list or mapping a
//     builtin or an operator takes or yields, and every + in a call of
//     chargeFunc (see runBudget), which charges the value's size to the
//     same budget: one unit per element, one per chargeBytes bytes of a
//     string, counted deeply (see cost). A nested loop is charged its
//     inner collection on every outer iteration, so
//     map(data, map(data, #)) on a client list of 10 000 items fails after
//     about 100 outer iterations instead of running 10⁸ steps.
//
// An expression that exceeds its budget fails with expr's "memory budget
// exceeded", reported like any run-time rule error (a RuleError).
const (
	chargeFunc  = "$charge"
	chargeBytes = 16 // bytes of a string that cost one unit: the size of an element
)

// errTooManyNodes is expr's parser error for an expression above MaxNodes.
const errTooManyNodes = "exceeds maximum allowed nodes"

// disabledBuiltins are the expr builtins expressions may not call, and why.
// See TestExprFunctions for the reviewed list of the others.
func disabledBuiltins() map[string]string {
	return map[string]string{
		// time.LoadLocation reads the tz database from the filesystem (and
		// the ZONEINFO environment variable), with a name the client may
		// choose.
		"timezone": "reads the filesystem",
		"date":     "reads the filesystem when given a time zone",
	}
}

// budgetOptions are the expr options that bound expressions: the node
// limit, the disabled builtins and chargeFunc.
func budgetOptions(l LimitsConfig) []expr.Option {
	opts := []expr.Option{
		expr.MaxNodes(uint(max(l.ExprNodes, 0))), // 0: no limit
		func(c *conf.Config) {
			c.Functions[chargeFunc] = &builtin.Function{
				Name: chargeFunc,
				Func: func(args ...any) (any, error) {
					b, ok := args[0].(*runBudget)
					if !ok || b == nil {
						return nil, errors.New("no budget")
					}
					return args[1], b.charge(cost(args[1], b.vm.MemoryBudget))
				},
				// The value keeps its type, so the patched tree checks
				// and compiles as the original did.
				Validate: func(args []reflect.Type) (reflect.Type, error) {
					if len(args) != 2 || args[0] != runBudgetType {
						return nil, fmt.Errorf("%s is not for expressions", chargeFunc)
					}
					return args[1], nil
				},
			}
		},
	}
	for name := range disabledBuiltins() {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	return opts
}

// runBudget lets chargeFunc charge the budget of the VM run it is part
// of: expr counts the memory a run used in the VM, out of reach, but reads
// the budget (vm.VM.MemoryBudget) at every charge of its own, so a charge
// lowers the budget and expr's next charge fails when the two together
// exceed it. Expressions reach a run's runBudget as the variable
// budgetVar, which only the patched calls of chargeFunc read: it has no
// fields or methods an expression could use.
type runBudget struct {
	vm *vm.VM
}

// budgetVar is the name of Env.Budget in expressions.
const budgetVar = "$budget"

var runBudgetType = reflect.TypeOf((*runBudget)(nil))

// charge takes n units from the run's budget.
func (b *runBudget) charge(n uint) error {
	if n == 0 {
		return nil
	}
	if n >= b.vm.MemoryBudget {
		b.vm.MemoryBudget = 1 // whatever the VM charges next exceeds it too
		return errors.New("memory budget exceeded")
	}
	b.vm.MemoryBudget -= n
	return nil
}

// memoryBudget is the VM budget limits.expr_memory gives each run.
func memoryBudget(l LimitsConfig) uint {
	if l.ExprMemory <= 0 {
		return math.MaxUint // no limit; the VM reads 0 as its own default
	}
	return uint(l.ExprMemory)
}

// tooManyNodes rewrites expr's node limit error in the config's words.
func tooManyNodes(err error) error {
	if err != nil && strings.Contains(err.Error(), errTooManyNodes) {
		return errors.New("the expression is too large: it has more nodes than limits.expr_nodes allows")
	}
	return err
}

// cost is what v costs the budget, counted deeply: one unit per element
// of every list and mapping in it, one per chargeBytes bytes of every
// string. A list can hold the same large value many times
// (map(1..1000, data)) and costs what writing it out (toJSON, a
// broadcast) would. The count stops once it passes limit, so charging
// walks no more than the budget it takes, whatever the value's shape
// (a socket's state may even hold itself).
func cost(v any, limit uint) uint {
	c := counter{limit: limit}
	c.walk(v)
	return c.n
}

// counter adds up a cost, up to just past limit.
type counter struct{ n, limit uint }

func (c *counter) walk(v any) {
	if c.n > c.limit {
		return
	}
	switch v := v.(type) {
	case nil, bool, int, float64:
	case string:
		c.n += uint(len(v) / chargeBytes)
	case []any:
		c.n += uint(len(v))
		for _, e := range v {
			c.walk(e)
		}
	case map[string]any:
		c.n += uint(len(v))
		for k, e := range v {
			c.n += uint(len(k) / chargeBytes)
			c.walk(e)
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.String:
			c.n += uint(rv.Len() / chargeBytes)
		case reflect.Slice, reflect.Array:
			c.n += uint(rv.Len())
			if !deep(rv.Type().Elem()) {
				return // numbers, as in a range 1..n: nothing more to count
			}
			for i := 0; i < rv.Len() && c.n <= c.limit; i++ {
				c.walk(rv.Index(i).Interface())
			}
		case reflect.Map:
			c.n += uint(rv.Len())
			if !deep(rv.Type().Elem()) {
				return
			}
			for it := rv.MapRange(); it.Next() && c.n <= c.limit; {
				c.walk(it.Value().Interface())
			}
		}
	}
}

// deep reports whether values of type t may cost more than their slot.
func deep(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface, reflect.Pointer:
		return true
	}
	return false
}

// budgetPatcher wraps what may be large in a call of chargeFunc: the
// operands and results of builtins and of operators that walk their
// operands, and the collections of loops.
type budgetPatcher struct{}

// Visit implements ast.Visitor.
func (budgetPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			chargeNode(&n.Arguments[i])
		}
		chargeNode(node)
	case *ast.CallNode:
		// `x in y` on a value that may be a mapping became inFunc (see
		// lookupPatcher), which scans y when it is a list.
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == inFunc {
			chargeNode(&n.Arguments[1])
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "+", "in", "contains", "startsWith", "endsWith", "matches", "==", "!=":
		default:
			return // arithmetic, comparison of numbers, logic: constant work
		}
		if (n.Operator == "==" || n.Operator == "!=") && (isLiteral(n.Left) || isLiteral(n.Right)) {
			return // comparing with a literal costs at most the literal's size
		}
		chargeNode(&n.Left)
		chargeNode(&n.Right)
		if n.Operator == "+" {
			chargeNode(node)
		}
	}
}

// chargeNode wraps *node in a call of chargeFunc when its value may be a
// string, a list or a mapping, and is neither a literal nor charged already.
func chargeNode(node *ast.Node) {
	if isLiteral(*node) {
		return
	}
	switch n := (*node).(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == chargeFunc {
			return
		}
	case *ast.PredicateNode:
		return
	}
	if t := (*node).Type(); t != nil {
		switch t.Kind() {
		case reflect.String, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface:
		default:
			return
		}
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: chargeFunc},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: budgetVar}, *node},
	})
}

// isLiteral reports whether n is a scalar literal.
func isLiteral(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.ConstantNode:
		return true
	}
	return false
}
