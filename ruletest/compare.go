package ruletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/rules"
)

// Failure is a case whose expectations were not met.
type Failure struct {
	// Case is the case's name.
	Case string
	// Problems are the unmet expectations, one message each. An actions
	// mismatch is a multi-line diff: "- " lines are expected actions no
	// actual one matched, "+ " lines actual actions nothing expected, and
	// "  " lines actions as expected.
	Problems []string
}

// Error names the case and lists its problems.
func (f *Failure) Error() string {
	return fmt.Sprintf("case %q:\n%s", f.Case, strings.Join(f.Problems, "\n"))
}

// Check evaluates c against rs and compares the outcome with c.Expect. It
// returns nil when every expectation holds, a *Failure when one does not,
// and another error when the case itself is invalid.
func Check(rs *rules.Ruleset, c Case) error {
	_, err := check(rs, c)
	return err
}

// check is Check that also returns what evaluation produced.
func check(rs *rules.Ruleset, c Case) (rules.Result, error) {
	if err := c.validate(); err != nil {
		return rules.Result{}, fmt.Errorf("case %q: %w", c.Name, err)
	}
	res, err := Eval(rs, c)
	if err != nil {
		return res, fmt.Errorf("case %q: %w", c.Name, err)
	}
	if probs := compare(c.Expect, res); len(probs) > 0 {
		return res, &Failure{Case: c.Name, Problems: probs}
	}
	return res, nil
}

// compare lists every way res falls short of e.
func compare(e Expect, res rules.Result) []string {
	var probs []string
	got := make([]map[string]any, len(res.Actions))
	for i, a := range res.Actions {
		got[i] = canonical(a)
	}
	switch {
	case e.Actions != nil:
		want := expected(e.Actions)
		if d, ok := diffExact(want, got); !ok {
			probs = append(probs, "actions differ (-want +got):\n"+d)
		}
	case e.Contains != nil:
		want := expected(e.Contains)
		if d, ok := diffContains(want, got); !ok {
			probs = append(probs, d)
		}
	case e.NoActions:
		if len(got) > 0 {
			probs = append(probs, "want no actions, got:\n"+renderAll("+ ", got, shown(nil)))
		}
	}
	var errs []string
	found := false
	for _, re := range res.Errors {
		errs = append(errs, re.Error())
		if e.Error != "" && strings.Contains(re.Error(), e.Error) {
			found = true
		}
	}
	switch {
	case e.Error == "" && len(errs) > 0:
		probs = append(probs, "unexpected rule error:\n  "+strings.Join(errs, "\n  "))
	case e.Error != "" && !found && len(errs) == 0:
		probs = append(probs, fmt.Sprintf("want a rule error containing %q, got none", e.Error))
	case e.Error != "" && !found:
		probs = append(probs, fmt.Sprintf("want a rule error containing %q, got:\n  %s", e.Error, strings.Join(errs, "\n  ")))
	}
	if e.Matched != nil && !slices.Equal(e.Matched, res.Matched) {
		probs = append(probs, fmt.Sprintf("matched rules differ:\n- %s\n+ %s", nameList(e.Matched), nameList(res.Matched)))
	}
	return probs
}

func nameList(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// canonical converts an action into its non-empty fields as JSON values.
func canonical(a rules.Action) map[string]any {
	m := map[string]any{}
	for k, v := range map[string]any{
		"kind": a.Kind, "rule": a.Rule, "event": a.Event, "args": a.Args, "rooms": a.Rooms,
		"status": a.Status, "body": a.Body, "headers": a.Headers, "message": a.Message,
		"key": a.Key, "value": a.Value, "level": a.Level, "url": a.URL, "backend": a.Backend,
		"namespace": a.Namespace,
	} {
		if n := normalize(v); !emptyField(k, n) {
			m[k] = n
		}
	}
	return m
}

// expected normalizes expected actions and drops their empty fields.
func expected(list []Action) []map[string]any {
	out := make([]map[string]any, len(list))
	for i, a := range list {
		m := map[string]any{}
		for k, v := range a {
			if n := normalize(v); !emptyField(k, n) {
				m[k] = n
			}
		}
		out[i] = m
	}
	return out
}

// emptyField reports whether v, normalized, is the empty value of the
// action field k, which exact matching treats as absent.
func emptyField(k string, v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == "" && k != "body" && k != "value"
	case float64:
		return x == 0 && k == "status"
	case []any:
		return len(x) == 0 && (k == "args" || k == "rooms")
	case map[string]any:
		return len(x) == 0 && k == "headers"
	}
	return false
}

// exactMatch reports whether got is want: the same fields with equal
// values, rule and level compared only when want gives them.
func exactMatch(want, got map[string]any) bool {
	for _, k := range actionFields {
		w, wok := want[k]
		g, gok := got[k]
		if !wok && ignoredUnlessGiven[k] {
			continue
		}
		if wok != gok || !reflect.DeepEqual(w, g) {
			return false
		}
	}
	return true
}

// partialMatch reports whether every field want gives is a JSON subset of
// the same field of got.
func partialMatch(want, got map[string]any) bool {
	for k, w := range want {
		if !subset(w, got[k]) {
			return false
		}
	}
	return true
}

// subset reports whether want is a JSON subset of got: maps need only hold
// want's keys, lists need the same length with each item a subset, and
// everything else must be equal.
func subset(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !subset(wv, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}

// diffExact compares two action lists in order and renders a line diff
// built on their longest common subsequence.
func diffExact(want, got []map[string]any) (string, bool) {
	n, m := len(want), len(got)
	// lcs[i][j] is the LCS length of want[i:] and got[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if exactMatch(want[i], got[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	if lcs[0][0] == n && n == m {
		return "", true
	}
	show := shown(want)
	var b strings.Builder
	if n == 0 {
		b.WriteString("- (no actions)\n")
	}
	// A changed stretch pairs its i-th missing action with its i-th
	// unexpected one, when it has as many of each, to name the fields
	// that differ.
	var hints []string
	var minus, plus []int
	flush := func() {
		if len(minus) == len(plus) {
			for k := range minus {
				for _, d := range fieldDiffs(want[minus[k]], got[plus[k]]) {
					hints = append(hints, fmt.Sprintf("action %d: %s", plus[k]+1, d))
				}
			}
		}
		minus, plus = minus[:0], plus[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && exactMatch(want[i], got[j]):
			flush()
			b.WriteString("  " + render(want[i], nil) + "\n")
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			// Within a changed stretch the expected lines come first.
			b.WriteString("- " + render(want[i], nil) + "\n")
			minus = append(minus, i)
			i++
		default:
			b.WriteString("+ " + render(got[j], show) + "\n")
			plus = append(plus, j)
			j++
		}
	}
	flush()
	if m == 0 {
		b.WriteString("+ (no actions)\n")
	}
	for _, h := range hints {
		b.WriteString(h + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n"), false
}

// maxFieldDiffs bounds the differences named for one pair of actions.
const maxFieldDiffs = 4

// fieldDiffs names the compared fields, down to nested keys, in which got
// differs from want: `body.message: want "a", got "b"`.
func fieldDiffs(want, got map[string]any) []string {
	var out []string
	for _, k := range actionFields {
		w, wok := want[k]
		g, gok := got[k]
		if !wok && ignoredUnlessGiven[k] {
			continue
		}
		switch {
		case wok && gok:
			valueDiffs(k, w, g, &out)
		case wok:
			out = append(out, fmt.Sprintf("%s: want %s, got nothing", k, compactJSON(w)))
		case gok:
			out = append(out, fmt.Sprintf("%s: want nothing, got %s", k, compactJSON(g)))
		}
	}
	if len(out) > maxFieldDiffs {
		out = append(out[:maxFieldDiffs], fmt.Sprintf("… and %d more", len(out)-maxFieldDiffs))
	}
	return out
}

// valueDiffs appends a line per leaf at which got differs from want.
func valueDiffs(path string, want, got any, out *[]string) {
	if reflect.DeepEqual(want, got) {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		if g, ok := got.(map[string]any); ok {
			keys := make([]string, 0, len(w)+len(g))
			for k := range w {
				keys = append(keys, k)
			}
			for k := range g {
				if _, dup := w[k]; !dup {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				wv, wok := w[k]
				gv, gok := g[k]
				switch {
				case !gok:
					*out = append(*out, fmt.Sprintf("%s.%s: want %s, got nothing", path, k, compactJSON(wv)))
				case !wok:
					*out = append(*out, fmt.Sprintf("%s.%s: want nothing, got %s", path, k, compactJSON(gv)))
				default:
					valueDiffs(path+"."+k, wv, gv, out)
				}
			}
			return
		}
	case []any:
		if g, ok := got.([]any); ok && len(g) == len(w) {
			for i := range w {
				valueDiffs(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], out)
			}
			return
		}
	}
	*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, compactJSON(want), compactJSON(got)))
}

// diffContains checks that want appear in got in order, each a partial
// match, and renders what is missing next to every actual action.
func diffContains(want, got []map[string]any) (string, bool) {
	var b strings.Builder
	ok := true
	j := 0
	for _, w := range want {
		k := j
		for k < len(got) && !partialMatch(w, got[k]) {
			k++
		}
		if k == len(got) {
			ok = false
			b.WriteString("- " + render(w, nil) + "\n")
			continue
		}
		b.WriteString("  " + render(w, nil) + "\n")
		j = k + 1
	}
	if ok {
		return "", true
	}
	head := "expected actions not found in order (- missing):\n"
	return head + b.String() + "actual actions:\n" + renderAll("+ ", got, shown(want)), false
}

// shown says which fields to display for actual actions: every field but
// rule and level, which appear only when an expectation gives them.
func shown(want []map[string]any) func(string) bool {
	given := map[string]bool{}
	for _, w := range want {
		for k := range w {
			given[k] = true
		}
	}
	return func(k string) bool { return !ignoredUnlessGiven[k] || given[k] }
}

func renderAll(prefix string, list []map[string]any, show func(string) bool) string {
	if len(list) == 0 {
		return prefix + "(no actions)"
	}
	lines := make([]string, len(list))
	for i, a := range list {
		lines[i] = prefix + render(a, show)
	}
	return strings.Join(lines, "\n")
}

// render writes an action as one line of compact JSON, fields in a fixed
// order: kind first, then target, then payload.
func render(a map[string]any, show func(string) bool) string {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range actionFields {
		v, ok := a[k]
		if !ok || (show != nil && !show(k)) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, compactJSON(v))
	}
	b.WriteByte('}')
	return b.String()
}

// compactJSON encodes v without HTML escaping, so text stays readable.
func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
