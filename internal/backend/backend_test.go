package backend_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/backend"
	"github.com/eventrouter/eventrouter/rules"
)

// outcomes records a dispatcher's outcomes.
type outcomes struct {
	mu  sync.Mutex
	got map[string]int
}

func (o *outcomes) record(_, outcome string, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got[outcome]++
}

func (o *outcomes) count(outcome string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got[outcome]
}

// holdingBackend is a backend that answers once release is closed (never
// when it is nil), and a one-worker dispatcher with three deliveries
// queued for it.
func holdingBackend(t *testing.T, release chan struct{}) (*backend.Dispatcher, rules.Backend, *outcomes) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body) // then the server sees the client go away
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	o := &outcomes{got: map[string]int{}}
	d := backend.NewDispatcher(backend.Options{Workers: 1, Outcome: o.record})
	b := rules.Backend{Name: "b", URL: srv.URL, Timeout: time.Minute, Queue: 10}
	for range 3 {
		if _, err := d.Enqueue(b, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	return d, b, o
}

// TestCloseDrains: Close sends what is queued, and nothing is accepted
// after.
func TestCloseDrains(t *testing.T) {
	release := make(chan struct{})
	d, b, o := holdingBackend(t, release)
	close(release)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o.count(backend.Delivered) != 3 {
		t.Errorf("outcomes %v, want 3 delivered", o.got)
	}
	if _, err := d.Enqueue(b, []byte(`{}`)); err == nil || o.count(backend.Dropped) != 1 {
		t.Errorf("Enqueue after Close: %v, outcomes %v", err, o.got)
	}
}

// TestCloseGivesUp: past Close's context, what is left fails or is
// dropped, and Close returns at once.
func TestCloseGivesUp(t *testing.T) {
	d, _, o := holdingBackend(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v", err)
	}
	if got := o.count(backend.Failed) + o.count(backend.Dropped); got != 3 {
		t.Errorf("outcomes %v, want 3 failed or dropped", o.got)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	sig := backend.Sign("k", now, body)
	if !strings.HasPrefix(sig, "t=1700000000,v1=") || len(sig) != len("t=1700000000,v1=")+64 {
		t.Errorf("signature %q", sig)
	}
	for _, tc := range []struct {
		name    string
		secret  string
		header  string
		body    []byte
		wantErr bool
	}{
		{"good", "k", sig, body, false},
		{"tampered", "k", sig, []byte(`{"a":2}`), true},
		{"wrong key", "j", sig, body, true},
		{"empty", "k", "", body, true},
		{"not hex", "k", "t=1700000000,v1=xyz", body, true},
		{"stale", "k", backend.Sign("k", now.Add(-10*time.Minute), body), body, true},
	} {
		if err := backend.Verify(tc.secret, tc.header, tc.body, now, 5*time.Minute); (err != nil) != tc.wantErr {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
