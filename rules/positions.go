package rules

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// positions maps config key paths ("server.cors.methods", "rules[1].do[0]")
// to the line and column where they stand in the YAML file.
type positions struct {
	at    map[string][2]int
	style map[string]yaml.Style
	lines []string // the file's lines, to find the indentation of block scalars
}

// valueSuffix marks the entry that holds where a key's value starts.
const valueSuffix = "="

// indexPositions parses a YAML document and records where every key and
// list item starts. A document that does not parse yields no positions and
// the parser's error.
func indexPositions(src []byte) (positions, error) {
	var doc yaml.Node
	pos := positions{at: map[string][2]int{}, style: map[string]yaml.Style{}, lines: strings.Split(string(src), "\n")}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return pos, err
	}
	if len(doc.Content) > 0 {
		pos.walk("", doc.Content[0])
	}
	return pos, nil
}

// alias makes key and everything under it also known as to, so a value
// read under another name (a misspelt key, a scalar read as a one-item
// list) is reported where it stands.
func (p positions) alias(key, to string) {
	var under []string // collected first: the loop must not see its own additions
	for k := range p.at {
		if rest, ok := strings.CutPrefix(k, key); ok && (rest == "" || strings.ContainsAny(rest[:1], ".[=")) {
			under = append(under, rest)
		}
	}
	for _, rest := range under {
		p.at[to+rest] = p.at[key+rest]
		if st, ok := p.style[key+rest]; ok {
			p.style[to+rest] = st
		}
	}
}

func (p positions) walk(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			p.at[child] = [2]int{k.Line, k.Column}
			p.at[child+valueSuffix] = [2]int{v.Line, v.Column}
			p.style[child] = v.Style
			p.walk(child, v)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			child := path + "[" + strconv.Itoa(i) + "]"
			p.at[child] = [2]int{item.Line, item.Column}
			p.at[child+valueSuffix] = [2]int{item.Line, item.Column}
			p.style[child] = item.Style
			p.walk(child, item)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			p.walk(path, n.Alias)
		}
	}
}

// asItem records the value of key as the first item of a list at key, for
// a single value read as a one-item list.
func (p positions) asItem(key string) {
	if lc, ok := p.at[key+valueSuffix]; ok {
		p.at[key+"[0]"] = lc
		p.at[key+"[0]"+valueSuffix] = lc
		p.style[key+"[0]"] = p.style[key]
	}
}

// lookup returns where key stands, or where its nearest enclosing key
// stands when key itself is not in the file (a default, or an env override).
func (p positions) lookup(key string) (line, col int) {
	for key != "" {
		if lc, ok := p.at[key]; ok {
			return lc[0], lc[1]
		}
		// Fall back to the nearest enclosing key that has a position.
		cut := -1
		for i := len(key) - 1; i >= 0; i-- {
			if key[i] == '.' || key[i] == '[' {
				cut = i
				break
			}
		}
		if cut < 0 {
			return 0, 0
		}
		key = key[:cut]
	}
	return 0, 0
}

// exprPosition converts a position inside an expression (1-based line and
// 0-based column, as expr reports them) into a file position, given the key
// that holds the expression.
func (p positions) exprPosition(key string, line, col int) (int, int) {
	lc, ok := p.at[key+valueSuffix]
	if !ok {
		return p.lookup(key)
	}
	switch p.style[key] {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Block scalars start on the line after the indicator, indented.
		return lc[0] + line, p.blockIndent(lc[0]) + 1 + col
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line <= 1 {
			return lc[0], lc[1] + 1 + col
		}
	default:
		if line <= 1 {
			return lc[0], lc[1] + col
		}
	}
	return lc[0] + line - 1, col + 1
}

// blockIndent returns the indentation of the block scalar whose indicator
// (| or >) stands on the 1-based line: that of its first non-blank line.
func (p positions) blockIndent(line int) int {
	for _, l := range p.lines[min(line, len(p.lines)):] {
		if strings.TrimSpace(l) != "" {
			return len(l) - len(strings.TrimLeft(l, " "))
		}
	}
	return 0
}

// yamlErrorText matches a YAML parser error: "yaml: line 6: did not find
// expected key".
var yamlErrorText = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// locateYAMLError finds where a YAML syntax error is. The parser reports
// the line where the enclosing block starts, which for a mis-indented list
// item can be the first line of the file; the line that breaks the document
// is the first one whose prefix fails to parse with the same complaint.
// The column is that line's first character. It returns the complaint
// without the parser's prefix.
func locateYAMLError(src []byte, err error) (line, col int, msg string) {
	msg = err.Error()
	if m := yamlErrorText.FindStringSubmatch(msg); m != nil {
		msg = msg[len(m[0]):]
		line, _ = strconv.Atoi(m[1])
	}
	lines := strings.SplitAfter(string(src), "\n")
	var doc yaml.Node
	for n := 1; n <= len(lines); n++ {
		perr := yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &doc)
		if perr != nil && strings.HasSuffix(perr.Error(), ": "+msg) {
			line = n
			break
		}
	}
	if line < 1 || line > len(lines) {
		return line, 0, msg
	}
	text := lines[line-1]
	return line, len(text) - len(strings.TrimLeft(text, " ")) + 1, msg
}

// yamlHint says what usually causes a YAML syntax error on this line, or
// "" when nothing specific applies.
func yamlHint(text, msg string) string {
	indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
	value := strings.TrimSpace(text)
	if v, ok := strings.CutPrefix(value, "- "); ok {
		value = strings.TrimSpace(v)
	} else if _, v, ok := strings.Cut(value, ": "); ok {
		value = strings.TrimSpace(v)
	}
	switch {
	case strings.Contains(indent, "\t"):
		return "indent with spaces: YAML does not allow tabs"
	case strings.Contains(msg, "mapping values are not allowed"):
		return `an expression that holds ": " must be quoted, as in '` + strings.ReplaceAll(value, "'", "''") + `'`
	case strings.Contains(msg, "did not find expected") && (strings.HasPrefix(value, `"`) || strings.HasPrefix(value, "'")):
		return "a value that starts with a quote must end with it: quote the whole expression"
	case strings.Contains(msg, "alphabetic or numeric character") && strings.HasPrefix(value, "*"):
		return `* must be quoted: "*"`
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "expected '-' indicator"),
		strings.Contains(msg, "not allowed in this context"):
		return "check this line's indentation against the lines above it"
	}
	return ""
}
