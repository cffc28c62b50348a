package engine_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The HTTP long-polling and upgrade cases of the Engine.IO protocol suite,
// against both engines.

// openPolling opens a polling session and returns its id.
func openPolling(t *testing.T, tg *target) string {
	t.Helper()
	code, body := httpDo(t, tg, http.MethodGet, "EIO=4&transport=polling", "")
	if code != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("%s: handshake: HTTP %d %q", tg.engine, code, body)
	}
	var hs struct{ Sid string }
	if err := json.Unmarshal([]byte(body[1:]), &hs); err != nil || hs.Sid == "" {
		t.Fatalf("open packet %q: %v", body, err)
	}
	return hs.Sid
}

func pollQuery(sid string) string { return "EIO=4&transport=polling&sid=" + sid }

// post sends payload and expects "ok".
func post(t *testing.T, tg *target, sid, payload string) {
	t.Helper()
	if code, body := httpDo(t, tg, http.MethodPost, pollQuery(sid), payload); code != http.StatusOK || body != "ok" {
		t.Fatalf("POST %q: HTTP %d %q, want 200 ok", payload, code, body)
	}
}

// poll GETs until a payload other than a lone ping comes.
func poll(t *testing.T, tg *target, sid string) (int, string) {
	t.Helper()
	for {
		code, body := httpDo(t, tg, http.MethodGet, pollQuery(sid), "")
		if code != http.StatusOK || body != "2" {
			return code, body
		}
		post(t, tg, sid, "3")
	}
}

var pollingCases = []eioCase{
	{name: "polling/one plain text packet", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		post(t, tg, sid, "4hello")
		if code, body := poll(t, tg, sid); code != http.StatusOK || body != "4hello" {
			t.Errorf("HTTP %d %q, want 4hello", code, body)
		}
	}},
	{name: "polling/several plain text packets", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		post(t, tg, sid, "4test1\x1e4test2\x1e4test3")
		var got []string
		for len(got) < 3 {
			code, body := poll(t, tg, sid)
			if code != http.StatusOK {
				t.Fatalf("HTTP %d %q", code, body)
			}
			got = append(got, strings.Split(body, "\x1e")...)
		}
		if strings.Join(got, ",") != "4test1,4test2,4test3" {
			t.Errorf("got %q", got)
		}
	}},
	{name: "polling/plain text and binary packets", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		post(t, tg, sid, "4hello\x1ebAQIDBA==")
		var got []string
		for len(got) < 2 {
			code, body := poll(t, tg, sid)
			if code != http.StatusOK {
				t.Fatalf("HTTP %d %q", code, body)
			}
			got = append(got, strings.Split(body, "\x1e")...)
		}
		if strings.Join(got, ",") != "4hello,bAQIDBA==" {
			t.Errorf("got %q", got)
		}
	}},
	// The library answers "ok" and keeps the session.
	{name: "polling/invalid packet format closes the session", engines: []string{"builtin"}, run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		if code, _ := httpDo(t, tg, http.MethodPost, pollQuery(sid), "abc"); code != http.StatusBadRequest {
			t.Errorf("POST abc: HTTP %d, want 400", code)
		}
		if code, body := httpDo(t, tg, http.MethodGet, pollQuery(sid), ""); code != http.StatusBadRequest {
			t.Errorf("poll after: HTTP %d %q, want 400", code, body)
		}
	}},
	{name: "polling/duplicate poll closes the session", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		var wg sync.WaitGroup
		codes, bodies := make([]int, 2), make([]string, 2)
		for i := range 2 {
			wg.Go(func() { codes[i], bodies[i], _ = httpTry(tg, http.MethodGet, pollQuery(sid), "") })
		}
		wg.Wait()
		// Whichever arrived second is refused; the held one gets the
		// close packet.
		if codes[0] != http.StatusOK {
			codes[0], codes[1], bodies[0], bodies[1] = codes[1], codes[0], bodies[1], bodies[0]
		}
		if codes[0] != http.StatusOK || bodies[0] != "1" || (codes[1] != http.StatusBadRequest && codes[1] != http.StatusInternalServerError) {
			t.Errorf("polls got HTTP %d %q and %d %q; want 200 \"1\" and 400", codes[0], bodies[0], codes[1], bodies[1])
		}
		if code, _ := httpDo(t, tg, http.MethodGet, pollQuery(sid), ""); code != http.StatusBadRequest {
			t.Errorf("poll after: HTTP %d, want 400", code)
		}
	}},
	// Builtin only: the library's ping/pong race (see the websocket case).
	{name: "polling/ping and pong", engines: []string{"builtin"}, run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		for i := range 3 {
			if code, body := httpDo(t, tg, http.MethodGet, pollQuery(sid), ""); code != http.StatusOK || body != "2" {
				t.Fatalf("poll %d: HTTP %d %q, want a ping", i, code, body)
			}
			post(t, tg, sid, "3")
		}
	}},
	// The library closes the session some time after, so a request at
	// pingInterval + pingTimeout still finds it.
	{name: "polling/session closed by ping interval + ping timeout", engines: []string{"builtin"}, run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		// The time passing is what is under test: a client that does not
		// poll is gone at pingInterval + pingTimeout, not a tick later.
		time.Sleep(pingInterval + pingTimeout)
		if code, body := httpDo(t, tg, http.MethodPost, pollQuery(sid), "3"); code != http.StatusBadRequest {
			t.Errorf("POST after the timeout: HTTP %d %q, want 400", code, body)
		}
		if r := tg.reason(t); r != "ping timeout" {
			t.Errorf("close reason %q, want ping timeout", r)
		}
	}},
	{name: "polling/client close packet", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		held := make(chan string, 1)
		go func() {
			code, body, err := httpTry(tg, http.MethodGet, pollQuery(sid), "")
			if err != nil {
				body = err.Error()
			}
			held <- http.StatusText(code) + " " + body
		}()
		post(t, tg, sid, "1")
		if r := tg.reason(t); r != "transport close" {
			t.Errorf("close reason %q, want transport close", r)
		}
		// The held poll ends with a noop (or, had the POST come first,
		// is refused as the session is gone).
		if got := <-held; got != "OK 6" && got != "Bad Request "+`{"code":1,"message":"Session ID unknown"}` {
			t.Errorf("held poll got %q, want OK 6", got)
		}
		if code, _ := httpDo(t, tg, http.MethodGet, pollQuery(sid), ""); code != http.StatusBadRequest {
			t.Errorf("poll after: HTTP %d, want 400", code)
		}
	}},
	// The library answers 413 and keeps the session.
	{name: "polling/payload over max_payload", engines: []string{"builtin"}, run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		code, _ := httpDo(t, tg, http.MethodPost, pollQuery(sid), "4"+strings.Repeat("x", maxPayload))
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d, want 413", code)
		}
		if code, _ := httpDo(t, tg, http.MethodGet, pollQuery(sid), ""); code != http.StatusBadRequest {
			t.Errorf("poll after: HTTP %d, want 400", code)
		}
	}},
	{name: "upgrade/polling to websocket", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		c := upgraded(t, tg, sid)
		c.send("4hello")
		if got := c.text(); got != "4hello" {
			t.Errorf("got %q, want 4hello over the websocket", got)
		}
	}},
	{name: "upgrade/poll after the upgrade gets 400", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		c := upgraded(t, tg, sid)
		c.send("4sync") // its echo comes over the websocket only once "5" is handled
		if got := c.text(); got != "4sync" {
			t.Fatalf("got %q", got)
		}
		if code, body := httpDo(t, tg, http.MethodGet, pollQuery(sid), ""); code != http.StatusBadRequest {
			t.Errorf("poll after the upgrade: HTTP %d %q, want 400", code, body)
		}
	}},
	{name: "upgrade/second websocket with the same sid is refused", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		c := upgraded(t, tg, sid)
		c.send("4sync")
		if got := c.text(); got != "4sync" {
			t.Fatalf("got %q", got)
		}
		if got := dialStatus(tg, "EIO=4&transport=websocket&sid="+sid); got != http.StatusBadRequest && !refusedAfterUpgrade(tg, "EIO=4&transport=websocket&sid="+sid) {
			t.Errorf("HTTP %d, want a refusal", got)
		}
	}},
	{name: "upgrade/packets queued during the upgrade arrive", run: func(t *testing.T, tg *target) {
		sid := openPolling(t, tg)
		c := dial(t, tg, "EIO=4&transport=websocket&sid="+sid)
		c.send("2probe")
		if got := c.text(); got != "3probe" {
			t.Fatalf("got %q, want 3probe", got)
		}
		post(t, tg, sid, "4queued") // echoed on polling, which is still the transport
		c.send("5")
		// The echo went either to the poll below or, once upgraded, to
		// the websocket.
		code, body := httpDo(t, tg, http.MethodGet, pollQuery(sid), "")
		if code == http.StatusOK && strings.Contains(body, "4queued") {
			return
		}
		if got := c.text(); got != "4queued" {
			t.Errorf("got %q over the websocket (poll: HTTP %d %q)", got, code, body)
		}
	}},
}

// upgraded upgrades polling session sid to a websocket and returns it.
func upgraded(t *testing.T, tg *target, sid string) *client {
	t.Helper()
	c := dial(t, tg, "EIO=4&transport=websocket&sid="+sid)
	c.send("2probe")
	if got := c.text(); got != "3probe" {
		t.Fatalf("got %q, want 3probe", got)
	}
	if code, body := poll(t, tg, sid); code != http.StatusOK || body != "6" {
		t.Fatalf("poll during the upgrade: HTTP %d %q, want the noop 6", code, body)
	}
	c.send("5")
	return c
}

func TestEngineIOPolling(t *testing.T) {
	runCases(t, pollingCases, startEIO)
}
