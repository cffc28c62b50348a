// Package redistest runs real redis-server processes for tests: on a free
// loopback port, without persistence, stopped when the test ends. A test
// can kill one and start it again on the same port, as a Redis restart.
//
// Shared gives a test a Redis to use without owning it: the one .ci/run
// started (ERTEST_REDIS_URL) when set, else a private server.
// Tests isolate themselves on it by key prefix (Prefix).
//
// Without redis-server on PATH the tests that need it are skipped, unless
// ERTEST_REQUIRE_REDIS is set (as .ci/run sets it): they then fail.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	bin  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// binary finds redis-server, or skips (or fails) t.
func binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server is not installed (apt-get install -y redis-server)"
		if os.Getenv("ERTEST_REQUIRE_REDIS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// Start runs a private redis-server for t.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t)}
	for attempt := 0; ; attempt++ {
		s.port = freePort(t)
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 4 {
			t.Fatalf("redistest: start redis-server: %v", err)
		}
	}
	t.Cleanup(s.Kill)
	return s
}

// Shared returns the URL of a Redis for t to use: .ci/run's when
// ERTEST_REDIS_URL is set, else a private server's.
func Shared(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("ERTEST_REDIS_URL"); u != "" {
		return u
	}
	return Start(t).URL()
}

// Prefix is a stream and channel prefix of t's own, so that tests sharing
// one Redis never see each other's messages.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("t%d-%s", time.Now().UnixNano(), strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the redis:// URL of database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// start runs redis-server on s.port and waits until it accepts
// connections.
func (s *Server) start() error {
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	done, ready := make(chan struct{}), make(chan struct{})
	var log strings.Builder // written by the reader until done
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				signalled = true
			}
			if log.Len() < 64<<10 {
				log.WriteString(sc.Text() + "\n")
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-ready:
	case <-done:
		return fmt.Errorf("redis-server exited: %s", log.String())
	case <-t.C:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on %s was not ready in 10s", s.Addr())
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Kill stops the server at once (SIGKILL), as a crash; it is a no-op when
// it is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the killed server again, empty, on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr(), err)
	}
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
