package sdnotify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMessages(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	n := &Notifier{Send: func(s string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, s)
		return true, nil
	}}
	before, err := MonotonicUsec()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{n.Ready, n.Reloading, n.Ready, n.Stopping} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := MonotonicUsec()
	if len(sent) != 4 || sent[0] != "READY=1" || sent[2] != "READY=1" || sent[3] != "STOPPING=1" {
		t.Fatalf("sent %q", sent)
	}
	var usec int64
	if _, err := fmt.Sscanf(sent[1], "RELOADING=1\nMONOTONIC_USEC=%d", &usec); err != nil || usec < before || usec > after {
		t.Fatalf("reloading message %q (want MONOTONIC_USEC in [%d, %d])", sent[1], before, after)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Watchdog(ctx, time.Millisecond, nil); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		last := sent[len(sent)-1]
		mu.Unlock()
		if last == "WATCHDOG=1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no watchdog ping")
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	cancel()
	<-done
}

func TestNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	n := &Notifier{}
	if err := n.Ready(); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
	if d, err := WatchdogInterval(); d != 0 || err != nil {
		t.Fatalf("watchdog interval %v %v", d, err)
	}
	t.Setenv("WATCHDOG_USEC", "4000000")
	if d, _ := WatchdogInterval(); d != 2*time.Second {
		t.Fatalf("watchdog interval %v, want half of WATCHDOG_USEC", d)
	}
	if !strings.HasPrefix(ReloadingMessage(5), "RELOADING=1\n") {
		t.Fatal(ReloadingMessage(5))
	}
}
