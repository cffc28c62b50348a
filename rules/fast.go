package rules

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// directCall is a do item that is a plain call of a registered function,
// such as broadcast("receive_message", data). Evaluation calls the
// function itself with its arguments evaluated one by one, instead of
// running the whole expression in the VM: no boxed Action, no VM for
// constants and data, and the argument slice comes from one allocation
// per rule (see Rule.directArgs).
type directCall struct {
	fn     *Function
	args   []directArg
	loc    file.Location // the call, for error messages
	source file.Source
}

// directArg is one argument of a directCall.
type directArg struct {
	kind  argKind
	value any         // argConst
	prog  *vm.Program // argProgram
}

type argKind uint8

const (
	argConst   argKind = iota // a literal, evaluated at load
	argData                   // the variable data
	argBody                   // the variable body
	argProgram                // anything else, run in the VM
)

// subConfig is the expr configuration the do items were compiled with, for
// compiling their arguments alone.
func subConfig(opts []expr.Option) *conf.Config {
	cfg := conf.CreateNew()
	for _, op := range opts {
		op(cfg)
	}
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	cfg.Check()
	return cfg
}

// newDirectCall returns the direct form of prog, or nil when prog is not a
// plain call of a registered function. It works on prog's checked and
// optimised tree, so arguments mean exactly what they mean in prog.
func newDirectCall(prog *vm.Program, reg *Registry, cfg *conf.Config) *directCall {
	call, ok := prog.Node().(*ast.CallNode)
	if !ok {
		return nil
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	fn, ok := reg.funcs[id.Value]
	if !ok || fn.Build == nil {
		return nil
	}
	if _, ok := cfg.Functions[id.Value]; !ok {
		return nil // not called as a function of the registry
	}
	dc := &directCall{fn: fn, loc: call.Location(), source: prog.Source()}
	for _, arg := range call.Arguments {
		if t := arg.Type(); t != nil && t.Kind() == reflect.Pointer {
			return nil // the VM would dereference it
		}
		var a directArg
		switch n := arg.(type) {
		case *ast.IdentifierNode:
			switch n.Value {
			case "data":
				a.kind = argData
			case "body":
				a.kind = argBody
			default:
				a.kind = argProgram
			}
		default:
			a.kind = argProgram
		}
		if a.kind == argProgram {
			sub, err := compileNode(arg, prog.Source(), cfg)
			if err != nil {
				return nil
			}
			a.prog = sub
			switch arg.(type) {
			case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.ConstantNode:
				v, err := vm.Run(sub, &Env{})
				if err != nil {
					return nil
				}
				a.kind, a.value, a.prog = argConst, v, nil
			}
		}
		dc.args = append(dc.args, a)
	}
	return dc
}

// compileNode compiles one checked node of a larger expression.
func compileNode(n ast.Node, src file.Source, cfg *conf.Config) (*vm.Program, error) {
	return compiler.Compile(&parser.Tree{Node: n, Source: src}, cfg)
}

// run evaluates the arguments into args, a slice len(dc.args) long that
// the action may keep, calls the function and appends the action it builds
// to actions. Errors look like the ones the VM reports for the same call.
func (dc *directCall) run(s *evalState, args []any, deferred bool, actions []Action, rule string) (out []Action, err error) {
	for i := range dc.args {
		a := &dc.args[i]
		switch a.kind {
		case argConst:
			args[i] = a.value
		case argData:
			args[i] = s.env.Data
		case argBody:
			args[i] = s.env.Body
		case argProgram:
			v, err := s.run(a.prog)
			if err != nil {
				return actions, err
			}
			args[i] = v
		}
	}
	n := len(actions)
	defer func() {
		if r := recover(); r != nil {
			out, err = actions[:n], dc.error(r)
		}
	}()
	if dc.fn.BuildAction != nil {
		actions = append(actions, Action{})
		dst := &actions[n]
		if err := dc.fn.BuildAction(dst, args, deferred); err != nil {
			return actions[:n], dc.error(err)
		}
		dst.Rule = rule
		return actions, nil
	}
	v, err := dc.fn.Build(args...)
	if err != nil {
		return actions, dc.error(err)
	}
	return appendActions(actions, v, rule)
}

// error reports a failed call the way the VM does.
func (dc *directCall) error(r any) error {
	fe := &file.Error{Location: dc.loc, Message: fmt.Sprintf("%v", r)}
	if err, ok := r.(error); ok {
		fe.Wrap(err)
	}
	return fe.Bind(dc.source)
}
