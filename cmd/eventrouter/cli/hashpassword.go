package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// runHashPassword prints the bcrypt hash of a password read from stdin,
// for admin_ui.auth.password_hash.
func (a *app) runHashPassword(stdin io.Reader, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost (4 to 31); each step doubles the work of a login")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter hash-password [--cost N] < PASSWORD_FILE

Reads a password from the first line of stdin and prints its bcrypt hash,
for admin_ui.auth.password_hash (the Socket.IO Admin UI login). The
password is read from stdin, never from an argument, so it stays out of
the shell history and the process list:

  echo "$ADMIN_PASSWORD" | eventrouter hash-password

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
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eventrouter hash-password: unexpected argument; the password is read from stdin\n")
		fs.Usage()
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "eventrouter hash-password: read stdin: %v\n", err)
		return 1
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		fmt.Fprintln(stderr, "eventrouter hash-password: empty password on stdin")
		return 1
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), *cost)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(hash))
	return 0
}

// stdinOf is the stdin of the process; tests replace it through app.stdin.
func (a *app) stdinOf() io.Reader {
	if a.stdin != nil {
		return a.stdin
	}
	return os.Stdin
}
