package ruletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
)

// Options tune a run of test files.
type Options struct {
	// Run selects cases: a case runs when Run matches its name or its ID
	// (file/name). Nil runs every case, and only then is coverage
	// reported.
	Run *regexp.Regexp
	// Config, when set, is tested instead of the config each file names;
	// `eventrouter check --test` and the mutation tests use it.
	Config string
	// Registry builds the plugin registry configs compile against. Nil
	// means the built-in plugins, as the daemon uses.
	Registry func() *rules.Registry
	// Load is passed to rules.Load, with StandIns always set: rule tests
	// read no secret. A test file's top-level vars are laid over
	// Load.StandIns.
	Load rules.LoadOptions
}

// CaseResult is the outcome of one case, or of a file that could not run.
type CaseResult struct {
	// File is the test file.
	File string
	// Name is the case's name; empty when the file itself failed.
	Name string
	// Err is nil when the case passed, a *Failure when an expectation was
	// not met, and any other error when the case, the test file or its
	// config is invalid.
	Err error
	// Skipped, when not empty, says why the file's cases did not run: its
	// config needs a plugin the registry lacks (see Suite.Plugins).
	Skipped string
}

// ID names the result as output does: file/case name.
func (r CaseResult) ID() string {
	if r.Name == "" {
		return r.File
	}
	return r.File + "/" + r.Name
}

// Coverage lists the rules of one config that no case exercised. A rule is
// exercised when its trigger matched and its when condition held, or when
// it failed at run time.
type Coverage struct {
	// Config is the config file.
	Config string
	// Rules is how many rules it has.
	Rules int
	// Uncovered names the rules no case exercised, in file order.
	Uncovered []string
}

// Lines describes each uncovered rule on its own line.
func (c Coverage) Lines() []string {
	out := make([]string, len(c.Uncovered))
	for i, name := range c.Uncovered {
		out[i] = fmt.Sprintf("coverage: %s: rule %q is not exercised by any case", c.Config, name)
	}
	return out
}

// Report is the outcome of a run.
type Report struct {
	// Results has one entry per case run, in file and case order, and one
	// per test file that could not run at all.
	Results []CaseResult
	// Coverage has one entry per config tested, in the order first seen.
	// It is empty when Options.Run selected cases.
	Coverage []Coverage
	// Broken counts the test files that could not be parsed or whose
	// config did not load; each also counts as one failure.
	Broken int
}

// Passed counts the cases that passed.
func (r *Report) Passed() int {
	n := 0
	for _, res := range r.Results {
		if res.Err == nil && res.Skipped == "" {
			n++
		}
	}
	return n
}

// Failed counts the cases that failed and the files that could not run.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if res.Err != nil {
			n++
		}
	}
	return n
}

// Skipped counts the files skipped for a missing plugin.
func (r *Report) Skipped() int {
	n := 0
	for _, res := range r.Results {
		if res.Skipped != "" {
			n++
		}
	}
	return n
}

// Summary is the closing line of a run: "N passed, N failed", and ", N
// skipped" when files were skipped.
func (r *Report) Summary() string {
	if n := r.Skipped(); n > 0 {
		return fmt.Sprintf("%d passed, %d failed, %d skipped", r.Passed(), r.Failed(), n)
	}
	return fmt.Sprintf("%d passed, %d failed", r.Passed(), r.Failed())
}

// RunFiles runs every case of the test files at paths. Each config is
// loaded once, however many files test it.
func RunFiles(paths []string, opts Options) *Report {
	e := newEngine(opts)
	rep := &Report{}
	for _, path := range paths {
		s, err := ParseFile(path)
		if err != nil {
			rep.Results = append(rep.Results, CaseResult{File: path, Err: err})
			rep.Broken++
			continue
		}
		if why := e.missing(s); why != "" {
			rep.Results = append(rep.Results, CaseResult{File: path, Skipped: why})
			continue
		}
		l := e.load(e.configOf(s), s.Vars)
		if l.err != nil {
			rep.Results = append(rep.Results, CaseResult{File: path, Err: l.err})
			rep.Broken++
			continue
		}
		for _, c := range s.Tests {
			if !e.selected(path, c) {
				continue
			}
			res, err := check(l.rs, c)
			l.exercise(res)
			if err != nil {
				err = fmt.Errorf("%s:%d: %w", path, c.line, err)
			}
			rep.Results = append(rep.Results, CaseResult{File: path, Name: c.Name, Err: err})
		}
	}
	rep.Coverage = e.coverage()
	return rep
}

// engine loads each config once for each set of stand-in vars, and
// tracks which rules cases exercised.
type engine struct {
	opts    Options
	configs map[string]*loaded // by config path and stand-ins
	covered map[string]*cover  // by config path
	order   []string           // config paths, as first loaded
}

// loaded is one config under test, loaded with one set of stand-ins.
type loaded struct {
	path string
	rs   *rules.Ruleset
	err  error
	hit  map[string]bool // shared by every load of the config
}

// cover is what coverage knows of one config: its rules, from any load
// that succeeded, and the rules any case exercised.
type cover struct {
	path   string
	loaded bool // a load succeeded
	rules  []*rules.Rule
	hit    map[string]bool
}

func newEngine(opts Options) *engine {
	if opts.Registry == nil {
		opts.Registry = builtin.Registry
	}
	return &engine{opts: opts, configs: map[string]*loaded{}, covered: map[string]*cover{}}
}

// missing says which of the plugins s needs the registry lacks, or "".
func (e *engine) missing(s *Suite) string {
	if len(s.Plugins) == 0 {
		return ""
	}
	have := map[string]bool{}
	for _, p := range e.opts.Registry().Plugins() {
		have[p.Name] = true
	}
	var lack []string
	for _, name := range s.Plugins {
		if !have[name] {
			lack = append(lack, name)
		}
	}
	if len(lack) == 0 {
		return ""
	}
	return fmt.Sprintf("needs plugin(s) %s, which this build lacks: run it with a binary that registers them", strings.Join(lack, ", "))
}

// configOf is the config a suite runs against.
func (e *engine) configOf(s *Suite) string {
	if e.opts.Config != "" {
		return e.opts.Config
	}
	return s.Config
}

// load compiles the config at path with the given stand-in vars laid over
// Options.Load.StandIns, once per path and stand-ins.
func (e *engine) load(path string, vars map[string]any) *loaded {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	standIns := maps.Clone(e.opts.Load.StandIns)
	if standIns == nil {
		standIns = map[string]any{}
	}
	maps.Copy(standIns, vars)
	key := abs
	if len(standIns) > 0 {
		b, err := json.Marshal(standIns)
		if err != nil {
			b = fmt.Appendf(nil, "%#v", standIns) // maps JSON cannot encode
		}
		key += "\x00" + string(b)
	}
	if l, ok := e.configs[key]; ok {
		return l
	}
	c, ok := e.covered[abs]
	if !ok {
		c = &cover{path: path, hit: map[string]bool{}}
		e.covered[abs] = c
		e.order = append(e.order, abs)
	}
	l := &loaded{path: path, hit: c.hit}
	opts := e.opts.Load
	opts.StandIns = standIns
	l.rs, l.err = rules.Load(path, e.opts.Registry(), opts)
	if l.err != nil {
		var le *rules.LoadError
		if errors.As(l.err, &le) {
			l.err = fmt.Errorf("load config %s: %d problem(s):\n%w", path, len(le.Problems), l.err)
		} else {
			l.err = fmt.Errorf("load config %s: %w", path, l.err)
		}
	} else if !c.loaded {
		c.loaded, c.rules = true, l.rs.Rules
	}
	e.configs[key] = l
	return l
}

// selected reports whether Options.Run picks c.
func (e *engine) selected(file string, c Case) bool {
	re := e.opts.Run
	return re == nil || re.MatchString(c.Name) || re.MatchString(file+"/"+c.Name)
}

// exercise records the rules res shows at work.
func (l *loaded) exercise(res rules.Result) {
	for _, name := range res.Matched {
		l.hit[name] = true
	}
	for _, re := range res.Errors {
		l.hit[re.Rule] = true
	}
}

// coverage reports every loaded config's unexercised rules, unless cases
// were selected, when it would only be noise.
func (e *engine) coverage() []Coverage {
	if e.opts.Run != nil {
		return nil
	}
	var out []Coverage
	for _, key := range e.order {
		c := e.covered[key]
		if !c.loaded {
			continue
		}
		cov := Coverage{Config: c.path, Rules: len(c.rules)}
		for _, r := range c.rules {
			if !c.hit[r.Name] {
				cov.Uncovered = append(cov.Uncovered, r.Name)
			}
		}
		out = append(out, cov)
	}
	return out
}

// Find returns every rule-test file (*_test.yaml, *_test.yml) under root,
// sorted. Like the go tool it skips directories named testdata or vendor
// and those starting with . or _, and it skips node_modules; root itself
// is always searched.
func Find(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if IsTestFile(d.Name()) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find rule tests under %s: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// skipDir reports whether Find skips a directory of this name.
func skipDir(name string) bool {
	switch name {
	case "node_modules", "testdata", "vendor":
		return true
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// Expand turns command-line paths into test files: a directory stands for
// every test file Find finds under it, a file for itself. No path means
// the working directory.
func Expand(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		found, err := Find(p)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}
