package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/rules"
)

// runHealth asks a running daemon's admin listener whether it is ready
// (or alive), as a container's HEALTHCHECK does, without curl.
func (a *app) runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "config.yaml", "config file whose admin.listen (or EVENTROUTER_ADMIN_LISTEN) names the admin listener")
	admin := fs.String("admin", "", "admin listener address, in place of the config's admin.listen")
	live := fs.Bool("live", false, "ask /healthz (the process runs) instead of /readyz (it serves with rules loaded)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter health [--config FILE] [--admin ADDR] [--live] [--timeout DURATION]

Asks the admin listener of a running daemon for GET /readyz (with --live,
/healthz) and exits 0 when it answers 200, 1 otherwise, printing the
answer. The address is --admin, else admin.listen of FILE with the
EVENTROUTER_* environment applied, as the daemon reads it; an address on
every interface (0.0.0.0:9090, :9090) is asked on loopback. A container
image's HEALTHCHECK runs it, so the image needs no curl.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	addr := *admin
	if addr == "" {
		cfg, err := rules.LoadFile(*configPath, rules.LoadOptions{})
		if err != nil {
			fmt.Fprintf(stderr, "eventrouter health: read the admin address from %s (or pass --admin): %v\n", *configPath, err)
			return 1
		}
		addr = cfg.Admin.Listen
		if addr == "" {
			fmt.Fprintf(stderr, "eventrouter health: %s turns the admin listener off (admin.listen is empty): nothing to ask\n", *configPath)
			return 1
		}
	}
	target, err := dialAddr(addr)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter health: %v\n", err)
		return 1
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	status, body, err := get(ctx, "http://"+target+path, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter health: %v\n", err)
		return 1
	}
	if status != http.StatusOK {
		fmt.Fprintf(stderr, "eventrouter health: %s answered %d: %s\n", path, status, body)
		return 1
	}
	fmt.Fprintln(stdout, body)
	return 0
}

// dialAddr turns a listen address into one to connect to: a host that
// means every interface, or none, becomes 127.0.0.1 (Go listens on "::"
// for IPv4 too).
func dialAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("admin address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// get fetches url and returns its status and its body, trimmed.
func get(ctx context.Context, url string, timeout time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, "", fmt.Errorf("no answer from %s within %s", url, timeout)
		}
		return 0, "", fmt.Errorf("ask %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, "", fmt.Errorf("read the answer of %s: %w", url, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}
