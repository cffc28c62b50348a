package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/eventrouter/eventrouter/ruletest"
)

// runCheck loads and compiles a config without starting anything.
func (a *app) runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "config.yaml", "config file to check")
	withTests := fs.Bool("test", false, "also run the config's rule tests, FILE_test.yaml beside it")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter check [--config FILE] [--test]

Loads FILE (and EVENTROUTER_* environment overrides) exactly as the daemon
would, validates every key and compiles every expression. It reads the
secrets of vars_from too (environment variables, files, systemd
credentials), so run it where the daemon runs: a missing one is a problem.
No secret's value is ever printed. Exits 0 when the config is valid, 1 with
every problem listed (file:line:col: message).

With --test it also runs the rule tests beside FILE (config_test.yaml for
config.yaml) against FILE, and exits 1 when that file is missing or any
case fails, so a reload that breaks tested behaviour can be refused. Rule
tests read no secret: the test file's top-level vars stand in for them.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rs, err := rules.Load(*configPath, a.registry(), rules.LoadOptions{})
	if err != nil {
		var le *rules.LoadError
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				fmt.Fprintln(stderr, p.String())
			}
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", *configPath, len(le.Problems))
		} else {
			fmt.Fprintf(stderr, "eventrouter check: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok, %d rule(s), %d route(s)\n", *configPath, len(rs.Rules), len(rs.Routes))
	if *withTests {
		return a.checkTests(*configPath, stdout, stderr)
	}
	return 0
}

// checkTests runs the rule tests beside configPath against it.
func (a *app) checkTests(configPath string, stdout, stderr io.Writer) int {
	testPath := ruletest.SiblingTest(configPath)
	if _, err := os.Stat(testPath); err != nil {
		fmt.Fprintf(stderr, "eventrouter check: --test: no rule tests for %s: %v\n", configPath, err)
		return 1
	}
	rep := ruletest.RunFiles([]string{testPath}, ruletest.Options{Config: configPath, Registry: a.registry})
	printReport(stdout, rep, false)
	fmt.Fprintf(stdout, "%s: %s\n", testPath, rep.Summary())
	if rep.Failed() > 0 {
		return 1
	}
	return 0
}
