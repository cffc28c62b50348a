package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a config: where it is and what is wrong.
type Problem struct {
	File    string // config file path
	Line    int    // 1-based line in File, 0 when unknown
	Column  int    // 1-based column in File, 0 when unknown
	Key     string // config key path, e.g. "server.cors.methods" or "rules[2].when"
	Rule    string // rule name, when the problem is inside a rule
	Message string // what is wrong
}

// String formats the problem as file:line:col: [rule "name": ] message.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
			if p.Column > 0 {
				fmt.Fprintf(&b, ":%d", p.Column)
			}
		}
		b.WriteString(": ")
	}
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	}
	b.WriteString(p.Message)
	return b.String()
}

// LoadError lists every problem found while loading a config. A config with
// any problem is never applied.
type LoadError struct {
	Problems []Problem
}

// Error joins every problem, one per line.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while a config is loaded.
type problems struct {
	file string
	pos  positions
	list []Problem
	// ruleNames[i] is the name of rules[i] as written, "" when it has none,
	// so that a problem inside a rule names it as the user does.
	ruleNames []string
	// vocab holds the names expressions may use, for did-you-mean; nil
	// until compilation starts.
	vocab *vocabulary
}

// ruleScope splits a key inside a named rule into the rule's name and the
// key relative to it: "rules[2].do[0]" becomes "chat" and "do[0]". A key
// outside a rule, or inside a rule without a name, comes back whole.
func (ps *problems) ruleScope(key string) (rule, rel string) {
	rest, ok := strings.CutPrefix(key, "rules[")
	if !ok {
		return "", key
	}
	num, rest, ok := strings.Cut(rest, "]")
	i, err := strconv.Atoi(num)
	if !ok || err != nil || i < 0 || i >= len(ps.ruleNames) || ps.ruleNames[i] == "" {
		return "", key
	}
	return ps.ruleNames[i], strings.TrimPrefix(rest, ".")
}

// ruleAt names rules[i] by where it stands, for a problem that cannot
// name it by its name: "the rule at line 12", or "rules[2]" when the
// config did not come from a file.
func (ps *problems) ruleAt(i int) string {
	key := fmt.Sprintf("rules[%d]", i)
	if line, _ := ps.pos.lookup(key); line > 0 {
		return fmt.Sprintf("the rule at line %d", line)
	}
	return key
}

// addKey records a problem with the value at key, written "key: message",
// or `rule "name": key: message` with key relative to its rule.
func (ps *problems) addKey(key, format string, args ...any) {
	rule, rel := ps.ruleScope(key)
	msg := fmt.Sprintf(format, args...)
	if rel != "" {
		msg = rel + ": " + msg
	}
	line, col := ps.pos.lookup(key)
	ps.addAt(key, rule, line, col, msg)
}

// add records a problem at key, with the position of key in the file.
func (ps *problems) add(key, rule, format string, args ...any) {
	line, col := ps.pos.lookup(key)
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Column: col, Key: key, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// addAt records a problem at an explicit position.
func (ps *problems) addAt(key, rule string, line, col int, msg string) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Column: col, Key: key, Rule: rule, Message: msg})
}

// reported reports whether a problem was already recorded at key.
func (ps *problems) reported(key string) bool {
	for _, p := range ps.list {
		if p.Key == key {
			return true
		}
	}
	return false
}

// err returns a *LoadError ordered by position, or nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	sort.SliceStable(ps.list, func(i, j int) bool {
		a, b := ps.list[i], ps.list[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &LoadError{Problems: ps.list}
}

// closest returns the candidate nearest to s by edit distance, or "" when
// nothing is near enough to be a plausible typo.
func closest(s string, candidates []string) string {
	best, bestD := "", max(2, len(s)/3)+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
