package adminui

import (
	"fmt"
	"testing"
	"time"
)

func TestLoginThrottle(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type try struct {
		addr string
		at   time.Duration // after t0
		want bool
	}
	burst := func(addr string, at time.Duration) []try {
		var out []try
		for range loginBurst {
			out = append(out, try{addr, at, true})
		}
		return out
	}
	tests := []struct {
		name  string
		tries []try
	}{
		{"a burst passes, the next is refused", append(burst("a", 0), try{"a", 0, false})},
		{"one more after loginEvery", append(burst("a", 0), try{"a", 0, false}, try{"a", loginEvery - time.Millisecond, false}, try{"a", loginEvery, true}, try{"a", loginEvery, false})},
		{"addresses are apart", append(burst("a", 0), try{"a", 0, false}, try{"b", 0, true})},
		{"a full refill gives a whole burst", append(append(burst("a", 0), try{"a", 0, false}), burst("a", loginBurst*loginEvery)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoginThrottle()
			for i, tr := range tt.tries {
				if got := l.allow(tr.addr, t0.Add(tr.at)); got != tr.want {
					t.Fatalf("try %d (%s at +%v) = %v, want %v", i, tr.addr, tr.at, got, tr.want)
				}
			}
		})
	}
}

// TestLoginThrottleBounded: past maxThrottled addresses, those whose bucket
// refilled are forgotten, and a throttled one is kept.
func TestLoginThrottleBounded(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	l := newLoginThrottle()
	for range loginBurst {
		l.allow("greedy", t0)
	}
	for i := range maxThrottled {
		l.allow(fmt.Sprint("addr-", i), t0)
	}
	// One loginEvery later every one-try bucket is full again; greedy's
	// holds one token.
	l.allow("newcomer", t0.Add(loginEvery))
	if _, ok := l.buckets["greedy"]; !ok {
		t.Error("the throttled address was forgotten")
	}
	if n := len(l.buckets); n != 2 {
		t.Errorf("%d buckets after the prune, want 2 (greedy and newcomer)", n)
	}
}
