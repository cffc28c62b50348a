// Package cli is the eventrouter command line: the run, check, test,
// hash-password, health, schema, completion, man, version and help subcommands. cmd/eventrouter is a thin main around it,
// and a custom build that adds action plugins is another:
//
//	package main
//
//	import (
//		"context"
//		"os"
//
//		"github.com/eventrouter/eventrouter/cmd/eventrouter/cli"
//		"example.com/myplugin"
//	)
//
//	func main() {
//		os.Exit(cli.Run(context.Background(), os.Args[1:], cli.WithPlugins(myplugin.Plugin())))
//	}
//
// The plugins join the built-in ones in every subcommand: the daemon runs
// their actions, check compiles rules that call their functions, and test
// evaluates them.
//
// Usage of the binary:
//
//	eventrouter [run] [--config FILE] [--listen ADDR] [--admin-listen ADDR]
//	eventrouter check [--config FILE] [--test]
//	eventrouter test [PATH ...] [--run REGEX] [-v]
//	eventrouter hash-password [--cost N] < PASSWORD_FILE
//	eventrouter health [--config FILE] [--admin ADDR] [--live] [--timeout DURATION]
//	eventrouter schema
//	eventrouter completion bash|zsh|fish
//	eventrouter man
//	eventrouter version
//	eventrouter help [COMMAND]
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eventrouter/eventrouter/actions/builtin"
	_ "github.com/eventrouter/eventrouter/internal/siolog" // must initialise before the socket.io packages
	"github.com/eventrouter/eventrouter/rules"
)

// DefaultVersion is what "eventrouter version" prints when neither a
// WithVersion option nor the binary's build information names a release:
// a plain "go build" of a clone.
const DefaultVersion = "devel"

// Option configures Run.
type Option func(*app)

// WithPlugins adds action plugins to the built-in ones, for every
// subcommand. A plugin whose name, functions or action kinds clash with a
// built-in's or another's makes Run exit 1 naming the clash.
func WithPlugins(plugins ...rules.Plugin) Option {
	return func(a *app) { a.plugins = append(a.plugins, plugins...) }
}

// WithVersion sets the version "eventrouter version" prints; main packages
// usually pass a variable set with -ldflags "-X main.version=...". An empty
// version is no option: the binary's build information names it, as
// without the option.
func WithVersion(version string) Option {
	return func(a *app) { a.version = version }
}

// WithInput sets what commands that read stdin (hash-password) read; by
// default os.Stdin.
func WithInput(stdin io.Reader) Option {
	return func(a *app) { a.stdin = stdin }
}

// WithCommit sets the commit "eventrouter version" prints, usually from
// -ldflags "-X main.commit=..."; without it (or with "") the VCS revision
// that the go command stamped into the binary is printed.
func WithCommit(commit string) Option {
	return func(a *app) { a.commit = commit }
}

// WithOutput sets where the commands write their output and their errors
// and logs; by default os.Stdout and os.Stderr.
func WithOutput(stdout, stderr io.Writer) Option {
	return func(a *app) { a.stdout, a.stderr = stdout, stderr }
}

// Run runs the subcommand args names (args excludes the program name, as
// os.Args[1:] does) and returns the process exit code: 0 on success, 1 on
// failure, 2 on a usage error. The daemon ("run") stops when ctx is done
// or on SIGTERM or SIGINT.
func Run(ctx context.Context, args []string, opts ...Option) int {
	a := &app{stdout: os.Stdout, stderr: os.Stderr}
	for _, o := range opts {
		o(a)
	}
	if _, err := a.newRegistry(); err != nil {
		fmt.Fprintf(a.stderr, "eventrouter: %v\n", err)
		return 1
	}
	return a.run(ctx, args, a.stdout, a.stderr)
}

// app is one invocation of the command line: the plugins it adds and the
// version and commit it reports ("" for the build information's).
type app struct {
	plugins         []rules.Plugin
	version, commit string
	stdout, stderr  io.Writer
	stdin           io.Reader // nil means os.Stdin
}

// newRegistry returns a fresh registry of the built-in plugins and the
// app's own.
func (a *app) newRegistry() (*rules.Registry, error) {
	reg := builtin.Registry()
	for _, p := range a.plugins {
		if err := reg.Register(p); err != nil {
			return nil, fmt.Errorf("add plugin: %w", err)
		}
	}
	return reg, nil
}

// registry is newRegistry for callers that need a func() *rules.Registry;
// Run has checked the plugins register, so it cannot fail.
func (a *app) registry() *rules.Registry {
	reg, err := a.newRegistry()
	if err != nil {
		panic(err) // unreachable: Run refuses plugins that do not register
	}
	return reg
}

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string // one line for the command list
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the help shows them.
func (a *app) commands() []command {
	return []command{
		{"run", "run the daemon (the default command)", a.runDaemon},
		{"check", "validate a config and compile every rule", func(_ context.Context, args []string, stdout, stderr io.Writer) int {
			return a.runCheck(args, stdout, stderr)
		}},
		{"test", "run rule tests (*_test.yaml)", func(_ context.Context, args []string, stdout, stderr io.Writer) int {
			return a.runTest(args, stdout, stderr)
		}},
		{"hash-password", "print the bcrypt hash of a password from stdin, for admin_ui", func(_ context.Context, args []string, stdout, stderr io.Writer) int {
			return a.runHashPassword(a.stdinOf(), args, stdout, stderr)
		}},
		{"health", "ask a running daemon's admin listener whether it is ready", a.runHealth},
		{"schema", "print the JSON Schema of config.yaml, for editors", a.runSchema},
		{"completion", "print a shell completion script (bash, zsh or fish)", a.runCompletion},
		{"man", "print the man page, eventrouter(1), in roff", a.runMan},
		{"version", "print the version, commit and Go version", a.runVersion},
		{"help", "list the commands, or show one's usage (help COMMAND)", a.runHelp},
	}
}

// run dispatches a subcommand and returns the process exit code.
func (a *app) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "run"
	if len(args) > 0 {
		switch {
		case isHelpFlag(args[0]):
			return a.runHelp(ctx, args[1:], stdout, stderr)
		case args[0] != "" && args[0][0] != '-':
			name, args = args[0], args[1:]
		}
	}
	if c, ok := a.lookup(name); ok {
		return c.run(ctx, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "eventrouter: unknown command %q\n\n", name)
	a.usage(stderr)
	return 2
}

// lookup finds a subcommand by name.
func (a *app) lookup(name string) (command, bool) {
	for _, c := range a.commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// isHelpFlag reports whether arg asks for help the way the flag package
// understands it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

// runHelp lists the commands, or with a command's name prints that
// command's usage, on stdout.
func (a *app) runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelpFlag(args[0]) || args[0] == "help" {
		a.usage(stdout)
		return 0
	}
	c, ok := a.lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "eventrouter help: unknown command %q\n\n", args[0])
		a.usage(stderr)
		return 2
	}
	// A command prints its usage where its flag errors go; asked for,
	// usage belongs on stdout.
	return c.run(ctx, []string{"-h"}, stdout, stdout)
}

// parseNoArgs parses the flags of a command that takes no argument. It
// reports false, with the exit code to return, when the command must stop
// there: 0 after -h, 2 on a bad flag or an argument.
func parseNoArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		return helpOrUsageError(err), false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eventrouter %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2, false
	}
	return 0, true
}

// helpOrUsageError returns the exit code of a failed fs.Parse: 0 when it
// printed the usage that -h asked for, else 2.
func helpOrUsageError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// usage writes the command list.
func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `eventrouter routes Socket.IO and HTTP events to actions written in config.yaml.

Usage:
  eventrouter [COMMAND] [FLAGS]

Commands:
`)
	for _, c := range a.commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
A bare "eventrouter [FLAGS]" means "eventrouter run [FLAGS]".
Run "eventrouter COMMAND -h" for a command's usage and flags.
`)
}
