// Command eventrouter is a Socket.IO event router: it routes every event
// from Socket.IO clients and HTTP routes to actions written as expressions
// in config.yaml.
//
// Usage:
//
//	eventrouter [run] [--config FILE] [--listen ADDR] [--admin-listen ADDR]
//	eventrouter check [--config FILE] [--test]
//	eventrouter test [PATH ...] [--run REGEX] [-v]
//	eventrouter version
//	eventrouter help [COMMAND]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	_ "github.com/eventrouter/eventrouter/internal/siolog" // must initialise before the socket.io packages
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string // one line for the command list
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the help shows them.
func commands() []command {
	return []command{
		{"run", "run the daemon (the default command)", runDaemon},
		{"check", "validate a config and compile every rule", func(_ context.Context, args []string, stdout, stderr io.Writer) int {
			return runCheck(args, stdout, stderr)
		}},
		{"test", "run rule tests (*_test.yaml)", func(_ context.Context, args []string, stdout, stderr io.Writer) int {
			return runTest(args, stdout, stderr)
		}},
		{"version", "print the version", runVersion},
		{"help", "list the commands, or show one's usage (help COMMAND)", runHelp},
	}
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "run"
	if len(args) > 0 {
		switch {
		case isHelpFlag(args[0]):
			return runHelp(ctx, args[1:], stdout, stderr)
		case args[0] != "" && args[0][0] != '-':
			name, args = args[0], args[1:]
		}
	}
	if c, ok := lookup(name); ok {
		return c.run(ctx, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "eventrouter: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// lookup finds a subcommand by name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
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
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelpFlag(args[0]) || args[0] == "help" {
		usage(stdout)
		return 0
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "eventrouter help: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	// A command prints its usage where its flag errors go; asked for,
	// usage belongs on stdout.
	return c.run(ctx, []string{"-h"}, stdout, stdout)
}

// runVersion prints the version.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter version

Prints the version of this binary.
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eventrouter version: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	fmt.Fprintf(stdout, "eventrouter %s\n", version)
	return 0
}

// usage writes the command list.
func usage(w io.Writer) {
	fmt.Fprint(w, `eventrouter routes Socket.IO and HTTP events to actions written in config.yaml.

Usage:
  eventrouter [COMMAND] [FLAGS]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
A bare "eventrouter [FLAGS]" means "eventrouter run [FLAGS]".
Run "eventrouter COMMAND -h" for a command's usage and flags.
`)
}
