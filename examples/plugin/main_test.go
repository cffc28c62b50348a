package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// TestCustomBinary builds this custom main, as a third party would build
// theirs, and checks the stamp plugin works in every subcommand: check
// and test accept the config that calls it (which the stock binary
// refuses), and the daemon runs its actions for a real HTTP request and
// for the official Node client.
func TestCustomBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	binary := filepath.Join(t.TempDir(), "eventrouter-stamp")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("eventrouter-stamp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	if out := run("check", "--config", "config.yaml"); !strings.Contains(out, "config.yaml: ok, 2 rule(s), 1 route(s)") {
		t.Errorf("check:\n%s", out)
	}
	if out := run("check", "--test", "--config", "config.yaml"); !strings.Contains(out, "3 passed, 0 failed") {
		t.Errorf("check --test:\n%s", out)
	}
	if out := run("test", "."); !strings.HasSuffix(out, "3 passed, 0 failed\n") {
		t.Errorf("test:\n%s", out)
	}

	t.Run("run", func(t *testing.T) {
		url := startDaemon(ctx, t, binary)
		before := time.Now()
		resp, err := http.Post(url+"/stamp", "application/json", strings.NewReader(`{"id": 7}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		after := time.Now()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatalf("decode the response: %v", err)
		}
		if resp.StatusCode != http.StatusOK || got["id"] != 7.0 || len(got) != 2 {
			t.Fatalf("POST /stamp: %d %v, want 200 with id 7 and server_time", resp.StatusCode, got)
		}
		stamped, err := time.Parse(time.RFC3339Nano, got["server_time"].(string))
		if err != nil {
			t.Fatalf("server_time: %v", err)
		}
		if stamped.Before(before.Add(-time.Second)) || stamped.After(after.Add(time.Second)) {
			t.Errorf("server_time %v is not between the request's %v and %v", stamped, before, after)
		}

		// stamp_emit, to the official Node client.
		a := nodeclient.Start(t)
		a.Connect("c", url, map[string]any{"transports": []string{"websocket"}, "reconnection": false})
		a.WaitConnect(t, "c")
		a.Emit("c", "clock", map[string]any{"sent": 1700000000000})
		r := a.WaitEvent(t, "c", "clock")
		if len(r.Args) != 1 {
			t.Fatalf("clock: %v, want one argument", r.Args)
		}
		clock, _ := r.Args[0].(map[string]any)
		if clock["sent"] != 1700000000000.0 || len(clock) != 2 {
			t.Fatalf("clock: %v, want {sent, server_time}", r.Args)
		}
		if ts, _ := clock["server_time"].(string); !isTime(ts) {
			t.Errorf("clock server_time %q is not an RFC 3339 time", ts)
		}
	})
}

// startDaemon runs binary on config.yaml on a random loopback port, stops
// it with SIGTERM at the end of the test (checking it exits 0), and
// returns its base URL.
func startDaemon(ctx context.Context, t *testing.T, binary string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, "run", "--config", "config.yaml", "--listen", "127.0.0.1:0", "--admin-listen", "")
	cmd.Env = append(os.Environ(), "EVENTROUTER_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		if err := cmd.Wait(); err != nil {
			t.Errorf("the daemon did not stop cleanly: %v\n%s", err, &logs)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-done:
		t.Fatalf("the daemon exited before listening:\n%s", &logs)
	case <-ctx.Done():
		t.Fatalf("the daemon did not listen: %v", ctx.Err())
	}
	return ""
}

// isTime reports whether s is an RFC 3339 time.
func isTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
