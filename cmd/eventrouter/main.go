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
package main

import (
	"context"
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

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runDaemon(ctx, args, stdout, stderr)
	case "check":
		return runCheck(args, stdout, stderr)
	case "test":
		return runTest(args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "eventrouter %s\n", version)
		return 0
	case "help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "eventrouter: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `eventrouter routes Socket.IO and HTTP events to actions written in config.yaml.

Usage:
  eventrouter [run] [--config FILE] [--listen ADDR] [--admin-listen ADDR]
                                                      run the daemon (default command)
  eventrouter check [--config FILE] [--test]          validate a config and compile every rule
  eventrouter test [PATH ...] [--run REGEX] [-v]      run rule tests (*_test.yaml)
  eventrouter version                                 print the version

Run "eventrouter COMMAND -h" for a command's flags.
`)
}
