package eventrouter_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/eventrouter/eventrouter/internal/redistest"
)

// TestConnectionStateRecovery cuts the official client's transport in the
// middle of a stream of broadcasts. It comes back, on the same node or on
// the other node of a cluster, within socketio.recovery.max_disconnection:
// it keeps its socket id, its rooms and its state, its connection rules
// see socket.recovered, and it gets every message it missed, once, in
// order.
func TestConnectionStateRecovery(t *testing.T) {
	cases := []struct {
		name    string
		cluster bool
		moveTo  string // the node the client comes back to
	}{
		{"single node", false, "a"},
		{"cluster, back on the same node", true, "a"},
		{"cluster, back on the other node", true, "b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := map[string]*daemon{}
			if tc.cluster {
				url, prefix := redistest.Shared(t), redistest.Prefix(t)
				nodes["a"] = bootNode(t, "testdata/recovery.yaml", url, prefix, "node-a")
				nodes["b"] = bootNode(t, "testdata/recovery.yaml", url, prefix, "node-b")
				for _, d := range nodes {
					waitLog(t, d.Logs, "cluster: Redis is reachable")
				}
			} else {
				nodes["a"] = boot(t, "testdata/recovery.yaml")
			}
			agent := nodeclient.Start(t)
			agent.Connect("r", nodes["a"].URL, map[string]any{"transports": []string{"websocket"},
				"reconnection": true, "reconnectionDelay": 20, "reconnectionDelayMax": 50})
			agent.Connect("s", nodes["a"].URL, map[string]any{"transports": []string{"websocket"}})
			first := agent.WaitConnect(t, "r")
			agent.WaitConnect(t, "s")
			if first.Recovered {
				t.Fatal("a first connection says recovered")
			}
			agent.WaitEvent(t, "r", "welcome")
			agent.WaitAck(t, "r", agent.EmitAck("r", "nick", "ann"))
			agent.WaitAck(t, "r", agent.EmitAck("r", "join", "room"))
			agent.Emit("s", "send_message", "before")
			waitPayload(t, agent, "r", "before")

			agent.Cut("r", nodes[tc.moveTo].URL)
			if got := agent.WaitDisconnect(t, "r").Reason; got != "transport close" {
				t.Fatalf("disconnect reason %q, want transport close", got)
			}
			var missed []string
			for i := range 5 {
				missed = append(missed, fmt.Sprintf("missed-%d", i))
			}
			for _, m := range missed[:4] {
				agent.Emit("s", "send_message", m)
			}
			agent.Emit("s", "to_room", map[string]any{"room": "room", "data": missed[4]})
			waitPayload(t, agent, "s", missed[3]) // the sender has them, so the server sent them

			back := agent.WaitConnect(t, "r")
			if !back.Recovered || back.SID != first.SID {
				t.Fatalf("reconnected with recovered=%v sid=%s, want true and %s", back.Recovered, back.SID, first.SID)
			}
			welcome := agent.WaitEvent(t, "r", "welcome")
			if len(welcome.Args) < 3 || welcome.Args[0] != true || welcome.Args[1] != "ann" {
				t.Errorf("welcome after recovery = %v, want socket.recovered true and nick ann", welcome.Args)
			}
			if rooms, _ := welcome.Args[2].([]any); !slices.Contains(rooms, any("room")) {
				t.Errorf("rooms after recovery = %v, want room", welcome.Args[2])
			}
			for _, m := range missed {
				r := agent.Next(t, func(r nodeclient.Report) bool {
					return r.ID == "r" && r.Event == "receive_message"
				}, nodeclient.DefaultTimeout)
				if got, _ := firstArg(r); got != m {
					t.Fatalf("after recovery got %v, want %s (missed, in order)", r.Args, m)
				}
			}
			// Still in its room, on whichever node it is now.
			agent.Emit("s", "to_room", map[string]any{"room": "room", "data": "after"})
			waitPayload(t, agent, "r", "after")
			agent.Sync(t)
			noOtherMessages(t, agent, []string{"r"})
		})
	}
}
