package eventrouter_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/internal/backend"
	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/rules"
)

// backendConfig writes a config whose backends section is backends (YAML
// lines, indented by two) and whose rules are rules, and returns its path.
func backendConfig(t *testing.T, backends, rules string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := "server:\n  listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"\"\nbackends:\n" + backends + "rules:\n" + rules
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// attempt is one request a test backend received.
type attempt struct {
	body      []byte
	id, sig   string
	answered  int
	attemptNo int
}

const testSecret = "webhook-test-secret-0123456789abcdef"

// TestWebhookRetriesAndSigns: a 5xx is retried with the same delivery id
// until it succeeds, every attempt is signed, and a 4xx is not retried.
func TestWebhookRetriesAndSigns(t *testing.T) {
	attempts := make(chan attempt, 16)
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id := req.Header.Get(backend.HeaderDelivery)
		mu.Lock()
		seen[id]++
		n := seen[id]
		mu.Unlock()
		status := http.StatusOK
		switch {
		case strings.Contains(string(body), "bad"):
			status = http.StatusBadRequest
		case n < 3:
			status = http.StatusServiceUnavailable
		}
		w.WriteHeader(status)
		attempts <- attempt{body: body, id: id, sig: req.Header.Get(backend.HeaderSignature), answered: status, attemptNo: n}
	}))
	defer srv.Close()
	path := backendConfig(t, fmt.Sprintf("  hooks:\n    url: %q\n    secret: %q\n    retries: 5\n    headers: {X-Team: chat}\n", srv.URL, testSecret),
		"  - name: hook\n    on: send_message\n    do: ['webhook(\"hooks\", {\"text\": data})', 'reply(\"queued\")']\n")
	d := bootWith(t, path, router.Options{WebhookBackoff: func(int) time.Duration { return time.Millisecond }})
	a := nodeclient.Start(t)
	a.Connect("c", d.URL, map[string]any{"transports": []string{"websocket"}, "reconnection": false})
	a.WaitConnect(t, "c")
	a.WaitAck(t, "c", a.EmitAck("c", "send_message", "hello"))

	var id string
	for i := 1; i <= 3; i++ {
		at := next(t, attempts)
		if string(at.body) != `{"text":"hello"}` {
			t.Errorf("attempt %d body %s", i, at.body)
		}
		if id == "" {
			id = at.id
		} else if at.id != id {
			t.Errorf("attempt %d has delivery id %q, want %q as the first", i, at.id, id)
		}
		if err := backend.Verify(testSecret, at.sig, at.body, time.Now(), time.Minute); err != nil {
			t.Errorf("attempt %d: %v", i, err)
		}
		if err := backend.Verify(testSecret, at.sig, append(at.body, ' '), time.Now(), time.Minute); err == nil {
			t.Errorf("attempt %d: a tampered body verifies", i)
		}
	}
	waitCount(t, func() int {
		return int(metricValue(t, d.Router.Registry(), "eventrouter_webhook_deliveries_total", "outcome", "delivered"))
	}, 1)
	if got := metricValue(t, d.Router.Registry(), "eventrouter_webhook_deliveries_total", "outcome", "retried"); got != 2 {
		t.Errorf("retried = %v, want 2", got)
	}

	// A 4xx fails at once.
	a.WaitAck(t, "c", a.EmitAck("c", "send_message", "bad"))
	if at := next(t, attempts); at.answered != http.StatusBadRequest {
		t.Fatalf("got %d", at.answered)
	}
	waitCount(t, func() int {
		return int(metricValue(t, d.Router.Registry(), "eventrouter_webhook_deliveries_total", "outcome", "failed"))
	}, 1)
	if got := metricValue(t, d.Router.Registry(), "eventrouter_webhook_deliveries_total", "outcome", "retried"); got != 2 {
		t.Errorf("retried = %v after a 4xx, want still 2", got)
	}
	select {
	case at := <-attempts:
		t.Errorf("an attempt after the 4xx failed: %+v", at)
	default:
	}
	waitLog(t, d.Logs, "webhook delivery failed")
}

func next[T any](t *testing.T, ch chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
	var zero T
	return zero
}

// TestWebhookQueueBound floods a backend that does not answer: events keep
// flowing (every ack arrives), the queue holds its bound and the rest are
// dropped and counted; released, the queued ones are delivered.
func TestWebhookQueueBound(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body) // then the server sees the client go away
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer srv.Close()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	path := backendConfig(t, fmt.Sprintf("  slow:\n    url: %q\n    queue: 2\n    retries: 0\n    timeout: 30s\n", srv.URL),
		"  - name: hook\n    on: send_message\n    do: ['webhook(\"slow\", data)', 'reply(\"ok\")']\n")
	d := bootWith(t, path, router.Options{})
	a := nodeclient.Start(t)
	a.Connect("c", d.URL, map[string]any{"transports": []string{"websocket"}, "reconnection": false})
	a.WaitConnect(t, "c")
	const flood = 50
	var seqs []int
	for i := range flood {
		seqs = append(seqs, a.EmitAck("c", "send_message", i))
	}
	for _, s := range seqs {
		a.WaitAck(t, "c", s)
	}
	reg := d.Router.Registry()
	// 4 workers hold one each, the queue holds 2: at least 44 dropped.
	if got := metricValue(t, reg, "eventrouter_webhook_deliveries_total", "outcome", "dropped"); got < flood-6 || got > flood {
		t.Errorf("dropped = %v, want between %d and %d", got, flood-6, flood)
	}
	if got := metricValue(t, reg, "eventrouter_limited_total", "limit", "webhook_queue"); got < flood-6 {
		t.Errorf("limited_total{webhook_queue} = %v", got)
	}
	waitLog(t, d.Logs, "webhook delivery dropped")
	released = true
	close(release)
	waitCount(t, func() int {
		return int(metricValue(t, reg, "eventrouter_webhook_deliveries_total", "outcome", "delivered") + metricValue(t, reg, "eventrouter_webhook_deliveries_total", "outcome", "dropped"))
	}, flood)
}

// TestForward drives forward() with the Node client against backends that
// answer, fail, time out, send invalid JSON or actions.
func TestForward(t *testing.T) {
	hold := make(chan struct{})
	mux := http.NewServeMux()
	answer := func(status int, header, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			if header != "" {
				w.Header().Set("X-Eventrouter-Actions", header)
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	mux.HandleFunc("/echo", func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		fmt.Fprintf(w, `[{"got": %s}, 2, "three"]`, body)
	})
	mux.HandleFunc("/one", answer(200, "", `{"total": 12.50, "big": 12345678901234567890}`))
	mux.HandleFunc("/fail", answer(503, "", `{"secret": "detail"}`))
	mux.HandleFunc("/invalid", answer(200, "", `{"oops"`))
	mux.HandleFunc("/actions", answer(200, "1", `{"reply": ["done", 1], "broadcast": {"event": "news", "args": ["all"]}, "to": {"rooms": ["r"], "event": "roomnews", "args": [{"x": 1}]}}`))
	mux.HandleFunc("/badactions", answer(200, "1", `{"reply": ["done"], "emit": {"event": "x"}}`))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body) // then the server sees the client go away
		select {
		case <-hold:
			_, _ = io.WriteString(w, `"slow done"`)
		case <-req.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var backends strings.Builder
	for _, name := range []string{"echo", "one", "fail", "invalid", "actions", "badactions", "slow"} {
		timeout := "5s"
		if name == "slow" {
			timeout = "30s"
		}
		fmt.Fprintf(&backends, "  %s:\n    url: %q\n    timeout: %s\n", name, srv.URL+"/"+name, timeout)
	}
	fmt.Fprintf(&backends, "  timeout:\n    url: %q\n    timeout: 100ms\n", srv.URL+"/slow")
	rules := `  - name: join
    on: connection
    do: ['join("r")']
  - name: ping
    on: ping
    do: ['reply("pong")']
`
	for _, name := range []string{"echo", "one", "fail", "invalid", "actions", "badactions", "slow", "timeout"} {
		rules += fmt.Sprintf("  - name: call-%s\n    on: %s\n    do: ['forward(\"%s\", {\"user\": socket.id, \"data\": data})']\n", name, name, name)
	}
	d := boot(t, backendConfig(t, backends.String(), rules))
	a := nodeclient.Start(t)
	for _, id := range []string{"a", "b"} {
		a.Connect(id, d.URL, map[string]any{"transports": []string{"websocket"}, "reconnection": false})
		a.WaitConnect(t, id)
	}
	call := func(backend string, data any) []any {
		t.Helper()
		return a.WaitAck(t, "a", a.EmitAck("a", backend, data)).Args
	}
	if got := call("echo", "hi"); len(got) != 3 || got[1] != float64(2) || got[2] != "three" {
		t.Errorf("echo ack %v", got)
	} else if m, _ := got[0].(map[string]any)["got"].(map[string]any); m["data"] != "hi" {
		t.Errorf("echo ack %v: the backend did not get the payload", got)
	}
	seq := a.EmitAck("a", "one", nil)
	if got := a.WaitAck(t, "a", seq); got.RawArgs != `[{"big":12345678901234567000,"total":12.5}]` {
		t.Errorf("one ack %s", got.RawArgs)
	}
	for backend, want := range map[string]string{"fail": "backend failed", "invalid": "invalid backend response", "timeout": "backend timed out", "badactions": "invalid backend response"} {
		if got := call(backend, nil); !reflect.DeepEqual(got, []any{map[string]any{"error": want}}) {
			t.Errorf("%s ack %v, want error %q", backend, got, want)
		}
	}
	waitLog(t, d.Logs, "action failed")

	// The actions contract: broadcast to all, to the room, then the reply.
	if got := call("actions", nil); !reflect.DeepEqual(got, []any{"done", float64(1)}) {
		t.Errorf("actions ack %v", got)
	}
	for _, id := range []string{"a", "b"} {
		if got := a.WaitEvent(t, id, "news"); !reflect.DeepEqual(got.Args, []any{"all"}) {
			t.Errorf("%s news %v", id, got.Args)
		}
		if got := a.WaitEvent(t, id, "roomnews"); !reflect.DeepEqual(got.Args, []any{map[string]any{"x": float64(1)}}) {
			t.Errorf("%s roomnews %v", id, got.Args)
		}
	}

	// A slow backend holds only its own socket: b is answered meanwhile,
	// and a's next event waits for its forward, in order.
	slow := a.EmitAck("a", "slow", nil)
	after := a.EmitAck("a", "ping")
	a.WaitAck(t, "b", a.EmitAck("b", "ping"))
	for _, r := range a.Pending("a") {
		if r.Type == "ack" && (r.Seq == slow || r.Seq == after) {
			t.Errorf("a was answered before its backend: %v", r)
		}
	}
	close(hold)
	first := a.Next(t, func(r nodeclient.Report) bool { return r.ID == "a" && r.Type == "ack" }, 10*time.Second)
	if first.Seq != slow || !reflect.DeepEqual(first.Args, []any{"slow done"}) {
		t.Errorf("first ack of a %v, want the slow forward's", first)
	}
	if got := a.WaitAck(t, "a", after); !reflect.DeepEqual(got.Args, []any{"pong"}) {
		t.Errorf("ping ack %v", got.Args)
	}
}

// TestWebhookSurvivesReload: a delivery queued before a reload is sent
// after it, to the backend as it was configured when it was queued.
func TestWebhookSurvivesReload(t *testing.T) {
	release := make(chan struct{})
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-release
		body, _ := io.ReadAll(req.Body)
		got <- req.URL.Path + " " + string(body)
	}))
	defer srv.Close()
	rule := "  - name: hook\n    on: send_message\n    do: ['webhook(\"b\", data)', 'reply(\"ok\")']\n"
	path := backendConfig(t, fmt.Sprintf("  b:\n    url: %q\n", srv.URL+"/old"), rule)
	d := boot(t, path)
	a := nodeclient.Start(t)
	a.Connect("c", d.URL, map[string]any{"transports": []string{"websocket"}, "reconnection": false})
	a.WaitConnect(t, "c")
	a.WaitAck(t, "c", a.EmitAck("c", "send_message", "before"))

	rs, err := rules.Load(backendConfig(t, fmt.Sprintf("  b:\n    url: %q\n", srv.URL+"/new"), rule), builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Router.Reload(rs, "v2"); err != nil {
		t.Fatal(err)
	}
	a.WaitAck(t, "c", a.EmitAck("c", "send_message", "after"))
	close(release)
	seen := map[string]bool{next(t, got): true, next(t, got): true}
	if !seen[`/old "before"`] || !seen[`/new "after"`] {
		t.Errorf("deliveries %v, want before to /old and after to /new", seen)
	}
}
