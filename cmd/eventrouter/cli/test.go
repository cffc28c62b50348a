package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/eventrouter/eventrouter/ruletest"
)

// runTest runs rule-test files and reports like go test.
func (a *app) runTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runPattern := fs.String("run", "", "run only the cases whose name, or file/name, matches `REGEX`")
	verbose := fs.Bool("v", false, "list every case, passed ones too")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter test [PATH ...] [--run REGEX] [-v]

Runs rule tests: each case sends an event through the rules of a config
and compares the actions they yield with the ones it expects. Nothing is
executed and no port is opened.

A PATH is a test file or a directory searched for *_test.yaml files
(skipping .git, node_modules, testdata and vendor); no PATH searches the
working directory. A test file tests the config named by its config key,
or by default its sibling: config_test.yaml tests config.yaml.

Prints a diff for every failing case, the rules no case exercises, and a
closing line "N passed, N failed". Exits 0 when every case passes, 1 when
one fails, 2 on a usage error or a test file or config that cannot load.

Flags:
`)
		fs.PrintDefaults()
	}
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	opts := ruletest.Options{Registry: a.registry}
	if *runPattern != "" {
		re, err := regexp.Compile(*runPattern)
		if err != nil {
			fmt.Fprintf(stderr, "eventrouter test: --run: %v\n", err)
			return 2
		}
		opts.Run = re
	}
	files, err := ruletest.Expand(paths)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter test: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "eventrouter test: no rule-test files (*_test.yaml) in %s\n", strings.Join(orDot(paths), " "))
		return 2
	}
	rep := ruletest.RunFiles(files, opts)
	printReport(stdout, rep, *verbose)
	if len(rep.Results) == 0 && opts.Run != nil {
		fmt.Fprintf(stderr, "eventrouter test: warning: no case matches --run %s\n", opts.Run)
	}
	fmt.Fprintln(stdout, rep.Summary())
	switch {
	case rep.Broken > 0:
		return 2
	case rep.Failed() > 0:
		return 1
	}
	return 0
}

// printReport writes a --- FAIL block per failed case, a --- SKIP line per
// skipped file (and --- PASS lines when verbose), then the coverage lines.
func printReport(w io.Writer, rep *ruletest.Report, verbose bool) {
	for _, r := range rep.Results {
		if r.Skipped != "" {
			fmt.Fprintf(w, "--- SKIP: %s (%s)\n", r.ID(), r.Skipped)
			continue
		}
		if r.Err == nil {
			if verbose {
				fmt.Fprintf(w, "--- PASS: %s\n", r.ID())
			}
			continue
		}
		fmt.Fprintf(w, "--- FAIL: %s\n", r.ID())
		var f *ruletest.Failure
		msgs := []string{r.Err.Error()}
		if errors.As(r.Err, &f) {
			msgs = f.Problems
		}
		for _, m := range msgs {
			for _, line := range strings.Split(m, "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
	for _, c := range rep.Coverage {
		for _, line := range c.Lines() {
			fmt.Fprintln(w, line)
		}
	}
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil // after --, everything is a path
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func orDot(paths []string) []string {
	if len(paths) == 0 {
		return []string{"."}
	}
	return paths
}
