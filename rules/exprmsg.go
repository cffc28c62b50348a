package rules

import (
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	exprbuiltin "github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"
)

// vocabulary is what expressions may name: the words did-you-mean picks
// from, and the config words for the Go types expr puts in its messages.
type vocabulary struct {
	vars   []string            // the environment's variables: event, data, socket, ...
	funcs  []string            // registered functions and expr builtins
	usage  map[string]string   // registered function -> its Usage, e.g. "emit(event, args...)"
	fields map[string][]string // Go type name as expr prints it -> its expression fields
	words  map[string]string   // Go type name -> how a config author names it
}

// newVocabulary collects the names of reg's functions, expr's builtins and
// the fields reachable from Env.
func newVocabulary(reg *Registry) *vocabulary {
	v := &vocabulary{usage: map[string]string{}, fields: map[string][]string{}, words: map[string]string{
		reflect.TypeOf(Action{}).String(): "an action",
	}}
	for _, name := range reg.functionNames() {
		v.funcs = append(v.funcs, name)
		v.usage[name] = reg.funcs[name].Usage
	}
	v.funcs = append(v.funcs, exprbuiltin.Names...)
	sort.Strings(v.funcs)
	v.walk("", reflect.TypeOf(Env{}))
	v.vars = v.fields[reflect.TypeOf(Env{}).String()]
	return v
}

// walk records the fields of t, a struct reached at the expression path.
func (v *vocabulary) walk(path string, t reflect.Type) {
	if t.Kind() != reflect.Struct {
		return
	}
	if _, seen := v.fields[t.String()]; seen {
		return
	}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("expr")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	sort.Strings(names)
	v.fields[t.String()] = names
	if path != "" {
		v.words[t.String()] = path
	}
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("expr"); name != "-" && name != "" {
			v.walk(joinKey(path, name), t.Field(i).Type)
		}
	}
}

// typeWord names a Go type, as expr prints it, the way a YAML or JSON
// author would: a string, a number, a list, a mapping, true or false.
func (v *vocabulary) typeWord(goType string) string {
	t := strings.TrimPrefix(goType, "*")
	if w, ok := v.words[t]; ok {
		return w
	}
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case t == "nil", t == "<nil>":
		return "nothing"
	case t == "interface {}", t == "any", t == "unknown", t == "":
		return "any value"
	case strings.HasPrefix(t, "[]"):
		if elem := v.typeWord(t[2:]); elem == "an action" {
			return "a list of actions"
		}
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "func("):
		return "a function"
	case t == "time.Time":
		return "a time"
	case t == "time.Duration":
		return "a duration"
	}
	if _, name, ok := strings.Cut(t, "."); ok {
		return "a " + strings.ToLower(name)
	}
	return "a " + t
}

// goType matches one Go type as expr prints it in a message.
const goType = `(\*?(?:\[\])*(?:map\[[^\]]*\])?(?:interface \{\}|[\w.]+))`

// exprMessages rewrite expr's checker messages in config words. Each
// pattern matches a whole message; the first that matches wins.
var exprMessages = []struct {
	re      *regexp.Regexp
	rewrite func(v *vocabulary, x exprSite, m []string) string
}{
	{regexp.MustCompile(`^unknown name (\w+)$`), func(v *vocabulary, x exprSite, m []string) string {
		if x.calls(m[1]) {
			return "unknown function " + m[1] + DidYouMean(m[1], v.funcs)
		}
		return "unknown name " + m[1] + DidYouMean(m[1], append(slices.Clone(v.vars), v.funcs...))
	}},
	{regexp.MustCompile(`^type ` + goType + ` has no (field|method) (\w+)$`), func(v *vocabulary, x exprSite, m []string) string {
		owner := x.memberBase(m[3])
		if owner == "" {
			owner = v.typeWord(m[1])
		}
		return owner + " has no " + m[2] + " " + m[3] + DidYouMean(m[3], v.fields[strings.TrimPrefix(m[1], "*")])
	}},
	{regexp.MustCompile(`^invalid operation: (\S+) \(mismatched types ` + goType + ` and ` + goType + `\)$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "cannot apply " + m[1] + " to " + v.typeWord(m[2]) + " and " + v.typeWord(m[3])
	}},
	{regexp.MustCompile(`^invalid operation: (\S+) \(mismatched type ` + goType + `\)$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "cannot apply " + m[1] + " to " + v.typeWord(m[2])
	}},
	{regexp.MustCompile(`^cannot use ` + goType + ` as argument \(type ` + goType + `\) to call (\w+)\s*$`), func(v *vocabulary, _ exprSite, m []string) string {
		return v.callName(m[3]) + ": want " + v.typeWord(m[2]) + " here, got " + v.typeWord(m[1])
	}},
	{regexp.MustCompile(`^(not enough|too many) arguments to call (\w+)$`), func(v *vocabulary, _ exprSite, m []string) string {
		return m[1] + " arguments to call " + v.callName(m[2])
	}},
	{regexp.MustCompile(`^expected bool, but got ` + goType + `$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "want true or false, got " + v.typeWord(m[1])
	}},
	{regexp.MustCompile(`^non-bool expression \(type ` + goType + `\) used as condition$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "a condition must be true or false, got " + v.typeWord(m[1])
	}},
	{regexp.MustCompile(`^array elements can only be selected using an integer \(got ` + goType + `\)$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "list items are selected by number, as in list[0], not by " + v.typeWord(m[1])
	}},
	{regexp.MustCompile(`^non-integer slice index ` + goType + `$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "a slice bound must be a number, got " + v.typeWord(m[1])
	}},
	{regexp.MustCompile(`^` + goType + ` is not callable$`), func(v *vocabulary, _ exprSite, m []string) string {
		return v.typeWord(m[1]) + " cannot be called"
	}},
	{regexp.MustCompile(`^type ` + goType + `\[` + goType + `\] is undefined$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "cannot index " + v.typeWord(m[1]) + " with " + v.typeWord(m[2])
	}},
	{regexp.MustCompile(`^builtin (\w+) takes only array \(got ` + goType + `\)$`), func(v *vocabulary, _ exprSite, m []string) string {
		return m[1] + " takes a list, got " + v.typeWord(m[2])
	}},
	{regexp.MustCompile(`^invalid argument for (\w+) \(type ` + goType + `\)$`), func(v *vocabulary, _ exprSite, m []string) string {
		return m[1] + " cannot take " + v.typeWord(m[2])
	}},
	{regexp.MustCompile(`^predicate should return boolean \(got ` + goType + `\)$`), func(v *vocabulary, _ exprSite, m []string) string {
		return "the predicate must give true or false, got " + v.typeWord(m[1])
	}},
}

// goTypeInText finds Go type names left in a message no pattern matched:
// package-qualified names, lists, maps and interface {}.
var goTypeInText = regexp.MustCompile(`\*?(?:\[\])+(?:map\[[^\]]*\])?(?:interface \{\}|[\w.]+)|\*?map\[[^\]]*\](?:interface \{\}|[\w.]+)|interface \{\}|\b[a-z]\w*\.[A-Z]\w*\b|\b(?:float32|float64|u?int(?:8|16|32|64)?)\b`)

// describe rewrites an expr message in config words, with a suggestion
// for a misspelt name or field. line is the line of the expression the
// error points into, and col the 0-based column there.
func (v *vocabulary) describe(msg, line string, col int) string {
	msg = strings.TrimSpace(msg)
	x := exprSite{line: line, col: col}
	for _, p := range exprMessages {
		if m := p.re.FindStringSubmatch(msg); m != nil {
			return p.rewrite(v, x, m)
		}
	}
	return goTypeInText.ReplaceAllStringFunc(msg, v.typeWord)
}

// callName names a function by its usage when it is registered.
func (v *vocabulary) callName(name string) string {
	if u, ok := v.usage[name]; ok {
		return u
	}
	return name
}

// exprSite is where in an expression a compile error points: a line of
// the expression and a 0-based column in it, as expr reports them.
type exprSite struct {
	line string
	col  int
}

// calls reports whether the error points at name followed by "(".
func (x exprSite) calls(name string) bool {
	r := []rune(x.line)
	if x.col < 0 || x.col > len(r) {
		return false
	}
	rest, ok := strings.CutPrefix(string(r[x.col:]), name)
	return ok && strings.HasPrefix(strings.TrimSpace(rest), "(")
}

// memberBase returns the expression whose field is read, as written:
// "request" for request.param. It is "" when the line does not parse on
// its own or reads no such field.
func (x exprSite) memberBase(field string) string {
	tree, err := parser.Parse(x.line)
	if err != nil {
		return ""
	}
	f := &memberFinder{field: field}
	ast.Walk(&tree.Node, f)
	return f.base
}

// memberFinder finds the first member access of a named field.
type memberFinder struct {
	field string
	base  string
}

// Visit records the base of a member access of the field.
func (f *memberFinder) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || f.base != "" {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok && s.Value == f.field {
		f.base = m.Node.String()
	}
}
