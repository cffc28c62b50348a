package emit_test

import (
	"context"
	"slices"
	"testing"

	"github.com/eventrouter/eventrouter/actions/emit"
	"github.com/eventrouter/eventrouter/rules"
)

// recorder is a rules.Effects that records broadcasts.
type recorder struct {
	rules.Effects // nil: any other effect panics the test
	broadcasts    [][]string
}

func (r *recorder) Broadcast(rooms []string, _ bool, _ string, _ []any) error {
	r.broadcasts = append(r.broadcasts, rooms)
	return nil
}

// TestToEmptyRoomsReachesNoOne: to() and to_others() with no rooms send
// nothing; passed on, an empty room list would mean every socket.
func TestToEmptyRoomsReachesNoOne(t *testing.T) {
	ex := emit.Plugin().Executor
	tests := []struct {
		kind  string
		rooms []string
		want  [][]string
	}{
		{emit.KindTo, nil, nil},
		{emit.KindToOthers, []string{}, nil},
		{emit.KindTo, []string{"lobby"}, [][]string{{"lobby"}}},
		{emit.KindToOthers, []string{"a", "b"}, [][]string{{"a", "b"}}},
		{emit.KindBroadcast, nil, [][]string{nil}},
	}
	for _, tc := range tests {
		fx := &recorder{}
		if err := ex.Execute(context.Background(), fx, rules.Action{Kind: tc.kind, Rooms: tc.rooms, Event: "e"}); err != nil {
			t.Fatalf("%s %q: %v", tc.kind, tc.rooms, err)
		}
		if !slices.EqualFunc(fx.broadcasts, tc.want, func(a, b []string) bool { return slices.Equal(a, b) }) {
			t.Errorf("%s %q: broadcasts %q, want %q", tc.kind, tc.rooms, fx.broadcasts, tc.want)
		}
	}
}
