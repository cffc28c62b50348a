package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/rules"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

// These tests run the real binary as a subprocess, as systemd would: they
// send it real signals, read its notify messages from a unix datagram
// socket, scrape its admin listener and drive it with the official Node
// socket.io-client.

// raceEnabled is set by race_test.go under -race, so the daemon under test
// is built with the race detector too.
var raceEnabled bool

// binary is the eventrouter binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eventrouter-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "eventrouter")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "..")...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build eventrouter:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitTimeout bounds every wait on a condition.
const waitTimeout = 15 * time.Second

// chatConfig is a config in the spirit of the default one; marker makes a
// variant that behaves differently (the broadcast data is prefixed with
// it), and extra is appended to the rules.
func chatConfig(marker, extra string) string {
	prefix := ""
	if marker != "" {
		prefix = fmt.Sprintf("%q + ", marker)
	}
	return `log:
  level: debug
  format: json
server:
  shutdown_timeout: 5s
rules:
  - name: connected
    on: connection
    do:
      - log("client connected:", socket.id)
  - name: chat
    on: send_message
    do:
      - broadcast("receive_message", ` + prefix + `data)
  - name: left
    on: disconnect
    do:
      - log("client disconnected:", socket.id)
  - name: post-echo
    on: POST /post
    do:
      - 'respond(200, {"received": body})'
` + extra
}

// proc is a running daemon.
type proc struct {
	cmd    *exec.Cmd
	path   string // its config file
	URL    string // public listener
	Admin  string // admin listener, http://host:port
	mu     sync.Mutex
	lines  []map[string]any // JSON log lines
	raw    bytes.Buffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startDaemon writes config to a file and runs the daemon on it on random
// loopback ports, with extraEnv added to a clean environment.
func startDaemon(t *testing.T, config string, extraEnv ...string) *proc {
	t.Helper()
	return startDaemonVia(t, nil, config, extraEnv...)
}

// startDaemonVia is startDaemon with the daemon's command line run through
// wrapper, a command that ends by exec'ing its arguments (nil: none).
func startDaemonVia(t *testing.T, wrapper []string, config string, extraEnv ...string) *proc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, config)
	return launch(t, wrapper, path, "127.0.0.1:0", extraEnv...)
}

// launch runs the daemon on the config file at path, listening on listen
// and on a random loopback admin port.
func launch(t *testing.T, wrapper []string, path, listen string, extraEnv ...string) *proc {
	t.Helper()
	return launchBinary(t, binary, wrapper, path, listen, "127.0.0.1:0", extraEnv...)
}

// launchBinary is launch with another binary and admin address.
func launchBinary(t *testing.T, bin string, wrapper []string, path, listen, admin string, extraEnv ...string) *proc {
	t.Helper()
	p := &proc{path: path, exited: make(chan struct{})}
	args := append(slices.Clone(wrapper), bin, "run", "--config", path, "--listen", listen, "--admin-listen", admin)
	p.cmd = exec.Command(args[0], args[1:]...)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, rules.EnvPrefix) || strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "WATCHDOG_") {
			continue
		}
		p.cmd.Env = append(p.cmd.Env, kv)
	}
	p.cmd.Env = append(p.cmd.Env, extraEnv...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.readLogs(stderr)
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(waitTimeout):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
		}
		if strings.Contains(p.logText(), "DATA RACE") {
			t.Errorf("the daemon reported a data race")
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.logText())
		}
	})
	p.URL = "http://" + p.waitLog(t, "listening", nil)["addr"].(string)
	p.Admin = "http://" + p.waitLog(t, "admin listening", nil)["addr"].(string)
	return p
}

func (p *proc) readLogs(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		p.mu.Lock()
		p.raw.Write(sc.Bytes())
		p.raw.WriteByte('\n')
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			p.lines = append(p.lines, m)
		}
		p.mu.Unlock()
	}
	p.err = p.cmd.Wait()
	close(p.exited)
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// logs returns the log lines with message msg that match.
func (p *proc) logs(msg string, match func(map[string]any) bool) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, l := range p.lines {
		if l["msg"] == msg && (match == nil || match(l)) {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits for a log line with message msg that matches.
func (p *proc) waitLog(t *testing.T, msg string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var line map[string]any
	eventually(t, "log line "+msg, func() bool {
		if l := p.logs(msg, match); len(l) > 0 {
			line = l[0]
			return true
		}
		return false
	})
	return line
}

// signal sends sig to the daemon.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits for the daemon to exit and returns its exit code.
func (p *proc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		t.Fatalf("daemon did not exit within %v", waitTimeout)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

func writeConfig(t *testing.T, path, config string) {
	t.Helper()
	// Write then rename, as editors do, so a reload never reads half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// hashOf is the hash the daemon publishes for config.
func hashOf(t *testing.T, config string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hash.yaml")
	writeConfig(t, path, config)
	rs, err := rules.Load(path, builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return router.ConfigHash(rs.Config)
}

// scrape reads the daemon's /metrics.
func (p *proc) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(p.Admin + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return mf
}

// metric returns the value of the series of name whose labels include
// labels ("k=v" pairs); -1 when there is none.
func metric(mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := mf[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// waitMetric polls /metrics until the series has value want.
func (p *proc) waitMetric(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	var got float64
	eventually(t, fmt.Sprintf("%s%v == %v", name, labels, want), func() bool {
		got = metric(p.scrape(t), name, labels...)
		return got == want
	})
}

// reload rewrites the config and sends SIGHUP, then waits until the
// daemon runs it (its hash is published).
func (p *proc) reload(t *testing.T, config string) {
	t.Helper()
	writeConfig(t, p.path, config)
	p.signal(t, syscall.SIGHUP)
	p.waitMetric(t, 1, "eventrouter_config_hash", "hash="+hashOf(t, config))
}

func connect(t *testing.T, a *nodeclient.Agent, id, url string, transports ...string) nodeclient.Report {
	t.Helper()
	a.Connect(id, url, map[string]any{"transports": transports})
	return a.WaitConnect(t, id)
}

// TestDaemonReloadUnderLiveConnections: clients connected before a SIGHUP
// keep their connection and socket id, and their next event already runs
// on the new rules; the log names what changed.
func TestDaemonReloadUnderLiveConnections(t *testing.T) {
	p := startDaemon(t, chatConfig("", ""))
	a := nodeclient.Start(t)
	ws := connect(t, a, "ws", p.URL, "websocket")
	poll := connect(t, a, "poll", p.URL, "polling")

	a.Emit("ws", "send_message", "before")
	for _, id := range []string{"ws", "poll"} {
		if got := a.WaitEvent(t, id, "receive_message").Args; len(got) != 1 || got[0] != "before" {
			t.Fatalf("%s before reload: got %v", id, got)
		}
	}

	next := chatConfig("v2:", `  - name: ping
    on: ping
    do:
      - reply("pong", socket.id)
`)
	next = strings.Replace(next, "  - name: left\n    on: disconnect\n    do:\n      - log(\"client disconnected:\", socket.id)\n", "", 1)
	p.reload(t, next)

	a.Emit("poll", "send_message", "after")
	for _, id := range []string{"ws", "poll"} {
		if got := a.WaitEvent(t, id, "receive_message").Args; len(got) != 1 || got[0] != "v2:after" {
			t.Fatalf("%s after reload: got %v, want [v2:after]", id, got)
		}
	}
	ack := a.WaitAck(t, "ws", a.EmitAck("ws", "ping"))
	if len(ack.Args) != 2 || ack.Args[0] != "pong" || ack.Args[1] != ws.SID {
		t.Fatalf("ping ack = %v, want [pong %s]: the socket id changed or the new rule is missing", ack.Args, ws.SID)
	}
	ack = a.WaitAck(t, "poll", a.EmitAck("poll", "ping"))
	if len(ack.Args) != 2 || ack.Args[1] != poll.SID {
		t.Fatalf("ping ack = %v, want [pong %s]", ack.Args, poll.SID)
	}

	line := p.waitLog(t, "config reloaded", nil)
	for key, want := range map[string]string{"added": "[ping]", "removed": "[left]", "changed": "[chat]"} {
		if got := fmt.Sprint(line[key]); got != want {
			t.Errorf("config reloaded: %s = %s, want %s", key, got, want)
		}
	}
	mf := p.scrape(t)
	if got := metric(mf, "eventrouter_disconnects_total"); got != 0 {
		t.Errorf("disconnects_total = %v after reload, want 0", got)
	}
	if got := metric(mf, "eventrouter_connections"); got != 2 {
		t.Errorf("connections = %v, want 2", got)
	}
	if got := metric(mf, "eventrouter_config_last_reload_successful"); got != 1 {
		t.Errorf("last_reload_successful = %v, want 1", got)
	}

	// The same config again is skipped.
	p.signal(t, syscall.SIGHUP)
	p.waitLog(t, "config unchanged; reload skipped", nil)
}

// TestDaemonInvalidReload: a config that does not compile is refused; the
// old rules keep serving, and the metrics and the log say so.
func TestDaemonInvalidReload(t *testing.T) {
	good := chatConfig("", "")
	p := startDaemon(t, good)
	a := nodeclient.Start(t)
	connect(t, a, "c", p.URL, "polling", "websocket")

	for i, bad := range []string{
		strings.Replace(good, `broadcast("receive_message", data)`, `broadcast("receive_message", nosuchname)`, 1),
		good + "  - name: [broken\n",
	} {
		writeConfig(t, p.path, bad)
		p.signal(t, syscall.SIGHUP)
		p.waitMetric(t, float64(i+1), "eventrouter_config_reload_failures_total")
		mf := p.scrape(t)
		if got := metric(mf, "eventrouter_config_last_reload_successful"); got != 0 {
			t.Fatalf("last_reload_successful = %v after a bad reload, want 0", got)
		}
		if got := metric(mf, "eventrouter_config_hash", "hash="+hashOf(t, good)); got != 1 {
			t.Fatalf("config_hash of the good config = %v, want 1 (still running)", got)
		}
		a.Emit("c", "send_message", fmt.Sprint("still ", i))
		if got := a.WaitEvent(t, "c", "receive_message").Args; len(got) != 1 || got[0] != fmt.Sprint("still ", i) {
			t.Fatalf("old rules after a bad reload: got %v", got)
		}
	}
	if n := len(p.logs("reload failed; keeping the running config", func(l map[string]any) bool {
		return strings.Contains(fmt.Sprint(l["error"]), "nosuchname")
	})); n != 1 {
		t.Errorf("want one failure log naming nosuchname, got %d\n%s", n, p.logText())
	}

	// Fixing the file recovers.
	p.reload(t, chatConfig("fixed:", ""))
	p.waitMetric(t, 1, "eventrouter_config_last_reload_successful")
	a.Emit("c", "send_message", "x")
	if got := a.WaitEvent(t, "c", "receive_message").Args; len(got) != 1 || got[0] != "fixed:x" {
		t.Fatalf("after fixing: got %v", got)
	}
}

// TestDaemonHUPStorm: 50 reloads, alternating between two configs, while a
// client chats: no disconnect, no lost or reordered message, and the last
// config written is the one that runs.
func TestDaemonHUPStorm(t *testing.T) {
	configs := []string{chatConfig("", ""), chatConfig("", "# variant b\nvars:\n  v: b\n")}
	p := startDaemon(t, configs[0])
	a := nodeclient.Start(t)
	connect(t, a, "talker", p.URL, "polling", "websocket")
	connect(t, a, "listener", p.URL, "websocket")

	const n = 50
	for i := 0; i < n; i++ {
		writeConfig(t, p.path, configs[(i+1)%2])
		p.signal(t, syscall.SIGHUP)
		a.Emit("talker", "send_message", float64(i))
	}
	for _, id := range []string{"talker", "listener"} {
		for i := 0; i < n; i++ {
			got := a.WaitEvent(t, id, "receive_message").Args
			if len(got) != 1 || got[0] != float64(i) {
				t.Fatalf("%s: message %d: got %v", id, i, got)
			}
		}
	}
	p.waitMetric(t, 1, "eventrouter_config_hash", "hash="+hashOf(t, configs[n%2]))
	mf := p.scrape(t)
	if got := metric(mf, "eventrouter_config_reload_failures_total"); got != 0 {
		t.Errorf("reload failures = %v, want 0", got)
	}
	if got := metric(mf, "eventrouter_disconnects_total"); got != 0 {
		t.Errorf("disconnects = %v, want 0", got)
	}
	if got := metric(mf, "eventrouter_config_reloads_total"); got < 1 || got > n {
		t.Errorf("reloads = %v, want between 1 and %d", got, n)
	}
	// Still alive and serving.
	a.Emit("listener", "send_message", "done")
	a.WaitEvent(t, "talker", "receive_message")
}

// TestDaemonSystemdNotify reads the notify messages the daemon sends to
// NOTIFY_SOCKET: READY=1, then RELOADING=1 with MONOTONIC_USEC and READY=1
// around a reload, WATCHDOG=1 pings, and STOPPING=1; SIGTERM exits 0.
func TestDaemonSystemdNotify(t *testing.T) {
	sockPath := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	watchdogs := 0
	next := func() string { // the next message other than a watchdog ping
		t.Helper()
		timeout := time.After(waitTimeout)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatal("notify socket closed")
				}
				if m == "WATCHDOG=1" {
					watchdogs++
					continue
				}
				return m
			case <-timeout:
				t.Fatal("no notify message")
			}
		}
	}

	// WATCHDOG_USEC=200ms: the daemon pings every 100ms.
	p := startDaemon(t, chatConfig("", ""), "NOTIFY_SOCKET="+sockPath, "WATCHDOG_USEC=200000")
	if m := next(); m != "READY=1" {
		t.Fatalf("first message %q, want READY=1", m)
	}

	before := monotonicUsec(t)
	writeConfig(t, p.path, chatConfig("v2:", ""))
	p.signal(t, syscall.SIGHUP)
	m := next()
	var usec int64
	if _, err := fmt.Sscanf(m, "RELOADING=1\nMONOTONIC_USEC=%d", &usec); err != nil || strings.Count(m, "\n") != 1 {
		t.Fatalf("reload message %q, want RELOADING=1\\nMONOTONIC_USEC=<n> in one datagram", m)
	}
	after := monotonicUsec(t)
	if lo, hi := before, after; usec < lo || usec > hi {
		t.Errorf("MONOTONIC_USEC=%d, want CLOCK_MONOTONIC between %d and %d", usec, lo, hi)
	}
	if m := next(); m != "READY=1" {
		t.Fatalf("after reload %q, want READY=1", m)
	}

	// An invalid config still ends with READY=1.
	writeConfig(t, p.path, "rules: [")
	p.signal(t, syscall.SIGHUP)
	if m := next(); !strings.HasPrefix(m, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("failed reload starts with %q", m)
	}
	if m := next(); m != "READY=1" {
		t.Fatalf("after failed reload %q, want READY=1", m)
	}

	eventually(t, "a WATCHDOG=1 ping", func() bool {
		select {
		case m := <-msgs:
			if m == "WATCHDOG=1" {
				watchdogs++
			} else {
				t.Fatalf("unexpected message %q", m)
			}
		default:
		}
		return watchdogs > 0
	})

	p.signal(t, syscall.SIGTERM)
	if m := next(); m != "STOPPING=1" {
		t.Fatalf("on SIGTERM %q, want STOPPING=1", m)
	}
	if code := p.waitExit(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// monotonicUsec reads CLOCK_MONOTONIC, the clock of MONOTONIC_USEC.
func monotonicUsec(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatalf("clock_gettime: %v", err)
	}
	return ts.Nano() / 1000
}

// TestDaemonGracefulStop: on SIGTERM connected clients are disconnected
// with "transport close" (so they reconnect), the disconnect rules run, and
// the daemon exits 0. SIGINT does the same.
func TestDaemonGracefulStop(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startDaemon(t, chatConfig("", ""))
			a := nodeclient.Start(t)
			ws := connect(t, a, "ws", p.URL, "websocket")
			connect(t, a, "poll", p.URL, "polling")
			if resp, err := http.Get(p.Admin + "/readyz"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("readyz before stop: %v %v", resp, err)
			}

			p.signal(t, sig)
			// Both reasons make socket.io-client reconnect. A polling client
			// sees "transport error" when its close packet was queued between
			// two polls and its next poll meets the closed listener.
			want := map[string][]string{"ws": {"transport close"}, "poll": {"transport close", "transport error"}}
			for _, id := range []string{"ws", "poll"} {
				if r := a.WaitDisconnect(t, id); !slices.Contains(want[id], r.Reason) {
					t.Errorf("%s: disconnect reason %q, want one of %q", id, r.Reason, want[id])
				}
			}
			if code := p.waitExit(t); code != 0 {
				t.Fatalf("exit code %d, want 0", code)
			}
			if len(p.logs("client disconnected: "+ws.SID, nil)) != 1 {
				t.Errorf("the disconnect rule did not run for %s\n%s", ws.SID, p.logText())
			}
			if len(p.logs("stopped", nil)) != 1 {
				t.Errorf("no stopped log line")
			}
		})
	}
}

// TestDaemonMetrics: the counters move as events flow.
func TestDaemonMetrics(t *testing.T) {
	p := startDaemon(t, chatConfig("", ""))
	for _, ep := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(p.Admin + ep)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", ep, resp, err)
		}
		resp.Body.Close()
	}
	if resp, err := http.Get(p.URL + "/metrics"); err == nil && resp.StatusCode == 200 {
		t.Fatalf("/metrics is served on the public port")
	}
	a := nodeclient.Start(t)
	connect(t, a, "a", p.URL, "websocket")
	connect(t, a, "b", p.URL, "polling", "websocket")
	p.waitMetric(t, 2, "eventrouter_connections")

	for i := 0; i < 3; i++ {
		a.Emit("a", "send_message", i)
	}
	a.Emit("a", "nobody_listens", 1)
	a.Emit("a", "random_name_1")
	for i := 0; i < 3; i++ {
		a.WaitEvent(t, "b", "receive_message")
	}
	resp, err := http.Post(p.URL+"/post", "application/json", strings.NewReader(`{"x":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /post: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(p.URL + "/nope")
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("GET /nope: %v %v", resp, err)
	}
	resp.Body.Close()

	p.waitMetric(t, 3, "eventrouter_actions_total", "kind=broadcast")
	p.waitMetric(t, 2, "eventrouter_events_total", "namespace=/", "event=_unrouted")
	mf := p.scrape(t)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"eventrouter_connects_total", nil, 2},
		{"eventrouter_events_total", []string{"namespace=/", "event=send_message"}, 3},
		{"eventrouter_events_total", []string{"event=nobody_listens"}, -1}, // bounded labels
		{"eventrouter_rule_matches_total", []string{"rule=chat"}, 3},
		{"eventrouter_rule_matches_total", []string{"rule=connected"}, 2},
		{"eventrouter_rule_matches_total", []string{"rule=post-echo"}, 1},
		{"eventrouter_broadcast_deliveries_total", nil, 6},
		{"eventrouter_actions_total", []string{"kind=respond"}, 1},
		{"eventrouter_http_requests_total", []string{"route=POST /post", "status=200"}, 1},
		{"eventrouter_http_requests_total", []string{"route=_unmatched", "status=404"}, 2}, // /nope and /metrics
		{"eventrouter_config_last_reload_successful", nil, 1},
		{"eventrouter_config_hash", []string{"hash=" + hashOf(t, chatConfig("", ""))}, 1},
	} {
		if got := metric(mf, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if metric(mf, "go_goroutines") <= 0 || metric(mf, "process_start_time_seconds") <= 0 {
		t.Errorf("Go runtime and process metrics missing")
	}
	if got := metric(mf, "eventrouter_config_last_reload_success_timestamp_seconds"); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last reload success timestamp = %v", got)
	}

	a.Disconnect("a")
	p.waitMetric(t, 1, "eventrouter_connections")
	p.waitMetric(t, 1, "eventrouter_disconnects_total")

	// POST /-/reload feeds the same reload loop.
	writeConfig(t, p.path, chatConfig("http:", ""))
	resp, err = http.Post(p.Admin+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /-/reload: %v %v", resp, err)
	}
	resp.Body.Close()
	p.waitMetric(t, 1, "eventrouter_config_hash", "hash="+hashOf(t, chatConfig("http:", "")))
	writeConfig(t, p.path, "rules: [")
	resp, err = http.Post(p.Admin+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("POST /-/reload with a bad config: %v %v, want 500", resp, err)
	}
	resp.Body.Close()
	p.waitMetric(t, 0, "eventrouter_config_last_reload_successful")
}
