// Command eventrouter is a Socket.IO event router: it routes every event
// from Socket.IO clients and HTTP routes to actions written as expressions
// in config.yaml. The command line lives in package cli; a build with
// plugins of its own is a main like this one (see docs/plugins.md).
package main

import (
	"context"
	"os"

	"github.com/eventrouter/eventrouter/cmd/eventrouter/cli"
)

// version and commit are set at build time by package.sh, with -ldflags
// "-X main.version=... -X main.commit=..."; left empty, "eventrouter
// version" reads the build information the go command stamped.
var version, commit string

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.WithVersion(version), cli.WithCommit(commit)))
}
