package rules

import (
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

// indexPositions walks a parsed YAML document and records where every key
// and list item starts. A document that does not parse yields no positions;
// koanf reports the syntax error itself.
func indexPositions(src []byte) positions {
	var doc yaml.Node
	pos := positions{at: map[string][2]int{}, style: map[string]yaml.Style{}, lines: strings.Split(string(src), "\n")}
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
		return pos
	}
	pos.walk("", doc.Content[0])
	return pos
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
