package eventrouter_test

import (
	"reflect"
	"testing"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
)

// TestPresenceExample runs examples/presence/config.yaml with the official
// Node client: entering and exiting a room tell the others in it, with the
// count of those present, an ack counts the sender in, who and rooms read
// the server's rooms, and a socket that disconnects is announced in every
// room it was in, though its disconnect rule runs after it left them.
func TestPresenceExample(t *testing.T) {
	d := boot(t, "examples/presence/config.yaml")
	a := nodeclient.Start(t)
	connect := func(id, transport, name string) {
		t.Helper()
		opts := map[string]any{"transports": []string{transport}, "reconnection": false}
		if name != "" {
			opts["query"] = map[string]any{"name": name}
		}
		a.Connect(id, d.URL, opts)
		a.WaitConnect(t, id)
	}
	ack := func(id, event string, args ...any) any {
		t.Helper()
		r := a.WaitAck(t, id, a.EmitAck(id, event, args...))
		if len(r.Args) != 1 {
			t.Fatalf("%s %s: ack %v, want one argument", id, event, r.Args)
		}
		return r.Args[0]
	}
	notice := func(id, event string, want map[string]any) {
		t.Helper()
		r := a.WaitEvent(t, id, event)
		if len(r.Args) != 1 || !reflect.DeepEqual(r.Args[0], want) {
			t.Errorf("%s got %s %v, want %v", id, event, r.Args, want)
		}
	}
	// noNotice checks id has no notice waiting. Call it after an ack on
	// id's own connection that the rules send after the notice would be.
	noNotice := func(id string) {
		t.Helper()
		for _, r := range a.Pending(id) {
			if r.Type == nodeclient.TypeEvent {
				t.Errorf("%s got %s %v, want no notice", id, r.Event, r.Args)
			}
		}
	}
	entered := func(room, name string, present float64) map[string]any {
		return map[string]any{"room": room, "name": name, "present": present}
	}

	connect("ann", "websocket", "ann")
	connect("bob", "polling", "bob")
	connect("cy", "websocket", "cy")

	if got, want := ack("ann", "enter", "lobby"), map[string]any{"room": "lobby", "present": 1.0}; !reflect.DeepEqual(got, want) {
		t.Errorf("ann enters lobby: ack %v, want %v", got, want)
	}
	if got, want := ack("bob", "enter", "lobby"), map[string]any{"room": "lobby", "present": 2.0}; !reflect.DeepEqual(got, want) {
		t.Errorf("bob enters lobby: ack %v, want %v", got, want)
	}
	notice("ann", "entered", entered("lobby", "bob", 2))
	noNotice("bob") // to_others: not to the sender
	ack("cy", "enter", "games")
	ack("ann", "enter", "games")
	notice("cy", "entered", entered("games", "ann", 2))
	noNotice("bob") // not in games

	if got := ack("cy", "who", "lobby"); got != 2.0 {
		t.Errorf("who lobby: %v, want 2", got)
	}
	if got, want := ack("ann", "rooms"), []any{"games", "lobby"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ann's rooms: %v, want %v", got, want)
	}

	a.Emit("bob", "exit", "lobby")
	notice("ann", "exited", entered("lobby", "bob", 1))
	if got := ack("cy", "who", "lobby"); got != 1.0 {
		t.Errorf("who lobby after bob exits: %v, want 1", got)
	}
	ack("bob", "enter", "lobby")
	notice("ann", "entered", entered("lobby", "bob", 2))

	// ann's disconnect rule runs after the library took ann out of its
	// rooms: the notices go to the rooms its state recorded, with the
	// counts of those still there.
	a.Disconnect("ann")
	notice("bob", "exited", entered("lobby", "ann", 1))
	notice("cy", "exited", entered("games", "ann", 1))
	if got := ack("cy", "who", "lobby"); got != 1.0 {
		t.Errorf("who lobby after ann left: %v, want 1", got)
	}
	noNotice("bob")
	noNotice("cy")
}
