// Command eventrouter-stamp is eventrouter with the stamp plugin of
// ./stamp added: a custom build is this main and nothing else. Build it
// with "go build -o eventrouter-stamp ./examples/plugin"; it has every
// subcommand of the stock binary, and rules may call stamp_emit and
// stamp_respond in the daemon, in check and in test.
package main

import (
	"context"
	"os"

	"github.com/eventrouter/eventrouter/cmd/eventrouter/cli"
	"github.com/eventrouter/eventrouter/examples/plugin/stamp"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.WithPlugins(stamp.Plugin())))
}
