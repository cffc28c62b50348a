package cluster

import (
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

func TestRedacted(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://app:s3cret@10.0.0.5:6379/1", "redis://app:xxxxx@10.0.0.5:6379/1"},
		{"rediss://:s3cret@redis.example:6380", "rediss://:xxxxx@redis.example:6380"},
		{"redis://%zz", "(unparsable URL)"},
	}
	for _, tc := range tests {
		if got := redacted(tc.in); got != tc.want {
			t.Errorf("redacted(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestGlobEscape: a pattern subscription on the escaped name matches that
// channel only, whatever a namespace or prefix holds.
func TestGlobEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"socket.io#/#", "socket.io#/#"},
		{"app*#/chat?#", `app\*#/chat\?#`},
		{`p[1]\#/#`, `p\[1\]\\#/#`},
	}
	for _, tc := range tests {
		if got := globEscape(tc.in); got != tc.want {
			t.Errorf("globEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWithLocal: the local copy keeps rooms, exceptions and flags, sets
// Local, and leaves the caller's options alone.
func TestWithLocal(t *testing.T) {
	volatile := &socket.BroadcastOptions{
		Rooms:  types.NewSet[socket.Room]("r"),
		Except: types.NewSet[socket.Room]("x"),
		Flags:  &socket.BroadcastFlags{},
	}
	volatile.Flags.Volatile = true
	tests := []struct {
		name string
		in   *socket.BroadcastOptions
	}{
		{"nil", nil},
		{"no flags", &socket.BroadcastOptions{Rooms: types.NewSet[socket.Room]("r")}},
		{"volatile to a room", volatile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := withLocal(tc.in)
			if !localOnly(out) {
				t.Fatal("withLocal did not set Local")
			}
			if tc.in == nil {
				return
			}
			if localOnly(tc.in) {
				t.Error("withLocal changed the caller's flags")
			}
			if out.Rooms != tc.in.Rooms || out.Except != tc.in.Except {
				t.Error("withLocal lost the rooms or exceptions")
			}
			if tc.in.Flags != nil && out.Flags.Volatile != tc.in.Flags.Volatile {
				t.Error("withLocal lost the volatile flag")
			}
		})
	}
}
