package cli

import (
	"context"
	"io"
)

// version is the version the tests' runs report.
const version = DefaultVersion

// run runs the command line with the built-in plugins only, as the
// stock binary does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Run(ctx, args, WithOutput(stdout, stderr))
}
