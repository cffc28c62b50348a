package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(k.X.FillBytes(make([]byte, 32))), "y": b64(k.Y.FillBytes(make([]byte, 32)))}
}

// jwksServer serves whatever keys holds, counting requests; fail makes it
// answer 500.
type jwksServer struct {
	mu       sync.Mutex
	keys     []map[string]any
	fail     bool
	requests atomic.Int32
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
}

func (s *jwksServer) set(fail bool, keys ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.keys = fail, keys
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestJWKSRotation(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &jwksServer{}
	srv.set(false, rsaJWK("k1", &k1.PublicKey), ecJWK("e1", &ec.PublicKey))
	hs := httptest.NewServer(srv)
	defer hs.Close()

	// A long refresh: only the start and unknown kids cause fetches.
	ks := NewKeySet(KeySetOptions{URL: hs.URL, Refresh: time.Hour, Timeout: time.Second})
	v, err := New(Options{Algorithms: []string{"RS256", "ES256"}, KeySet: ks})
	if err != nil {
		t.Fatal(err)
	}
	tok1 := sign(t, jwt.SigningMethodRS256, k1, map[string]any{"kid": "k1"}, nil)
	tok2 := sign(t, jwt.SigningMethodRS256, k2, map[string]any{"kid": "k2"}, nil)
	tokEC := sign(t, jwt.SigningMethodES256, ec, map[string]any{"kid": "e1"}, nil)

	if _, reason := v.Verify(tok1, now); reason != ReasonKeysNotLoaded {
		t.Fatalf("before the first fetch: reason %q, want %q", reason, ReasonKeysNotLoaded)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var errs []error
	var errMu sync.Mutex
	go func() {
		defer close(done)
		ks.Run(ctx, func(err error) { errMu.Lock(); errs = append(errs, err); errMu.Unlock() })
	}()
	defer func() { cancel(); <-done }()
	eventually(t, "the first fetch", ks.Loaded)
	for _, tok := range []string{tok1, tokEC} {
		if _, reason := v.Verify(tok, now); reason != "" {
			t.Fatalf("reason %q, want none", reason)
		}
	}

	// Rotation: k2 replaces k1; a token with kid k2 makes one early fetch.
	srv.set(false, rsaJWK("k2", &k2.PublicKey))
	if _, reason := v.Verify(tok2, now); reason != ReasonUnknownKey {
		t.Fatalf("reason %q, want %q", reason, ReasonUnknownKey)
	}
	eventually(t, "the refresh for kid k2", func() bool { _, r := v.Verify(tok2, now); return r == "" })
	if _, reason := v.Verify(tok1, now); reason != ReasonUnknownKey {
		t.Fatalf("rotated-out key: reason %q, want %q", reason, ReasonUnknownKey)
	}
	fetches := srv.requests.Load()

	// Unknown kids do not fetch again within the interval.
	for i := 0; i < 20; i++ {
		v.Verify(sign(t, jwt.SigningMethodRS256, k1, map[string]any{"kid": "nope"}, nil), now)
	}
	time.Sleep(50 * time.Millisecond)
	if n := srv.requests.Load(); n != fetches {
		t.Fatalf("%d fetches after unknown kids, want %d", n, fetches)
	}
}

func TestJWKSKeepsLastGoodKeys(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := &jwksServer{}
	srv.set(false, rsaJWK("k1", &k1.PublicKey))
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ks := NewKeySet(KeySetOptions{URL: hs.URL, Refresh: 20 * time.Millisecond, Timeout: time.Second})
	v, _ := New(Options{Algorithms: []string{"RS256"}, KeySet: ks})
	tok := sign(t, jwt.SigningMethodRS256, k1, map[string]any{"kid": "k1"}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan error, 100)
	done := make(chan struct{})
	go func() { defer close(done); ks.Run(ctx, func(err error) { failed <- err }) }()
	eventually(t, "the first fetch", ks.Loaded)
	srv.set(true)
	err := <-failed
	if !strings.Contains(err.Error(), "fetch JWKS http://127.0.0.1") || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("error %v", err)
	}
	if _, reason := v.Verify(tok, now); reason != "" {
		t.Fatalf("after a failed refresh: reason %q, want the last good keys to verify", reason)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

func TestJWKSFetchTimeout(t *testing.T) {
	hang := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer hs.Close()
	defer close(hang)
	ks := NewKeySet(KeySetOptions{URL: hs.URL, Refresh: time.Hour, Timeout: 50 * time.Millisecond})
	start := time.Now()
	err := ks.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("err %v, want a deadline", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the fetch was not bounded by its timeout")
	}
}

func TestParseJWKS(t *testing.T) {
	for doc, want := range map[string]string{
		`{`:            "decode: unexpected end of JSON input",
		`{"keys": []}`: "no usable RSA or EC signing key",
		`{"keys": [{"kty": "EC", "kid": "a", "crv": "P-256", "x": "AQ", "y": "AQ"}]}`: `key 0 (kid "a"): point is not on the curve` + "\nno usable RSA or EC signing key",
		`{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}`:                                 "no usable RSA or EC signing key",
	} {
		if _, err := parseJWKS([]byte(doc)); err == nil || err.Error() != want {
			t.Errorf("%s: err %v, want %q", doc, err, want)
		}
	}
}
