// Package browser drives a real Chromium from Go tests, through
// testdata/browser/agent.mjs and playwright-core, as internal/nodeclient
// drives socket.io-client: commands go to the agent's stdin as JSON lines,
// and each gets one answer on its stdout.
//
// The browser is Debian's chromium (/usr/bin/chromium, or $CHROMIUM);
// Playwright's own browser downloads are never used. A test that needs it
// calls Start, which skips the test with a message when it is missing,
// unless ERTEST_REQUIRE_BROWSER=1, which fails it instead (CI sets it).
//
//	b := browser.Start(t)
//	b.Open(t, "ann", url)
//	b.Wait(t, "ann", "#state[data-state=connected]", "")
//	b.Fill(t, "ann", "#text", "hi")
//
// Waiting never sleeps: Wait blocks in the browser until the selector (and
// text) matches, within a deadline.
package browser

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// DefaultChromium is where Debian's chromium package installs the browser.
const DefaultChromium = "/usr/bin/chromium"

// WaitTimeout bounds a Wait in the browser.
const WaitTimeout = 15 * time.Second

// answerMargin is how much longer than a command's own timeout the Go side
// waits for its answer.
const answerMargin = 15 * time.Second

// agentScript is the agent's path relative to the repository root.
const agentScript = "testdata/browser/agent.mjs"

// Report is a line the agent sent: a command's answer or an event.
type Report struct {
	Type    string          `json:"type"` // result, error, ready, dialog, pageerror, console
	Seq     int             `json:"seq"`
	Value   json.RawMessage `json:"value"`
	Message string          `json:"message"`
	ID      string          `json:"id"`
	Level   string          `json:"level"`
	Text    string          `json:"text"`
}

// Agent is a running agent.mjs with its browser. Its methods may be called
// from one goroutine at a time.
type Agent struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	seq   int

	answers chan Report   // command answers, in order
	ready   chan struct{} // closed on the ready report
	done    chan struct{} // closed when stdout ends

	mu     sync.Mutex
	events []Report // dialogs, page errors and console messages
	stderr strings.Builder
}

// Chromium returns the browser's path, or an error saying why there is none.
func Chromium() (string, error) {
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = DefaultChromium
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no chromium at %s (apt-get install chromium, or set CHROMIUM): %w", path, err)
	}
	return path, nil
}

// Start starts the agent and its browser, and stops both when the test
// ends. Without a browser it skips the test, or fails it when
// ERTEST_REQUIRE_BROWSER=1.
func Start(t testing.TB) *Agent {
	t.Helper()
	chromium, err := Chromium()
	if err != nil {
		if os.Getenv("ERTEST_REQUIRE_BROWSER") == "1" {
			t.Fatalf("browser test: %v (ERTEST_REQUIRE_BROWSER=1)", err)
		}
		t.Skipf("browser test skipped: %v; ERTEST_REQUIRE_BROWSER=1 fails instead", err)
	}
	root := nodeclient.EnsureInstalled(t) // playwright-core comes with the same npm ci
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("browser: node is not on PATH: %v", err)
	}
	a := &Agent{answers: make(chan Report, 1), ready: make(chan struct{}), done: make(chan struct{})}
	a.cmd = exec.Command(node, filepath.Join(root, filepath.FromSlash(agentScript)))
	a.cmd.Dir = root
	a.cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	a.cmd.Stderr = &lockedWriter{a}
	if a.stdin, err = a.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("browser: start agent: %v", err)
	}
	go a.read(stdout)
	t.Cleanup(a.stop)
	select {
	case <-a.ready:
	case <-a.done:
		t.Fatalf("browser: the agent exited before it was ready\n%s", a.stderrText())
	case <-time.After(30 * time.Second):
		t.Fatalf("browser: the agent was not ready within 30s\n%s", a.stderrText())
	}
	return a
}

type lockedWriter struct{ a *Agent }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	return w.a.stderr.Write(p)
}

func (a *Agent) stderrText() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stderr.String()
}

func (a *Agent) read(r io.Reader) {
	defer close(a.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rep Report
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			a.mu.Lock()
			a.events = append(a.events, Report{Type: "raw", Text: sc.Text()})
			a.mu.Unlock()
			continue
		}
		switch {
		case rep.Type == "ready":
			close(a.ready)
		case rep.Type == "result" || (rep.Type == "error" && rep.Seq > 0):
			a.answers <- rep
		default:
			a.mu.Lock()
			a.events = append(a.events, rep)
			a.mu.Unlock()
		}
	}
}

// stop asks the agent to close the browser and exit, and kills it if it
// does not.
func (a *Agent) stop() {
	_, _ = io.WriteString(a.stdin, `{"op":"exit"}`+"\n")
	_ = a.stdin.Close()
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
	_ = a.cmd.Wait()
}

// Events returns the dialogs, page errors and console messages reported so
// far.
func (a *Agent) Events() []Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Report(nil), a.events...)
}

// Try sends a command and returns its answer's value, or the agent's error.
func (a *Agent) Try(cmd map[string]any) (json.RawMessage, error) {
	a.seq++
	cmd["seq"] = a.seq
	line, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	if _, err := a.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("write to the agent: %w", err)
	}
	wait := answerMargin
	if ms, ok := cmd["timeout_ms"].(int); ok {
		wait += time.Duration(ms) * time.Millisecond
	} else {
		wait += WaitTimeout
	}
	select {
	case rep := <-a.answers:
		if rep.Seq != a.seq {
			return nil, fmt.Errorf("answer %d to command %d", rep.Seq, a.seq)
		}
		if rep.Type == "error" {
			return nil, errors.New(rep.Message)
		}
		return rep.Value, nil
	case <-a.done:
		return nil, fmt.Errorf("the agent exited\n%s", a.stderrText())
	case <-time.After(wait):
		return nil, fmt.Errorf("no answer within %v", wait)
	}
}

// Do is Try that fails the test on an error.
func (a *Agent) Do(t testing.TB, cmd map[string]any) json.RawMessage {
	t.Helper()
	v, err := a.Try(cmd)
	if err != nil {
		t.Fatalf("browser %s %v: %v", cmd["op"], describe(cmd), err)
	}
	return v
}

func describe(cmd map[string]any) string {
	var parts []string
	for _, k := range []string{"id", "url", "selector", "text", "key", "expr"} {
		if v, ok := cmd[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
	}
	return strings.Join(parts, " ")
}

// Open opens url in a new tab called id.
func (a *Agent) Open(t testing.TB, id, url string) {
	t.Helper()
	a.Do(t, map[string]any{"op": "open", "id": id, "url": url})
}

// Fill types value into the element selector matches, replacing its text.
func (a *Agent) Fill(t testing.TB, id, selector, value string) {
	t.Helper()
	a.Do(t, map[string]any{"op": "fill", "id": id, "selector": selector, "value": value})
}

// Press presses key (e.g. "Enter") in the element selector matches.
func (a *Agent) Press(t testing.TB, id, selector, key string) {
	t.Helper()
	a.Do(t, map[string]any{"op": "press", "id": id, "selector": selector, "key": key})
}

// Click clicks the element selector matches.
func (a *Agent) Click(t testing.TB, id, selector string) {
	t.Helper()
	a.Do(t, map[string]any{"op": "click", "id": id, "selector": selector})
}

// Wait waits until an element matches selector and, when text is not
// empty, holds text.
func (a *Agent) Wait(t testing.TB, id, selector, text string) {
	t.Helper()
	a.Do(t, map[string]any{"op": "wait", "id": id, "selector": selector, "text": text, "timeout_ms": int(WaitTimeout / time.Millisecond)})
}

// Text returns the text content of the first element selector matches.
func (a *Agent) Text(t testing.TB, id, selector string) string {
	t.Helper()
	var s string
	a.decode(t, map[string]any{"op": "text", "id": id, "selector": selector}, &s)
	return s
}

// Count returns how many elements selector matches.
func (a *Agent) Count(t testing.TB, id, selector string) int {
	t.Helper()
	var n int
	a.decode(t, map[string]any{"op": "count", "id": id, "selector": selector}, &n)
	return n
}

// Eval evaluates a JavaScript expression in the tab and decodes its value
// into out.
func (a *Agent) Eval(t testing.TB, id, expr string, out any) {
	t.Helper()
	a.decode(t, map[string]any{"op": "eval", "id": id, "expr": expr}, out)
}

// decode runs cmd and decodes its value into out.
func (a *Agent) decode(t testing.TB, cmd map[string]any, out any) {
	t.Helper()
	if err := json.Unmarshal(a.Do(t, cmd), out); err != nil {
		t.Fatalf("browser %s %v: %v", cmd["op"], describe(cmd), err)
	}
}

// Screenshot saves the tab's viewport as a PNG file.
func (a *Agent) Screenshot(t testing.TB, id, path string) {
	t.Helper()
	a.Do(t, map[string]any{"op": "screenshot", "id": id, "path": path})
}

// Shot is a screenshot and its caption, for Compose.
type Shot struct {
	Path  string `json:"path"`
	Label string `json:"label"`
}

// Compose lays screenshots side by side, each under its label, into one
// PNG file at out.
func (a *Agent) Compose(t testing.TB, out string, shots ...Shot) {
	t.Helper()
	a.Do(t, map[string]any{"op": "compose", "out": out, "shots": shots})
}

// Offline emulates the network going away (true) or coming back, for
// every tab.
func (a *Agent) Offline(t testing.TB, offline bool) {
	t.Helper()
	a.Do(t, map[string]any{"op": "offline", "value": offline})
}

// Artifacts returns the directory for a test's screenshots: $ERTEST_ARTIFACTS
// (a subdirectory named after the test), else one under the test's temp
// dir. It logs the path.
func Artifacts(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "artifacts")
	if base := os.Getenv("ERTEST_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}
