package router

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// jwksCounter serves a one-key JWKS and counts the requests.
func jwksCounter(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
			"kty": "RSA", "kid": "k", "n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func jwksConfig(url string) string {
	return "auth:\n  jwt:\n    algorithms: [RS256]\n    jwks_url: " + url + "\n    jwks_refresh: 20ms\n    jwks_timeout: 10ms\n" + reloadTestConfig("", `
  - name: gate
    on: connection
    when: jwt(socket.handshake.auth.token) == nil
    do: [reject("unauthorized")]
`)
}

// steady waits until n stops changing for a while and returns it.
func steady(n *atomic.Int32) int32 {
	last := n.Load()
	for {
		time.Sleep(100 * time.Millisecond) // longer than several refresh intervals
		if now := n.Load(); now == last {
			return now
		}
		last = n.Load()
	}
}

// TestJWKSRefresherLifecycle: the runtime refreshes its JWKS in the
// background; a reload to another URL stops the old refresher and starts
// the new one, and shutdown stops it.
func TestJWKSRefresherLifecycle(t *testing.T) {
	a, fromA := jwksCounter(t)
	b, fromB := jwksCounter(t)
	r, _, _ := startReloadTestRouter(t, jwksConfig(a.URL))
	waitFor(t, "periodic refreshes from the first URL", func() bool { return fromA.Load() >= 3 })

	if err := r.Reload(loadReloadTestConfig(t, jwksConfig(b.URL)), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "refreshes from the new URL", func() bool { return fromB.Load() >= 3 })
	stopped := steady(fromA)
	time.Sleep(100 * time.Millisecond)
	if n := fromA.Load(); n != stopped {
		t.Fatalf("the replaced runtime still fetches: %d requests, then %d", stopped, n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = steady(fromB)
	time.Sleep(100 * time.Millisecond)
	if n := fromB.Load(); n != stopped {
		t.Fatalf("the refresher runs after shutdown: %d requests, then %d", stopped, n)
	}
}
