package eventrouter_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// chromiumPath is where the tests look for Chromium.
const chromiumPath = "/usr/bin/chromium"

// TestAdminUIBrowser logs in to the real Admin UI (the npm package's
// ui/dist, served from another origin as an operator would serve it) in
// headless Chromium, and checks that its sockets and rooms pages list the
// connected clients and their rooms. Screenshots go to $ERTEST_ARTIFACTS
// (or a temporary directory), whose path the test logs. Without Chromium
// the test is skipped, unless ERTEST_REQUIRE_BROWSER is set.
func TestAdminUIBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("ERTEST_REQUIRE_BROWSER") != "" {
			t.Fatalf("chromium: %v (ERTEST_REQUIRE_BROWSER is set)", err)
		}
		t.Skipf("no chromium at %s; set ERTEST_REQUIRE_BROWSER to make this a failure", chromiumPath)
	}
	root := nodeclient.EnsureInstalled(t)
	dist := filepath.Join(root, "node_modules", "@socket.io", "admin-ui", "ui", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("the Admin UI is not installed (run npm ci): %v", err)
	}

	// The UI on an origin of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ui := &http.Server{Handler: http.FileServer(http.Dir(dist)), ReadHeaderTimeout: 5 * time.Second}
	go ui.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { ui.Close() })
	uiURL := "http://" + ln.Addr().String() + "/"

	// The UI connects with withCredentials: its polling requests need
	// Access-Control-Allow-Credentials.
	settings := "server:\n  cors: {origins: [\"" + strings.TrimSuffix(uiURL, "/") + "\"], credentials: true}\n" +
		"admin_ui:\n  enabled: true\n  auth: {username: admin, password_hash: \"" + adminHash(t) + "\"}\n"
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(settings+`
rules:
  - name: hello
    on: connection
    do: [join("lobby")]
  - name: join
    on: join
    do: [join(data)]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := boot(t, path)

	a := nodeclient.Start(t)
	var sids []string
	for _, id := range []string{"c1", "c2"} {
		a.Connect(id, d.URL+"/", map[string]any{"transports": []string{"websocket"}})
		sids = append(sids, a.WaitConnect(t, id).SID)
	}
	a.Emit("c2", "join", "game-42")
	a.Connect("watch", d.URL+"/admin", adminLogin("admin", adminPassword))
	waitAdmin(t, a, "watch", "all_sockets", func(args []any) bool {
		s := socketByID(args[0].([]any), sids[1])
		return s != nil && strings.Contains(strings.Join(roomsOf(s), ","), "game-42")
	})

	artifacts := os.Getenv("ERTEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	} else {
		artifacts = filepath.Join(artifacts, "adminui-browser")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", artifacts)

	input, _ := json.Marshal(map[string]any{
		"ui": uiURL, "server": d.URL, "username": "admin", "password": adminPassword,
		"sockets": sids, "rooms": []string{"lobby", "game-42"},
		"artifacts": artifacts, "chromium": chromiumPath,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "testdata", "node", "adminui_browser.mjs"), string(input))
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(out, &res)
	if err != nil || !res.OK {
		t.Fatalf("the Admin UI in Chromium: %v %s\nbrowser log:\n%s\nscreenshots in %s", err, res.Error, stderr.String(), artifacts)
	}
}
