package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fdLimit is the descriptor limit the daemon runs under in
// TestDaemonOutOfFileDescriptors; slowClients is well past it.
const (
	fdLimit     = 64
	slowClients = 3 * fdLimit
)

// TestDaemonOutOfFileDescriptors runs the daemon under `ulimit -n 64` (soft
// and hard, so Go cannot raise it) and has slow clients, which connect and
// send nothing, take every descriptor. The daemon must say so in an error
// line that tells the operator what to raise, keep answering /healthz and
// /readyz on the admin listener from its reserve, and serve again once the
// clients leave.
func TestDaemonOutOfFileDescriptors(t *testing.T) {
	// server.read_header_timeout stays at its 10s default: the slow
	// clients hold their descriptors for the whole test.
	p := startDaemonVia(t, []string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, fdLimit), "sh"}, chatConfig("", ""))
	addr := strings.TrimPrefix(p.URL, "http://")
	var slow []net.Conn
	t.Cleanup(func() {
		for _, c := range slow {
			c.Close()
		}
	})
	for range slowClients {
		c, err := net.DialTimeout("tcp", addr, waitTimeout)
		if err != nil {
			t.Fatalf("dial %d: %v", len(slow), err)
		}
		slow = append(slow, c)
	}
	line := p.waitLog(t, "out of file descriptors: new connections wait until some close; raise the limit (LimitNOFILE= in the systemd unit, ulimit -n in a shell)", nil)
	if line["level"] != "error" || line["listener"] != "public" || line["limit"] != "open_files" {
		t.Errorf("log line %v, want level error, listener public, limit open_files", line)
	}

	admin := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, path := range []string{"/healthz", "/readyz", "/healthz", "/metrics"} {
		resp, err := admin.Get(p.Admin + path)
		if err != nil {
			t.Fatalf("admin %s while out of descriptors: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("admin %s: %d %s", path, resp.StatusCode, body)
		}
	}

	// The clients leave: the public listener serves again.
	for _, c := range slow {
		c.Close()
	}
	slow = nil
	resp, err := (&http.Client{Timeout: waitTimeout}).Post(p.URL+"/post", "application/json", strings.NewReader(`{"after":"exhaustion"}`))
	if err != nil {
		t.Fatalf("POST /post after the slow clients left: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "exhaustion") {
		t.Errorf("POST /post after the slow clients left: %d %s", resp.StatusCode, body)
	}
	p.waitLog(t, "file descriptors available again: accepting connections", nil)
	if strings.Contains(p.logText(), "Accept error") {
		t.Errorf("net/http logged the accept error too:\n%s", p.logText())
	}
}
