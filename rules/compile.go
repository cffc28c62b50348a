package rules

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Rule is one compiled rule.
type Rule struct {
	Name      string      // unique name
	Index     int         // position in the file, from 0
	Kind      TriggerKind // what it reacts to
	On        string      // the trigger as written
	Namespace string      // namespace of socket rules; "" for HTTP rules
	Spec      RuleSpec    // the rule as written

	// source and pattern split the on: of a TriggerSource rule
	// ("nats", "orders.>").
	source, pattern string

	when *vm.Program
	do   branch // runs when when holds (or there is no when)
	els  branch // runs when when is false
	// final stops evaluation after the rule's do ran; continueOnError
	// makes a run-time failure of the rule count for nothing but a log line.
	final           bool
	continueOnError bool
}

// branch is a compiled list of expressions: a rule's do or its else.
type branch struct {
	progs []*vm.Program
	// direct[j] is progs[j] as a plain function call, or nil; directArgs
	// counts the arguments of all of them, allocated together.
	direct     []*directCall
	directArgs int
	field      string // "do" or "else", for messages
}

// Ruleset is a whole compiled config: immutable, safe for concurrent use,
// and swapped as one piece on reload.
type Ruleset struct {
	// Config is the decoded config the rules came from.
	Config *Config
	// Rules are the compiled rules in file order.
	Rules []*Rule
	// Routes are the distinct HTTP route patterns, in file order.
	Routes []string

	registry *Registry
	index    map[ruleKey][]*Rule
	limits   map[eventKey]*EventLimit // rules' own event limits; see EventLimit
	// usesServer is set when an expression reads the server (room_size,
	// socket_rooms), so evaluation only builds those reads when needed.
	usesServer bool
	// auth verifies tokens for jwt() and jwt_error() (a nil verifier
	// without auth.jwt); usesJWT is set when an expression calls them.
	auth jwtSetup
	// backends are the config's backends, their secrets read.
	backends map[string]Backend
	usesJWT  bool
	// memoryBudget is limits.expr_memory, the budget of each VM run.
	memoryBudget uint
	// sourceRules are the TriggerSource rules in file order;
	// pluginConfigs the decoded plugins.NAME sections.
	sourceRules   []*Rule
	pluginConfigs map[string]any
}

// ruleKey finds the rules for one trigger in one namespace.
type ruleKey struct {
	kind TriggerKind
	ns   string
	name string
}

// Registry returns the registry the rules were compiled against.
func (rs *Ruleset) Registry() *Registry { return rs.registry }

// Load reads the config file at path and compiles it against reg. Every
// problem, from YAML syntax to a type error in an expression, is returned
// in one *LoadError.
func Load(path string, reg *Registry, opts LoadOptions) (*Ruleset, error) {
	cfg, ps, err := loadFile(path, opts)
	if err != nil {
		return nil, err
	}
	return compile(cfg, reg, ps, authOrigin{path: path, environ: opts.Environ, standIns: opts.StandIns != nil})
}

// Compile compiles an already decoded config against reg. Files that
// auth.jwt names are read relative to the working directory, and
// secret_env from the process environment.
func Compile(cfg *Config, reg *Registry) (*Ruleset, error) {
	return compile(cfg, reg, &problems{}, authOrigin{})
}

var (
	routePattern  = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/\S*)$`)
	reservedEvent = map[string]string{
		"connect":        "use on: connection",
		"connect_error":  "it is reserved by Socket.IO",
		"disconnecting":  "it is reserved by Socket.IO",
		"newListener":    "it is reserved by Socket.IO",
		"removeListener": "it is reserved by Socket.IO",
	}
)

func compile(cfg *Config, reg *Registry, ps *problems, from authOrigin) (*Ruleset, error) {
	rs := &Ruleset{Config: cfg, registry: reg, index: map[ruleKey][]*Rule{}, memoryBudget: memoryBudget(cfg.Limits)}
	ps.vocab = newVocabulary(reg)
	rs.auth = buildJWT(ps, cfg, from)
	rs.pluginConfigs = decodePluginConfigs(ps, reg, cfg)
	rs.backends = buildBackends(ps, cfg, from)
	opts := exprOptions(reg, cfg.Limits)
	subCfg := subConfig(opts)
	names := map[string]int{}
	namespaces := map[string]bool{}
	for _, ns := range cfg.Namespaces {
		namespaces[ns] = true
	}
	mux := http.NewServeMux()
	seenRoute := map[string]bool{}

	for i, spec := range cfg.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if ps.reported(key) {
			continue // not a mapping; checking its fields would only add noise
		}
		name := spec.Name
		if name == "" {
			ps.add(key, "", "rules[%d]: a rule needs a name", i)
			name = fmt.Sprintf("#%d", i)
		} else if prev, dup := names[name]; dup {
			ps.add(key+".name", name, "duplicate rule name, first used by %s", ps.ruleAt(prev))
		} else {
			names[name] = i
		}
		r := &Rule{Name: name, Index: i, On: spec.On, Spec: spec}

		src, pattern, srcProblem, isSource := reg.sourceTrigger(strings.TrimSpace(spec.On))
		switch on := strings.TrimSpace(spec.On); {
		case isSource:
			if srcProblem != "" {
				ps.add(key+".on", name, "%s", srcProblem)
				break
			}
			r.Kind, r.source, r.pattern = TriggerSource, src.Prefix, pattern
			if spec.Namespace != "" {
				ps.add(key+".namespace", name, "namespace: %s rules have no namespace", src.Prefix)
			}
		case on == "":
			ps.add(key, name, "on: a trigger is required (an event name, connection, disconnect, * or METHOD /path)")
		case on == "connection":
			r.Kind = TriggerConnection
		case on == "disconnect":
			r.Kind = TriggerDisconnect
		case routePattern.MatchString(on):
			r.Kind = TriggerHTTP
			if spec.Namespace != "" {
				ps.add(key+".namespace", name, "namespace: HTTP rules have no namespace")
			}
			path := routePattern.FindStringSubmatch(on)[2]
			if sio := cfg.SocketIO.Path; path == sio || strings.HasPrefix(path, strings.TrimSuffix(sio, "/")+"/") {
				ps.add(key+".on", name, "on: route %s is inside socketio.path %s", on, sio)
			} else if !seenRoute[on] {
				if err := registerPattern(mux, on); err != nil {
					ps.add(key+".on", name, "on: %v", err)
				} else {
					seenRoute[on] = true
					rs.Routes = append(rs.Routes, on)
				}
			}
		case looksLikeRoute(on):
			ps.add(key+".on", name, "on: %q is not a route; write METHOD /path with an upper-case method", on)
		default:
			if why, reserved := reservedEvent[on]; reserved {
				ps.add(key+".on", name, "on: cannot route event %q: %s", on, why)
			}
			r.Kind = TriggerEvent
		}
		r.On = strings.TrimSpace(spec.On)
		if r.Kind&ServerTriggers == 0 && r.Kind != 0 {
			r.Namespace = spec.Namespace
			if r.Namespace == "" {
				r.Namespace = "/"
			}
			if !namespaces[r.Namespace] {
				ps.add(key+".namespace", name, "namespace: %q is not declared in namespaces %v", r.Namespace, cfg.Namespaces)
			}
		}

		if strings.TrimSpace(spec.When) != "" {
			prog, err := compileExpr(spec.When, append(slices.Clip(opts), expr.AsBool()))
			if err != nil {
				addExprError(ps, key+".when", name, "when", err)
			} else {
				r.when = prog
				checkCalls(ps, reg, cfg, prog, r.Kind, key+".when", name, "when")
			}
		}
		if len(spec.Do) == 0 {
			ps.add(key, name, "do: a rule needs at least one action")
		}
		r.do = compileBranch(ps, reg, cfg, opts, subCfg, spec.Do, "do", r.Kind, key, name)
		r.els = compileBranch(ps, reg, cfg, opts, subCfg, spec.Else, "else", r.Kind, key, name)
		if len(spec.Else) > 0 && strings.TrimSpace(spec.When) == "" {
			ps.add(key+".else", name, "else: a rule without when never runs its else; add a when condition")
		}
		r.final = spec.Final
		switch spec.OnError {
		case "", OnErrorFail:
		case OnErrorContinue:
			r.continueOnError = true
		default:
			ps.add(key+".on_error", name, "on_error: want %s or %s, got %q%s", OnErrorFail, OnErrorContinue, spec.OnError, DidYouMean(spec.OnError, []string{OnErrorFail, OnErrorContinue}))
		}
		rs.checkRuleLimits(ps, r, key)
		rs.usesServer = rs.usesServer || r.calls(serverReads...)
		rs.usesJWT = rs.usesJWT || r.calls(jwtFuncs...)
		rs.Rules = append(rs.Rules, r)
		if r.Kind == TriggerSource {
			rs.sourceRules = append(rs.sourceRules, r)
		}
		if r.Kind != 0 {
			k := ruleKey{kind: r.Kind, ns: r.Namespace, name: r.On}
			if r.Kind == TriggerConnection || r.Kind == TriggerDisconnect {
				k.name = ""
			}
			rs.index[k] = append(rs.index[k], r)
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	rs.mergeWildcards()
	return rs, nil
}

// compileBranch compiles the expressions of a rule's do or else list.
func compileBranch(ps *problems, reg *Registry, cfg *Config, opts []expr.Option, subCfg *conf.Config, srcs []string, field string, kind TriggerKind, key, rule string) branch {
	b := branch{field: field}
	for j, src := range srcs {
		item := fmt.Sprintf("%s[%d]", field, j)
		ikey := key + "." + item
		if ps.reported(ikey) {
			continue // it did not decode; compiling it would only add noise
		}
		prog, err := compileExpr(src, opts)
		if err != nil {
			addExprError(ps, ikey, rule, item, err)
			continue
		}
		if t := prog.Node().Type(); !actionLike(t) {
			ps.add(ikey, rule, "%s: yields %s, want an action such as emit(...) or log(...)", item, ps.vocab.typeWord(t.String()))
			continue
		}
		checkCalls(ps, reg, cfg, prog, kind, ikey, rule, item)
		b.progs = append(b.progs, prog)
		dc := newDirectCall(prog, reg, subCfg)
		b.direct = append(b.direct, dc)
		if dc != nil {
			b.directArgs += len(dc.args)
		}
	}
	return b
}

// calls reports whether any expression of r calls one of names.
func (r *Rule) calls(names ...string) bool {
	progs := append(append([]*vm.Program{}, r.do.progs...), r.els.progs...)
	if r.when != nil {
		progs = append(progs, r.when)
	}
	for _, prog := range progs {
		v := &callVisitor{}
		node := prog.Node()
		ast.Walk(&node, v)
		for _, c := range v.calls {
			if slices.Contains(names, c.name) {
				return true
			}
		}
	}
	return false
}

// mergeWildcards adds the "*" rules of each namespace to the rules of
// every named event there, in file order, so Match is one lookup.
func (rs *Ruleset) mergeWildcards() {
	for k, exact := range rs.index {
		if k.kind != TriggerEvent || k.name == "*" {
			continue
		}
		wild := rs.index[ruleKey{kind: TriggerEvent, ns: k.ns, name: "*"}]
		if len(wild) == 0 {
			continue
		}
		merged := append(slices.Clone(exact), wild...)
		slices.SortFunc(merged, func(a, b *Rule) int { return a.Index - b.Index })
		rs.index[k] = merged
	}
}

// exprOptions builds the compile options: the typed Env, the limits and
// every registered function.
func exprOptions(reg *Registry, limits LimitsConfig) []expr.Option {
	opts := []expr.Option{expr.Env(Env{})}
	opts = append(opts, lookupFunctions()...)
	opts = append(opts, budgetOptions(limits)...)
	for _, name := range reg.functionNames() {
		f := reg.funcs[name]
		opts = append(opts, expr.Function(f.Name, f.Build, f.Types...))
	}
	return opts
}

var (
	actionType      = reflect.TypeOf(Action{})
	actionSliceType = reflect.TypeOf([]Action{})
)

// actionLike reports whether an expression of type t may yield actions.
func actionLike(t reflect.Type) bool {
	if t == nil {
		return true
	}
	switch {
	case t == actionType, t == actionSliceType, t.Kind() == reflect.Interface:
		return true
	case t.Kind() == reflect.Slice:
		// A list literal such as [emit("a"), emit("b")] is typed []any.
		return t.Elem().Kind() == reflect.Interface || t.Elem() == actionType
	}
	return false
}

// registeredAt matches the Go source location ServeMux puts in its errors.
var registeredAt = regexp.MustCompile(` \(registered at [^)]*\)`)

// registerPattern validates an HTTP route pattern by registering it in mux,
// which refuses invalid and conflicting patterns.
func registerPattern(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			// ServeMux names its own source lines and explains a conflict
			// over several lines; keep one line a config author can use.
			msg := registeredAt.ReplaceAllString(fmt.Sprint(r), "")
			if first, rest, ok := strings.Cut(msg, "\n"); ok {
				reason, _, _ := strings.Cut(rest, "\n")
				msg = first + " " + reason
			}
			err = fmt.Errorf("route %s: %s", pattern, msg)
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}

// addExprError records a compile error at its position inside the value,
// in config words and with a suggestion for a misspelt name or field.
func addExprError(ps *problems, key, rule, field string, err error) {
	var fe *file.Error
	if errors.As(err, &fe) {
		line, col := ps.pos.exprPosition(key, fe.Line, fe.Column)
		msg := ps.vocab.describe(fe.Message, snippetLine(fe.Snippet), fe.Column)
		ps.addAt(key, rule, line, col, fmt.Sprintf("%s: %s (at %d:%d of the expression)", field, msg, fe.Line, fe.Column+1))
		return
	}
	line, col := ps.pos.exprPosition(key, 1, 0)
	ps.addAt(key, rule, line, col, fmt.Sprintf("%s: %s", field, ps.vocab.describe(err.Error(), "", 0)))
}

// snippetLine returns the source line an expr error quotes in its snippet
// ("\n | line\n | ...^"), or "".
func snippetLine(snippet string) string {
	parts := strings.Split(snippet, "\n | ")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// checkCalls refuses calls to functions that do not apply to the rule's
// trigger, such as respond() in a socket rule, and calls of jwt() and
// jwt_error() in a config without auth.jwt.
func checkCalls(ps *problems, reg *Registry, cfg *Config, prog *vm.Program, kind TriggerKind, key, rule, field string) {
	if kind == 0 {
		return
	}
	src := prog.Source().String()
	v := &callVisitor{}
	node := prog.Node()
	ast.Walk(&node, v)
	if kind != TriggerSource {
		for _, id := range v.sourceVars {
			line, col := offsetToLineCol(src, id.from)
			fl, fc := ps.pos.exprPosition(key, line, col)
			ps.addAt(key, rule, fl, fc, fmt.Sprintf("%s: %s is only set in source rules (on: \"nats:SUBJECT\"), not in a %s rule", field, id.name, kind))
		}
	}
	for _, c := range v.calls {
		if slices.Contains(jwtFuncs, c.name) && !cfg.Auth.JWT.Configured() {
			line, col := offsetToLineCol(src, c.from)
			fl, fc := ps.pos.exprPosition(key, line, col)
			ps.addAt(key, rule, fl, fc, fmt.Sprintf("%s: %s() needs auth.jwt in the config: the algorithms and keys tokens are checked with", field, c.name))
			continue
		}
		f, ok := reg.funcs[c.name]
		if ok && f.NamesBackend {
			lit, isLit := c.first.(*ast.StringNode)
			var name any
			if isLit {
				name = lit.Value
			}
			if msg := backendArgProblem(f, name, isLit, cfg.Backends); msg != "" {
				line, col := offsetToLineCol(src, c.from)
				fl, fc := ps.pos.exprPosition(key, line, col)
				ps.addAt(key, rule, fl, fc, field+": "+msg)
			}
		}
		if !ok || f.Triggers == 0 || f.Triggers&kind != 0 {
			continue
		}
		line, col := offsetToLineCol(src, c.from)
		fl, fc := ps.pos.exprPosition(key, line, col)
		ps.addAt(key, rule, fl, fc, fmt.Sprintf("%s: %s is only valid in %s rules, not in a %s rule", field, f.Usage, f.Triggers, kind))
	}
}

type call struct {
	name  string
	from  int
	first ast.Node // the first argument; nil without arguments
}

// callVisitor collects the calls of named functions, and the reads of
// the variables only source rules set (subject, meta).
type callVisitor struct{ calls, sourceVars []call }

func (v *callVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok && (id.Value == "subject" || id.Value == "meta") {
		v.sourceVars = append(v.sourceVars, call{name: id.Value, from: id.Location().From})
	}
	c, ok := (*n).(*ast.CallNode)
	if !ok {
		return
	}
	if id, ok := c.Callee.(*ast.IdentifierNode); ok {
		cl := call{name: id.Value, from: c.Location().From}
		if len(c.Arguments) > 0 {
			cl.first = c.Arguments[0]
		}
		v.calls = append(v.calls, cl)
	}
}

// offsetToLineCol turns a rune offset into a 1-based line and 0-based column.
func offsetToLineCol(src string, offset int) (line, col int) {
	line = 1
	i := 0
	for _, r := range src {
		if i == offset {
			break
		}
		if r == '\n' {
			line++
			col = 0
		} else {
			col++
		}
		i++
	}
	return line, col
}

// looksLikeRoute spots a misspelt route such as "post /x" or "POST x".
func looksLikeRoute(on string) bool {
	method, rest, ok := strings.Cut(on, " ")
	if !ok {
		return false
	}
	switch strings.ToUpper(method) {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return strings.HasPrefix(strings.TrimSpace(rest), "/")
}
