package cli

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestDialAddr checks which address health connects to for a listen
// address: one on every interface is asked on loopback.
func TestDialAddr(t *testing.T) {
	cases := []struct{ listen, want string }{
		{"127.0.0.1:9090", "127.0.0.1:9090"},
		{"0.0.0.0:9090", "127.0.0.1:9090"},
		{":9090", "127.0.0.1:9090"},
		{"[::]:9090", "127.0.0.1:9090"},
		{"[::1]:9090", "[::1]:9090"},
		{"10.1.2.3:9090", "10.1.2.3:9090"},
		{"localhost:9090", "localhost:9090"},
	}
	for _, c := range cases {
		if got, err := dialAddr(c.listen); err != nil || got != c.want {
			t.Errorf("dialAddr(%q) = %q, %v; want %q", c.listen, got, err, c.want)
		}
	}
	if _, err := dialAddr("9090"); err == nil {
		t.Error("dialAddr(9090): no error")
	}
}

// TestHealthWithoutDaemon checks health's failures: where it finds no
// address, and where nothing answers.
func TestHealthWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	off := filepath.Join(dir, "off.yaml")
	if err := os.WriteFile(off, []byte("admin:\n  listen: \"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"health", "--config", filepath.Join(dir, "missing.yaml")}, "or pass --admin"},
		{"admin off", []string{"health", "--config", off}, "turns the admin listener off"},
		{"nothing listening", []string{"health", "--admin", closedPort(t)}, "connection refused"},
		{"bad address", []string{"health", "--admin", "9090"}, "missing port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Run(context.Background(), c.args, WithOutput(&stdout, &stderr)); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, &stderr)
			}
		})
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	p := startDaemon(t, chatConfig("", ""))
	addr := strings.TrimPrefix(p.Admin, "http://")
	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t); code != 0 {
		t.Fatalf("daemon exit %d", code)
	}
	return addr
}

// staticBinary builds eventrouter with CGO_ENABLED=0, as package.sh and
// the Dockerfile do, into dir, and checks it needs no dynamic loader.
func staticBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "eventrouter")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary is dynamically linked: a distroless static image could not run it")
		}
	}
	return bin
}

// copyShippedConfig copies the repository's config.yaml and its rule
// tests into dir, as the image and the packages ship them.
func copyShippedConfig(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"config.yaml", "config_test.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../..", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStaticBinaryUnprivileged runs what the container image runs, the
// way it runs it: the static binary (CGO_ENABLED=0) as an unprivileged
// user with no groups, on the shipped config, with the admin listener on
// every interface as a container that publishes it asks for. Its own
// health command, the image's HEALTHCHECK, answers ready while it serves
// and fails once it stopped. (No container engine runs on the machines
// this project tests on; see docs/operations.md#container-image.)
func TestStaticBinaryUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot switch to an unprivileged user (CI runs as root and runs this test)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil { // t.TempDir is 0700: the user could not reach the files
			t.Fatal(err)
		}
	}
	bin := staticBinary(t, dir)
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	copyShippedConfig(t, etc)
	config := filepath.Join(etc, "config.yaml")
	nobody := []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	asNobody := func(env []string, args ...string) (string, string, error) {
		cmd := exec.Command(nobody[0], append(append(nobody[1:], bin), args...)...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	if out, errOut, err := asNobody(nil, "check", "--test", "--config", config); err != nil {
		t.Fatalf("check --test as nobody: %v\n%s%s", err, out, errOut)
	}

	p := launchBinary(t, bin, nobody, config, "127.0.0.1:0", "0.0.0.0:0", "EVENTROUTER_LOG_FORMAT=json")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\nUid:\t65534\t65534\t65534\t65534\n(.|\n)*\nGroups:\s*\n`).Match(status) {
		t.Errorf("the daemon does not run as 65534 without groups:\n%s", status)
	}
	admin := strings.TrimPrefix(p.Admin, "http://")
	if !strings.HasPrefix(admin, "0.0.0.0:") && !strings.HasPrefix(admin, "[::]:") {
		t.Fatalf("admin listening on %s, want every interface", admin)
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"--admin", nil, []string{"health", "--admin", admin}, "ready"},
		{"config and environment", []string{"EVENTROUTER_ADMIN_LISTEN=" + admin}, []string{"health", "--config", config}, "ready"},
		{"--live", nil, []string{"health", "--admin", admin, "--live"}, "ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, err := asNobody(c.env, c.args...)
			if err != nil || strings.TrimSpace(out) != c.want {
				t.Errorf("%v: stdout %q, stderr %q; want %q", err, out, errOut, c.want)
			}
		})
	}

	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t); code != 0 {
		t.Fatalf("daemon exit %d", code)
	}
	if out, errOut, err := asNobody(nil, "health", "--admin", admin); err == nil || !strings.Contains(errOut, "eventrouter health:") {
		t.Errorf("health after stop: %v, stdout %q, stderr %q; want exit 1 with a reason", err, out, errOut)
	}
}
