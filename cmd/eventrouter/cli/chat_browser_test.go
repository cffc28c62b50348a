package cli

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/eventrouter/eventrouter/internal/browser"
	"golang.org/x/crypto/bcrypt"
)

// The chat demo, examples/chat, in a real browser: its page and the
// socket.io-client bundle served by the example's static mounts, two tabs
// chatting over each transport, markup shown as text, rooms, a reload and a
// restart of the daemon mid-chat. Screenshots go to browser.Artifacts.

// chatExample is the example's directory, from this package's.
const chatExample = "../../../examples/chat"

// chatExampleConfig returns examples/chat/config.yaml with its static
// mounts' directories made absolute, so the daemon can run it from a
// temporary directory, where the tests rewrite it to reload.
func chatExampleConfig(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(chatExample)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := regexp.MustCompile(`(?m)^(\s+dir: )(\S+)$`)
	if n := len(dirs.FindAll(raw, -1)); n != 3 {
		t.Fatalf("examples/chat/config.yaml has %d static dirs, want 3 (the page, the bundle and the Admin UI)", n)
	}
	return dirs.ReplaceAllStringFunc(string(raw), func(line string) string {
		m := dirs.FindStringSubmatch(line)
		return m[1] + filepath.Join(dir, m[2])
	})
}

// chatTab is one open tab of the chat page.
type chatTab struct {
	id, label string
}

// chatPage drives the tabs of the chat page.
type chatPage struct {
	b    *browser.Agent
	tabs []chatTab
	art  string // screenshots go here
}

func (c *chatPage) open(t *testing.T, id, label, url string) chatTab {
	t.Helper()
	c.b.Open(t, id, url)
	tab := chatTab{id, label}
	c.tabs = append(c.tabs, tab)
	c.waitState(t, tab, "connected")
	return tab
}

// waitState waits until the tab shows state (connected, reconnecting,
// offline).
func (c *chatPage) waitState(t *testing.T, tab chatTab, state string) {
	t.Helper()
	c.b.Wait(t, tab.id, fmt.Sprintf("#state[data-state=%q]", state), state)
}

// sid is the socket id the tab shows.
func (c *chatPage) sid(t *testing.T, tab chatTab) string {
	t.Helper()
	sid := c.b.Text(t, tab.id, "#sid")
	if len(sid) < 8 {
		t.Fatalf("%s shows socket id %q", tab.id, sid)
	}
	return sid
}

// send types text in the tab and presses Enter.
func (c *chatPage) send(t *testing.T, tab chatTab, text string) {
	t.Helper()
	c.b.Fill(t, tab.id, "#text", text)
	c.b.Press(t, tab.id, "#text", "Enter")
}

// waitMessage waits until the tab lists a message holding text; from
// is "you" for the tab's own, or the sender's short id.
func (c *chatPage) waitMessage(t *testing.T, tab chatTab, text string) {
	t.Helper()
	c.b.Wait(t, tab.id, "#messages .message .text", text)
}

// messages returns the texts the tab lists, in order.
func (c *chatPage) messages(t *testing.T, tab chatTab) []string {
	t.Helper()
	var texts []string
	c.b.Eval(t, tab.id, `[...document.querySelectorAll("#messages .message .text")].map((e) => e.textContent)`, &texts)
	return texts
}

// join joins room in the tab, and waits until it shows it.
func (c *chatPage) join(t *testing.T, tab chatTab, room string) {
	t.Helper()
	c.b.Fill(t, tab.id, "#room", room)
	c.b.Click(t, tab.id, "#join")
	want := room
	if want == "" {
		want = "everyone"
	}
	c.b.Wait(t, tab.id, "#current-room", want)
}

func (c *chatPage) screenshot(t *testing.T, name string) {
	t.Helper()
	var shots []browser.Shot
	for _, tab := range c.tabs {
		path := filepath.Join(c.art, name+"-"+tab.id+".png")
		c.b.Screenshot(t, tab.id, path)
		shots = append(shots, browser.Shot{Path: path, Label: tab.label})
	}
	c.b.Compose(t, filepath.Join(c.art, name+".png"), shots...)
}

// TestChatExampleInBrowser: two tabs of the chat page, on the example's own
// config, chat over websocket, over polling only, and by default (polling
// upgraded to websocket). What one types appears in the other, as text.
func TestChatExampleInBrowser(t *testing.T) {
	b := browser.Start(t)
	art := browser.Artifacts(t)
	p := startDaemon(t, chatExampleConfig(t), "EVENTROUTER_LOG_FORMAT=json")

	for _, tc := range []struct {
		name, query, transport string
	}{
		{"websocket", "?transport=websocket", "websocket"},
		{"polling", "?transport=polling", "polling"},
		{"default", "", "websocket"}, // polling, then the upgrade
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &chatPage{b: b, art: art}
			ann := c.open(t, "ann-"+tc.name, "ann", p.URL+"/"+tc.query)
			bob := c.open(t, "bob-"+tc.name, "bob", p.URL+"/"+tc.query)
			for _, tab := range []chatTab{ann, bob} {
				b.Wait(t, tab.id, "#transport", tc.transport)
			}
			annID, bobID := c.sid(t, ann), c.sid(t, bob)
			if annID == bobID {
				t.Fatalf("both tabs show socket id %s", annID)
			}

			c.send(t, ann, "hello from ann over "+tc.name)
			c.waitMessage(t, bob, "hello from ann over "+tc.name)
			c.send(t, bob, "hi ann, bob here")
			c.waitMessage(t, ann, "hi ann, bob here")
			// The sender sees its own message, as its own.
			b.Wait(t, ann.id, "#messages .message.mine .text", "hello from ann over "+tc.name)
			b.Wait(t, bob.id, "#messages .message:not(.mine) .from", annID[:8])

			// Markup from another user is text: it is shown as typed, and
			// never becomes an element or runs.
			payloads := []string{
				`<script>window.pwned = "script"</script>`,
				`<img src=x onerror="window.pwned = 'img'; alert('img')">`,
				`<b>bold?</b> & <i>entities &amp; stay</i>`,
			}
			for _, m := range payloads {
				c.send(t, ann, m)
				c.waitMessage(t, bob, m)
			}
			got := c.messages(t, bob)
			if want := append([]string{"hello from ann over " + tc.name, "hi ann, bob here"}, payloads...); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s lists %q, want %q", bob.id, got, want)
			}
			for _, tab := range []chatTab{ann, bob} {
				if n := b.Count(t, tab.id, "#messages script, #messages img, #messages b, #messages i"); n != 0 {
					t.Errorf("%s: a message became %d element(s)", tab.id, n)
				}
				var pwned any
				b.Eval(t, tab.id, `window.pwned ?? null`, &pwned)
				if pwned != nil {
					t.Errorf("%s: a message ran script: window.pwned = %v", tab.id, pwned)
				}
			}
			c.screenshot(t, "chat-"+tc.name)
		})
	}
	// The README's screenshot: two tabs chatting in a room.
	// ERTEST_UPDATE_SCREENSHOT=1 writes it to docs/img/chat.png.
	t.Run("screenshot", func(t *testing.T) {
		c := &chatPage{b: b, art: art}
		ann := c.open(t, "ann", "Tab 1 · websocket", p.URL+"/")
		bob := c.open(t, "bob", "Tab 2 · polling only", p.URL+"/?transport=polling")
		c.join(t, ann, "lobby")
		c.join(t, bob, "lobby")
		b.Wait(t, ann.id, "#messages .notice", "joined lobby")
		for _, m := range []struct {
			tab  chatTab
			text string
		}{
			{ann, "Hi! Is the new server up?"},
			{bob, "It is: one config.yaml, no server code."},
			{ann, "And <b>markup</b> stays text."},
			{bob, "Reload with SIGHUP and we stay connected."},
		} {
			c.send(t, m.tab, m.text)
			for _, tab := range []chatTab{ann, bob} {
				c.waitMessage(t, tab, m.text)
			}
		}
		c.screenshot(t, "chat")
		updateDocImage(t, filepath.Join(art, "chat.png"), "chat.png")
	})

	for _, e := range b.Events() {
		if e.Type == "dialog" || e.Type == "pageerror" {
			t.Errorf("%s in %s: %s", e.Type, e.ID, e.Message)
		}
	}
}

// TestChatExampleRoomsReloadRestart: tabs in a room talk to the room only;
// a SIGHUP reload mid-chat keeps every tab connected with the same socket
// id; a restart of the daemon shows "reconnecting", then the tabs come back
// (a new id, the room joined again) and chat on; the browser going offline
// shows "offline".
func TestChatExampleRoomsReloadRestart(t *testing.T) {
	b := browser.Start(t)
	art := browser.Artifacts(t)
	config := chatExampleConfig(t)
	env := "EVENTROUTER_LOG_FORMAT=json"
	p := startDaemon(t, config, env)

	c := &chatPage{b: b, art: art}
	ann := c.open(t, "ann", "ann (websocket)", p.URL+"/?transport=websocket")
	bob := c.open(t, "bob", "bob (polling)", p.URL+"/?transport=polling")
	cy := c.open(t, "cy", "cy (default)", p.URL+"/")
	tabs := []chatTab{ann, bob, cy}
	t.Cleanup(func() {
		if t.Failed() {
			c.screenshot(t, "failed")
		}
	})

	// Rooms: ann's message in lobby reaches lobby only.
	c.join(t, ann, "lobby")
	c.send(t, ann, "only lobby hears this")
	c.waitMessage(t, ann, "only lobby hears this")
	c.join(t, bob, "lobby")
	b.Wait(t, ann.id, "#messages .notice", "joined lobby")
	c.send(t, ann, "welcome bob")
	c.waitMessage(t, bob, "welcome bob")
	b.Wait(t, bob.id, "#messages .message .from", "in lobby")
	c.send(t, cy, "cy to everyone")
	c.waitMessage(t, cy, "cy to everyone") // after ann's, which cy would have had first
	for _, tab := range []chatTab{bob, cy} {
		if got := c.messages(t, tab); strings.Contains(strings.Join(got, "\n"), "only lobby hears this") {
			t.Errorf("%s got a lobby message sent before it joined, or outside lobby: %q", tab.id, got)
		}
	}
	if got := c.messages(t, cy); strings.Contains(strings.Join(got, "\n"), "welcome bob") {
		t.Errorf("cy, outside lobby, got a lobby message: %q", got)
	}
	// A name the rules refuse is answered, and the tab stays where it was.
	b.Do(t, map[string]any{"op": "eval", "id": bob.id, "expr": `document.getElementById("room").removeAttribute("pattern")`})
	b.Fill(t, bob.id, "#room", "Not A Room")
	b.Click(t, bob.id, "#join")
	b.Wait(t, bob.id, "#error", "a room name is")
	b.Wait(t, bob.id, "#current-room", "lobby")
	c.screenshot(t, "rooms")

	// A reload mid-chat: same connections, same ids, and the chat goes on.
	ids := map[string]string{}
	for _, tab := range tabs {
		ids[tab.id] = c.sid(t, tab)
	}
	// (p.reload's hash would differ: the daemon's environment sets the log format.)
	writeConfig(t, p.path, config+"\nvars:\n  reloaded: true\n")
	p.signal(t, syscall.SIGHUP)
	p.waitLog(t, "config reloaded", nil)
	c.send(t, bob, "after the reload")
	c.waitMessage(t, ann, "after the reload")
	c.send(t, cy, "cy after the reload")
	c.waitMessage(t, cy, "cy after the reload")
	for _, tab := range tabs {
		c.waitState(t, tab, "connected")
		if got := c.sid(t, tab); got != ids[tab.id] {
			t.Errorf("%s: socket id %s after the reload, was %s", tab.id, got, ids[tab.id])
		}
	}
	if got := metric(p.scrape(t), "eventrouter_disconnects_total"); got != 0 {
		t.Errorf("disconnects_total = %v after the reload, want 0", got)
	}

	// A restart mid-chat: the tabs show reconnecting, then come back on the
	// new daemon, on the same address.
	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	for _, tab := range tabs {
		c.waitState(t, tab, "reconnecting")
	}
	c.screenshot(t, "reconnecting")
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	p2 := launch(t, nil, p.path, u.Host, env)
	for _, tab := range tabs {
		c.waitState(t, tab, "connected")
		if got := c.sid(t, tab); got == ids[tab.id] {
			t.Errorf("%s: socket id %s after the restart, the old one (no recovery is configured)", tab.id, got)
		}
	}
	p2.waitMetric(t, 3, "eventrouter_connections")
	// The pages join lobby again, and say so once the server answered:
	// then bob hears ann there, and cy does not.
	for _, tab := range []chatTab{ann, bob} {
		b.Wait(t, tab.id, `#current-room[data-synced="true"]`, "lobby")
	}
	c.send(t, ann, "back after the restart")
	c.waitMessage(t, bob, "back after the restart")
	c.send(t, cy, "cy is back too")
	c.waitMessage(t, cy, "cy is back too")
	if got := c.messages(t, cy); strings.Contains(strings.Join(got, "\n"), "back after the restart") {
		t.Errorf("cy, outside lobby, got a lobby message after the restart: %q", got)
	}
	c.screenshot(t, "restarted")

	// The network going away shows offline; its return, connected.
	b.Offline(t, true)
	for _, tab := range tabs {
		c.waitState(t, tab, "offline")
	}
	b.Offline(t, false)
	for _, tab := range tabs {
		c.waitState(t, tab, "connected")
	}
	for _, tab := range []chatTab{ann, bob} {
		b.Wait(t, tab.id, `#current-room[data-synced="true"]`, "lobby")
	}
	c.send(t, bob, "online again")
	c.waitMessage(t, ann, "online again")

	for _, e := range b.Events() {
		if e.Type == "dialog" || e.Type == "pageerror" {
			t.Errorf("%s in %s: %s", e.Type, e.ID, e.Message)
		}
	}
}

// TestChatExampleAdminUI: the official Socket.IO Admin UI, served by the
// chat example's /admin-ui mount and enabled through the environment as
// the example says, logs in and lists the two chat tabs' sockets and their
// rooms. ERTEST_UPDATE_SCREENSHOT=1 writes docs/img/admin-ui.png.
func TestChatExampleAdminUI(t *testing.T) {
	b := browser.Start(t)
	art := browser.Artifacts(t)
	const password = "chat-admin-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, chatExampleConfig(t), "EVENTROUTER_LOG_FORMAT=json",
		"EVENTROUTER_ADMIN_UI_ENABLED=true", "EVENTROUTER_ADMIN_UI_AUTH_PASSWORD_HASH="+string(hash))

	c := &chatPage{b: b, art: art}
	ann := c.open(t, "ann", "ann", p.URL+"/?transport=websocket")
	bob := c.open(t, "bob", "bob", p.URL+"/?transport=polling")
	c.join(t, ann, "lobby")
	c.join(t, bob, "games")
	c.send(t, ann, "hello, admins")
	sids := []string{c.sid(t, ann), c.sid(t, bob)}

	const ui = "admin"
	b.Do(t, map[string]any{"op": "open", "id": ui, "url": p.URL + "/admin-ui/", "width": 1400, "height": 860})
	b.Fill(t, ui, "label:Server URL", p.URL)
	b.Fill(t, ui, "label:Username", "admin")
	b.Fill(t, ui, "label:Password", password)
	b.Click(t, ui, "button:Connect")
	// The dashboard lists the namespaces from server_stats once logged in.
	b.Wait(t, ui, `role=cell[name="/admin"]`, "")
	b.Screenshot(t, ui, filepath.Join(art, "admin-dashboard.png"))

	b.Do(t, map[string]any{"op": "eval", "id": ui, "expr": `location.hash = "#/sockets/"`})
	for _, sid := range sids {
		b.Wait(t, ui, fmt.Sprintf("text=%q", sid), "")
	}
	b.Screenshot(t, ui, filepath.Join(art, "admin-sockets.png"))

	b.Do(t, map[string]any{"op": "eval", "id": ui, "expr": `location.hash = "#/rooms/"`})
	for _, room := range []string{"room:lobby", "room:games"} {
		b.Wait(t, ui, fmt.Sprintf("text=%q", room), "")
	}
	b.Screenshot(t, ui, filepath.Join(art, "admin-rooms.png"))

	updateDocImage(t, filepath.Join(art, "admin-sockets.png"), "admin-ui.png")
	for _, e := range b.Events() {
		if e.Type == "dialog" || e.Type == "pageerror" {
			t.Errorf("%s in %s: %s", e.Type, e.ID, e.Message)
		}
	}
}

// updateDocImage copies the screenshot src to docs/img/name, the README's
// copy, when ERTEST_UPDATE_SCREENSHOT=1.
func updateDocImage(t *testing.T, src, name string) {
	t.Helper()
	if os.Getenv("ERTEST_UPDATE_SCREENSHOT") != "1" {
		return
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("../../../docs/img", name), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
