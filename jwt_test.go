package eventrouter_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/nodeclient"
	"github.com/golang-jwt/jwt/v5"
)

// The example's demo secret and the claims its config expects.
const exampleSecret = "demo-secret-for-the-jwt-example-not-for-production"

func exampleToken(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"sub": "ann", "aud": "chat", "iss": "https://auth.example", "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTEndToEnd drives examples/jwt with the official Node client: a good
// token connects, from the handshake auth or an Authorization header, and
// a token with a bad signature, an expired one, one for another audience
// and none at all get connect_error "unauthorized", with the reason logged.
func TestJWTEndToEnd(t *testing.T) {
	d := boot(t, "examples/jwt/config.yaml")
	a := nodeclient.Start(t)
	ws := func(auth any, headers map[string]any) map[string]any {
		opts := map[string]any{"transports": []string{"websocket"}, "auth": auth, "reconnection": false}
		if headers != nil {
			opts["extraHeaders"] = headers
		}
		return opts
	}

	a.Connect("ann", d.URL, ws(map[string]any{"token": exampleToken(t, exampleSecret, nil)}, nil))
	a.WaitConnect(t, "ann")
	if got := a.WaitEvent(t, "ann", "hello"); !reflect.DeepEqual(got.Args, []any{"ann"}) {
		t.Errorf("hello %v, want [ann]", got.Args)
	}
	a.Connect("bob", d.URL, ws(nil, map[string]any{"Authorization": "Bearer " + exampleToken(t, exampleSecret, jwt.MapClaims{"sub": "bob"})}))
	a.WaitConnect(t, "bob")
	if got := a.WaitEvent(t, "bob", "hello"); !reflect.DeepEqual(got.Args, []any{"bob"}) {
		t.Errorf("hello %v, want [bob]", got.Args)
	}
	a.Emit("ann", "send_message", "hi")
	if got := a.WaitEvent(t, "bob", "receive_message"); !reflect.DeepEqual(got.Args, []any{map[string]any{"from": "ann", "text": "hi"}}) {
		t.Errorf("receive_message %v, want from ann", got.Args)
	}

	for _, tc := range []struct {
		name   string
		auth   any
		reason string
	}{
		{"bad signature", map[string]any{"token": exampleToken(t, "another-secret-that-is-not-the-one-in-config", nil)}, "bad signature"},
		{"expired", map[string]any{"token": exampleToken(t, exampleSecret, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()})}, "expired"},
		{"wrong audience", map[string]any{"token": exampleToken(t, exampleSecret, jwt.MapClaims{"aud": "billing"})}, "wrong audience"},
		{"missing", map[string]any{}, "missing"},
		{"number", map[string]any{"token": 42}, "not a string"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			id := "refused-" + tc.name
			a.Connect(id, d.URL, ws(tc.auth, nil))
			if r := a.WaitConnectError(t, id); r.Message != "unauthorized" {
				t.Errorf("connect_error %q, want unauthorized", r.Message)
			}
			waitLog(t, d.Logs, "refusing connection: "+tc.reason)
		})
	}
}

// TestJWKSEndToEnd serves a JWKS from a test server: the daemon fetches it
// in the background, a token signed with its key connects, and after the
// key rotates a token with the new kid connects too (an early refresh),
// while a token of the retired key is refused.
func TestJWKSEndToEnd(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	var current atomic.Pointer[rsa.PrivateKey]
	var kid atomic.Value
	current.Store(k1)
	kid.Store("k1")
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		k := current.Load()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
			"kty": "RSA", "kid": kid.Load(), "alg": "RS256", "use": "sig",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
		}}})
	}))
	defer jwks.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`
auth:
  jwt:
    algorithms: [RS256]
    jwks_url: %s
    jwks_refresh: 1h
    jwks_timeout: 2s
rules:
  - name: gate
    on: connection
    when: jwt(socket.handshake.auth.token) == nil
    do:
      - log(jwt_error(socket.handshake.auth.token))
      - reject("unauthorized")
`, jwks.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := boot(t, config)
	a := nodeclient.Start(t)
	mint := func(key *rsa.PrivateKey, kid string) map[string]any {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "ann", "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"token": s}, "reconnection": false}
	}
	// connects tries until the daemon accepts, as keys load in the background.
	connects := func(name string, opts map[string]any) {
		t.Helper()
		for i := 0; ; i++ {
			id := fmt.Sprintf("%s-%d", name, i)
			a.Connect(id, d.URL, opts)
			r := a.Next(t, func(r nodeclient.Report) bool {
				return r.ID == id && (r.Type == nodeclient.TypeConnect || r.Type == nodeclient.TypeConnectError)
			}, 5*time.Second)
			if r.Type == nodeclient.TypeConnect {
				return
			}
			if i == 50 {
				t.Fatalf("%s: still refused: %q", name, r.Message)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	connects("k1", mint(k1, "k1"))

	current.Store(k2)
	kid.Store("k2")
	connects("k2", mint(k2, "k2"))
	waitLog(t, d.Logs, "unknown key")
	a.Connect("retired", d.URL, mint(k1, "k1"))
	if r := a.WaitConnectError(t, "retired"); r.Message != "unauthorized" {
		t.Errorf("retired key: connect_error %q, want unauthorized", r.Message)
	}
}
