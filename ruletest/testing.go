package ruletest

import (
	"errors"
	"path/filepath"
	"testing"
)

// Run runs the test file at path as subtests of t, one per case, against
// the config it names, compiled with the built-in plugins. Rules no case
// exercises are logged; RunAll fails on them.
func Run(t *testing.T, path string) {
	t.Helper()
	e := newEngine(Options{})
	runFile(t, e, path)
	for _, c := range e.coverage() {
		for _, line := range c.Lines() {
			t.Log(line)
		}
	}
}

// RunAll runs every test file Find finds under root, each as a subtest
// named by its path relative to root, and fails when a config has a rule
// that no case exercises. One call from a _test.go file makes `go test`
// run a repository's rule tests.
func RunAll(t *testing.T, root string) {
	t.Helper()
	files, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no rule-test files (*_test.yaml) under %s", root)
	}
	e := newEngine(Options{})
	for _, path := range files {
		name, err := filepath.Rel(root, path)
		if err != nil {
			name = path
		}
		t.Run(filepath.ToSlash(name), func(t *testing.T) { runFile(t, e, path) })
	}
	for _, c := range e.coverage() {
		for _, line := range c.Lines() {
			t.Error(line)
		}
	}
}

// runFile runs one test file's cases as subtests of t.
func runFile(t *testing.T, e *engine, path string) {
	t.Helper()
	s, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if why := e.missing(s); why != "" {
		t.Skipf("%s: %s", path, why)
	}
	l := e.load(e.configOf(s), s.Vars)
	if l.err != nil {
		t.Fatalf("%s: %v", path, l.err)
	}
	for _, c := range s.Tests {
		t.Run(c.Name, func(t *testing.T) {
			res, err := check(l.rs, c)
			l.exercise(res)
			var f *Failure
			switch {
			case errors.As(err, &f):
				for _, p := range f.Problems {
					t.Errorf("%s:%d: %s", path, c.line, p)
				}
			case err != nil:
				t.Errorf("%s:%d: %v", path, c.line, err)
			}
		})
	}
}
