package rules

import (
	"regexp"
	"strings"
)

// Run-time errors come from expr and from Go's reflection, in Go's words:
// "invalid operation: float64 + string", "interface conversion: interface
// {} is map[string]interface {}, not string". A config author wrote YAML
// and JSON, so userWords rephrases them: numbers, strings, lists,
// mappings, booleans and nil.

var (
	// typeNames maps Go type spellings to the words of JSON and YAML;
	// strings.Replacer prefers the longest match at each position.
	typeNames = strings.NewReplacer(
		"map[string]interface {}", "mapping",
		"map[string]string", "mapping",
		"map[string]any", "mapping",
		"[]interface {}", "list",
		"[]any", "list",
		"[]string", "list",
		"[]uint8", "string",
		"interface {}", "value",
		"<nil>", "nil",
	)
	// A type name followed by ( is expr's conversion function, int(x).
	scalarTypes  = regexp.MustCompile(`\b(?:float64|float32|int64|int32|int|uint64|uint)\b([^(]|$)`)
	boolType     = regexp.MustCompile(`\bbool\b([^(]|$)`)
	mapIndex     = regexp.MustCompile(`reflect\.Value\.MapIndex: value of type (\S+) is not assignable to type (\S+)`)
	conversion   = regexp.MustCompile(`interface conversion: value is (.+?), not (\S+)`)
	zeroValue    = regexp.MustCompile(`reflect: call of reflect\.Value\.\w+ on zero Value`)
	fetchFrom    = regexp.MustCompile(`cannot fetch (\S+) from (\S+)`)
	goPackageRef = regexp.MustCompile(`\b(rules|runtime|reflect)\.`)
)

// userWords rephrases a run-time error message in the user's words.
func userWords(msg string) string {
	msg = strings.Replace(msg, "memory budget exceeded", "the expression exceeded its budget (limits.expr_memory)", 1)
	msg = mapIndex.ReplaceAllString(msg, "a key of type $1 cannot index a mapping of $2 keys")
	msg = zeroValue.ReplaceAllString(msg, "the value is nil")
	msg = typeNames.Replace(msg)
	msg = conversion.ReplaceAllString(msg, "want $2, got $1")
	msg = fetchFrom.ReplaceAllString(msg, "cannot read $1 of $2")
	msg = scalarTypes.ReplaceAllString(msg, "number$1")
	msg = boolType.ReplaceAllString(msg, "boolean$1")
	return goPackageRef.ReplaceAllString(msg, "")
}
