// Package nodeclient drives the official Node.js socket.io-client v4 from Go
// tests.
//
// It runs testdata/node/agent.mjs (a long-running Node process) and talks to
// it with JSON lines: commands go to the agent's stdin, reports come back on
// its stdout. One Agent can hold many client sockets, each keyed by a string
// id chosen by the test.
//
// Typical use:
//
//	a := nodeclient.Start(t)
//	a.Connect("c1", srv.URL+"/chat", map[string]any{"transports": []string{"websocket"}})
//	a.WaitConnect(t, "c1")
//	seq := a.EmitAck("c1", "join", "room1")
//	ack := a.WaitAck(t, "c1", seq)
//
// Waiting never sleeps: every Wait* helper blocks on incoming reports until a
// match or a deadline. Reports that do not match a waiter are kept in a
// per-agent buffer so later waiters (in any order, from any goroutine) still
// see them.
//
// Binary values travel as {"$bin": "<base64>"}: []byte arguments passed to
// Emit/EmitAck/Ack are encoded automatically (Bin does it explicitly), and
// binary values in reports are decoded back to []byte.
//
// Requirements: `node` and `npm` on PATH. The socket.io-client package is
// installed into <repo>/node_modules by EnsureInstalled (`npm ci`) when it is
// missing.
package nodeclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout is how long the Wait* convenience helpers wait for a report.
const DefaultTimeout = 10 * time.Second

// DefaultAckTimeout is the client-side ack timeout used by EmitAck.
const DefaultAckTimeout = 5 * time.Second

// startTimeout bounds how long Start waits for the agent's "ready" report.
const startTimeout = 20 * time.Second

// installTimeout bounds one `npm ci` run.
const installTimeout = 5 * time.Minute

// recentLimit is how many recent reports are kept for failure messages.
const recentLimit = 50

// agentScript is the agent's path relative to the repository root.
const agentScript = "testdata/node/agent.mjs"

// Report types sent by the agent (the Type field of a Report).
const (
	TypeReady        = "ready"         // agent started
	TypeConnect      = "connect"       // socket connected: SID, Transport
	TypeConnectError = "connect_error" // connection refused or failed: Message, Data
	TypeDisconnect   = "disconnect"    // socket disconnected: Reason
	TypeEvent        = "event"         // incoming event: Event, Args (AckID > 0 if the server wants an ack)
	TypeUpgrade      = "upgrade"       // engine upgraded: Transport
	TypeAck          = "ack"           // ack for EmitAck: Seq, Args
	TypeAckTimeout   = "ack_timeout"   // ack for EmitAck timed out: Seq, Message
	TypePong         = "pong"          // answer to a ping (see Sync): Seq
	TypeError        = "error"         // agent-side error: Message (ID, Seq when known)
	TypeRaw          = "raw"           // a stdout line that was not JSON: Message holds it
)

// Report is one line reported by the agent. Fields not relevant to a Type are
// zero. JSON numbers in Args and Data decode as float64, objects as
// map[string]any, and binary values ({"$bin": ...}) as []byte.
type Report struct {
	// Type is one of the Type* constants.
	Type string `json:"type"`
	// ID is the socket id chosen by the test (empty for agent-wide reports).
	ID string `json:"id"`
	// Event is the event name of an "event" report.
	Event string `json:"event"`
	// SID is the Socket.IO socket id (socket.id) of a "connect" report.
	SID string `json:"sid"`
	// Recovered is socket.recovered on a "connect" report: the client got
	// its session back (connection state recovery).
	Recovered bool `json:"recovered"`
	// Transport is the engine transport ("polling" or "websocket") of a
	// "connect" or "upgrade" report.
	Transport string `json:"transport"`
	// Message is the error text of "connect_error", "ack_timeout" and "error".
	Message string `json:"message"`
	// Reason is the disconnect reason, e.g. "io server disconnect".
	Reason string `json:"reason"`
	// Seq is the sequence number of an "ack", "ack_timeout", "pong" or "error".
	Seq int `json:"seq"`
	// AckID, when > 0 on an "event" report, means the server asked for an
	// acknowledgement; answer it with Agent.Ack.
	AckID int `json:"ack_id"`
	// Args are the event or ack arguments.
	Args []any `json:"args"`
	// RawArgs is JSON.stringify of the event or ack arguments as the client
	// parsed them: it shows the key order the server sent.
	RawArgs string `json:"raw_args"`
	// Data is the connect_error data (err.data) or disconnect details.
	Data any `json:"data"`
	// Raw is the line as received from the agent.
	Raw string `json:"-"`
}

// String returns the report's raw JSON line (or a Go rendering of it).
func (r Report) String() string {
	if r.Raw != "" {
		return r.Raw
	}
	return fmt.Sprintf("%+v", struct {
		Type, ID, Event string
		Seq             int
	}{r.Type, r.ID, r.Event, r.Seq})
}

// Bin encodes b as the agent's binary form {"$bin": "<base64>"} so that the
// agent emits it as a Buffer. []byte values passed to Emit, EmitAck and Ack
// are encoded this way automatically; Bin is for building payloads by hand.
func Bin(b []byte) any {
	return map[string]any{"$bin": base64.StdEncoding.EncodeToString(b)}
}

// Agent is a running agent.mjs process. Its methods are safe for concurrent
// use. Agents are created by Start and stopped by the test's cleanup.
type Agent struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser

	wmu     sync.Mutex // serialises writes to stdin and guards seq
	seq     int
	closed  bool
	readEOF chan struct{} // closed when the agent's stdout hits EOF

	mu      sync.Mutex // guards everything below
	pending []Report   // reports not yet consumed by a waiter
	recent  []Report   // last recentLimit reports, for diagnostics
	notify  chan struct{}
	stderr  bytes.Buffer
}

// RepoRoot returns the repository root: the nearest directory, walking up
// from the working directory, that contains go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("nodeclient: getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("nodeclient: no go.mod found above the working directory")
		}
		dir = parent
	}
}

// EnsureInstalled makes sure socket.io-client is installed in the repository
// root's node_modules, running `npm ci` there if it is missing. Concurrent
// callers, in this process or in other test processes, are serialised by an
// exclusive lock on a file in the temp dir so only one of them installs. It
// returns the repository root.
func EnsureInstalled(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	if installed(root) {
		return root
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("nodeclient: socket.io-client is not installed and npm is not on PATH: %v", err)
	}

	sum := sha256.Sum256([]byte(root))
	lockPath := filepath.Join(os.TempDir(), "eventrouter-npm-"+hex.EncodeToString(sum[:8])+".lock")
	lf, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("nodeclient: open install lock: %v", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("nodeclient: lock %s: %v", lockPath, err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway

	if installed(root) { // someone else installed while we waited
		return root
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nodeclient: npm ci in %s failed: %v\n%s", root, err, out)
	}
	if !installed(root) {
		t.Fatalf("nodeclient: npm ci succeeded but node_modules/socket.io-client is still missing\n%s", out)
	}
	return root
}

func installed(root string) bool {
	_, err := os.Stat(filepath.Join(root, "node_modules", "socket.io-client", "package.json"))
	return err == nil
}

// Start installs the Node dependencies if needed (EnsureInstalled), starts
// the agent and waits for its "ready" report. A t.Cleanup stops the agent:
// it asks it to exit, then kills it if it does not.
func Start(t testing.TB) *Agent {
	t.Helper()
	root := EnsureInstalled(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("nodeclient: node is not on PATH: %v", err)
	}

	a := &Agent{t: t, readEOF: make(chan struct{}), notify: make(chan struct{})}
	a.cmd = exec.Command(node, filepath.Join(root, filepath.FromSlash(agentScript)))
	a.cmd.Dir = root
	a.cmd.Stderr = stderrWriter{a}
	stdin, err := a.cmd.StdinPipe()
	if err != nil {
		t.Fatalf("nodeclient: stdin pipe: %v", err)
	}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("nodeclient: stdout pipe: %v", err)
	}
	a.stdin = stdin
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("nodeclient: start node agent: %v", err)
	}
	go a.readLoop(stdout)
	t.Cleanup(a.stop)

	a.Next(t, func(r Report) bool { return r.Type == TypeReady }, startTimeout)
	return a
}

// stop asks the agent to exit, closes its stdin and reaps it, killing it if
// it does not exit in time.
func (a *Agent) stop() {
	a.wmu.Lock()
	if !a.closed {
		_, _ = io.WriteString(a.stdin, `{"op":"exit"}`+"\n")
		_ = a.stdin.Close()
		a.closed = true
	}
	a.wmu.Unlock()

	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-a.readEOF:
	case <-timer.C:
		_ = a.cmd.Process.Kill()
		<-a.readEOF
	}
	_ = a.cmd.Wait()
}

// stderrWriter collects the agent's stderr (capped) for failure messages.
type stderrWriter struct{ a *Agent }

func (w stderrWriter) Write(p []byte) (int, error) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	const max = 64 << 10
	if w.a.stderr.Len() < max {
		w.a.stderr.Write(p[:min(len(p), max-w.a.stderr.Len())])
	}
	return len(p), nil
}

func (a *Agent) readLoop(stdout io.Reader) {
	defer close(a.readEOF)
	br := bufio.NewReader(stdout)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			a.push(parseReport(bytes.TrimSpace(line)))
		}
		if err != nil {
			a.mu.Lock()
			close(a.notify) // wake waiters so they notice the exit
			a.notify = nil
			a.mu.Unlock()
			return
		}
	}
}

func parseReport(line []byte) Report {
	var r Report
	if err := json.Unmarshal(line, &r); err != nil {
		return Report{Type: TypeRaw, Message: string(line), Raw: string(line)}
	}
	r.Raw = string(line)
	for i, v := range r.Args {
		r.Args[i] = decodeBin(v)
	}
	r.Data = decodeBin(r.Data)
	return r
}

func (a *Agent) push(r Report) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, r)
	a.recent = append(a.recent, r)
	if len(a.recent) > recentLimit {
		a.recent = append(a.recent[:0:0], a.recent[len(a.recent)-recentLimit:]...)
	}
	close(a.notify)
	a.notify = make(chan struct{})
}

// decodeBin replaces {"$bin": base64} maps with []byte, recursively.
func decodeBin(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if s, ok := x["$bin"].(string); ok {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					return b
				}
			}
		}
		for k, e := range x {
			x[k] = decodeBin(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = decodeBin(e)
		}
		return x
	default:
		return v
	}
}

// encodeBin replaces []byte values (also inside []any and map[string]any)
// with the {"$bin": base64} form; other values are returned unchanged.
func encodeBin(v any) any {
	switch x := v.(type) {
	case []byte:
		return Bin(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeBin(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = encodeBin(e)
		}
		return out
	default:
		return v
	}
}

func encodeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = encodeBin(a)
	}
	return out
}

// Send writes one raw command to the agent (see agent.mjs for the protocol).
// A write failure is reported with t.Errorf on the test that started the
// agent. The typed methods below are preferred.
func (a *Agent) Send(cmd map[string]any) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.sendLocked(cmd)
}

func (a *Agent) sendLocked(cmd map[string]any) {
	b, err := json.Marshal(cmd)
	if err != nil {
		a.t.Errorf("nodeclient: encode command %v: %v", cmd, err)
		return
	}
	if a.closed {
		a.t.Errorf("nodeclient: command after agent stopped: %s", b)
		return
	}
	if _, err := a.stdin.Write(append(b, '\n')); err != nil {
		a.t.Errorf("nodeclient: send %s: %v%s", b, err, a.stderrTail())
	}
}

// nextSeq returns a fresh sequence number; callers hold wmu.
func (a *Agent) nextSeq() int {
	a.seq++
	return a.seq
}

// Connect opens client socket id with io(url, {forceNew: true,
// reconnection: false, ...opts}). opts may hold any socket.io-client option,
// e.g. "transports" ([]string{"websocket"}), "upgrade", "auth", "query",
// "extraHeaders", "path"; nil means none. Re-using an id replaces the old
// socket without reporting its disconnect. Wait with WaitConnect or
// WaitConnectError.
func (a *Agent) Connect(id, url string, opts map[string]any) {
	cmd := map[string]any{"op": "connect", "id": id, "url": url}
	if opts != nil {
		cmd["opts"] = encodeBin(opts)
	}
	a.Send(cmd)
}

// ConnectThenClose is Connect for a client that calls socket.disconnect()
// inside its connect handler. It reports "connect", then "disconnect"
// (reason "io client disconnect"); wait with WaitConnect and WaitDisconnect.
func (a *Agent) ConnectThenClose(id, url string, opts map[string]any) {
	cmd := map[string]any{"op": "connect", "id": id, "url": url, "close_on_connect": true}
	if opts != nil {
		cmd["opts"] = encodeBin(opts)
	}
	a.Send(cmd)
}

// ConnectThenEmit is Connect for a client that emits event with args,
// asking for an ack, inside its connect handler: the packet follows the
// CONNECT as closely as a client can send it. It returns the sequence
// number to pass to WaitAck.
func (a *Agent) ConnectThenEmit(id, url string, opts map[string]any, event string, args ...any) (seq int) {
	seq = a.nextSeq()
	cmd := map[string]any{"op": "connect", "id": id, "url": url,
		"emit_on_connect": map[string]any{"event": event, "args": encodeArgs(args), "seq": seq}}
	if opts != nil {
		cmd["opts"] = encodeBin(opts)
	}
	a.Send(cmd)
	return seq
}

// Emit sends event with args on socket id, without an ack. []byte args (also
// nested in []any / map[string]any) are sent as binary. A json.RawMessage
// arg is sent as that JSON, keys in its order.
func (a *Agent) Emit(id, event string, args ...any) {
	a.Send(map[string]any{"op": "emit", "id": id, "event": event, "args": encodeArgs(args)})
}

// EmitAck sends event with args on socket id asking for an ack, with
// DefaultAckTimeout. It returns the sequence number to pass to WaitAck.
func (a *Agent) EmitAck(id, event string, args ...any) (seq int) {
	return a.EmitAckTimeout(id, event, DefaultAckTimeout, args...)
}

// EmitAckTimeout is EmitAck with an explicit client-side ack timeout; when it
// expires the agent reports "ack_timeout" for the returned seq.
func (a *Agent) EmitAckTimeout(id, event string, timeout time.Duration, args ...any) (seq int) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	seq = a.nextSeq()
	a.sendLocked(map[string]any{
		"op": "emit", "id": id, "event": event, "args": encodeArgs(args),
		"ack": true, "timeout_ms": max(timeout.Milliseconds(), 1), "seq": seq,
	})
	return seq
}

// Ack answers a server emit that asked for an acknowledgement: ackID is the
// AckID of the "event" Report.
func (a *Agent) Ack(id string, ackID int, args ...any) {
	a.Send(map[string]any{"op": "ack", "id": id, "ack_id": ackID, "args": encodeArgs(args)})
}

// Disconnect closes socket id (socket.disconnect()). A connected socket then
// reports a disconnect with reason "io client disconnect".
func (a *Agent) Disconnect(id string) {
	a.Send(map[string]any{"op": "disconnect", "id": id})
}

// Cut closes the transport under client id's socket as a network failure
// would (its disconnect reason is "transport close"). A client connected
// with "reconnection": true then reconnects, to url if not empty.
func (a *Agent) Cut(id, url string) {
	a.Send(map[string]any{"op": "cut", "id": id, "url": url})
}

// Sync round-trips a ping through the agent, so every command sent before it
// has been processed (and every report it caused synchronously is buffered).
func (a *Agent) Sync(t testing.TB) {
	t.Helper()
	a.wmu.Lock()
	seq := a.nextSeq()
	a.sendLocked(map[string]any{"op": "ping", "seq": seq})
	a.wmu.Unlock()
	a.Next(t, func(r Report) bool { return r.Type == TypePong && r.Seq == seq }, DefaultTimeout)
}

// Next returns (and consumes) the oldest report, buffered or yet to come,
// for which pred returns true. Reports that do not match stay buffered for
// other waiters. If none matches within timeout, or the agent exits, it calls
// t.Fatalf listing the recent reports; so call it from the test goroutine.
func (a *Agent) Next(t testing.TB, pred func(Report) bool, timeout time.Duration) Report {
	t.Helper()
	r, err := a.next(pred, timeout)
	if err != nil {
		t.Fatalf("nodeclient: %v\n%s", err, a.diagnostics())
	}
	return r
}

func (a *Agent) next(pred func(Report) bool, timeout time.Duration) (Report, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		a.mu.Lock()
		// Rescan the whole buffer each time: concurrent waiters may have
		// removed entries, and the buffer of unconsumed reports is small.
		for i := 0; i < len(a.pending); i++ {
			if pred(a.pending[i]) {
				r := a.pending[i]
				a.pending = append(a.pending[:i], a.pending[i+1:]...)
				a.mu.Unlock()
				return r, nil
			}
		}
		notify := a.notify
		a.mu.Unlock()

		if notify == nil {
			return Report{}, errors.New("agent exited before a matching report arrived")
		}
		select {
		case <-notify:
		case <-timer.C:
			return Report{}, fmt.Errorf("no matching report within %v", timeout)
		}
	}
}

// Pending returns the reports about socket id that no waiter has taken,
// oldest first, without taking them.
func (a *Agent) Pending(id string) []Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Report
	for _, r := range a.pending {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func (a *Agent) diagnostics() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var sb strings.Builder
	sb.WriteString("recent agent reports (oldest first):\n")
	for _, r := range a.recent {
		sb.WriteString("  ")
		sb.WriteString(r.String())
		sb.WriteByte('\n')
	}
	if len(a.recent) == 0 {
		sb.WriteString("  (none)\n")
	}
	fmt.Fprintf(&sb, "unconsumed reports: %d", len(a.pending))
	if a.stderr.Len() > 0 {
		sb.WriteString("\nagent stderr:\n")
		sb.Write(a.stderr.Bytes())
	}
	return sb.String()
}

func (a *Agent) stderrTail() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stderr.Len() == 0 {
		return ""
	}
	return "\nagent stderr:\n" + a.stderr.String()
}

// waitFor waits for a report of type want for socket id, failing fast on a
// report of one of the types in fail for the same socket.
func (a *Agent) waitFor(t testing.TB, id, want string, extra func(Report) bool, fail ...string) Report {
	t.Helper()
	r := a.Next(t, func(r Report) bool {
		if r.ID != id {
			return false
		}
		if r.Type == want {
			return extra == nil || extra(r)
		}
		for _, f := range fail {
			if r.Type == f && (extra == nil || extra(r)) {
				return true
			}
		}
		return false
	}, DefaultTimeout)
	if r.Type != want {
		t.Fatalf("nodeclient: socket %q: waiting for %q, got %s\n%s", id, want, r, a.diagnostics())
	}
	return r
}

// WaitConnect waits up to DefaultTimeout for socket id to connect and returns
// the "connect" report. A connect_error for id fails the test at once.
func (a *Agent) WaitConnect(t testing.TB, id string) Report {
	t.Helper()
	return a.waitFor(t, id, TypeConnect, nil, TypeConnectError)
}

// WaitConnectError waits up to DefaultTimeout for a connect_error on socket
// id and returns it. A successful connect of id fails the test at once.
func (a *Agent) WaitConnectError(t testing.TB, id string) Report {
	t.Helper()
	return a.waitFor(t, id, TypeConnectError, nil, TypeConnect)
}

// WaitEvent waits up to DefaultTimeout for event on socket id and returns the
// "event" report (its Args hold the event arguments).
func (a *Agent) WaitEvent(t testing.TB, id, event string) Report {
	t.Helper()
	return a.waitFor(t, id, TypeEvent, func(r Report) bool { return r.Event == event })
}

// WaitAck waits up to DefaultTimeout for the ack of EmitAck's seq on socket
// id and returns the "ack" report. An ack_timeout or agent error for that seq
// fails the test at once.
func (a *Agent) WaitAck(t testing.TB, id string, seq int) Report {
	t.Helper()
	return a.waitFor(t, id, TypeAck, func(r Report) bool { return r.Seq == seq }, TypeAckTimeout, TypeError)
}

// WaitDisconnect waits up to DefaultTimeout for socket id to disconnect and
// returns the "disconnect" report (see Reason).
func (a *Agent) WaitDisconnect(t testing.TB, id string) Report {
	t.Helper()
	return a.waitFor(t, id, TypeDisconnect, nil)
}
