package rules_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "test-secret-of-at-least-32-bytes!!"

// gate is the usual connection gate, after the auth section.
const gate = `
rules:
  - name: gate
    on: connection
    when: jwt(socket.handshake.auth.token) == nil
    do: [reject(jwt_error(socket.handshake.auth.token))]
    else:
      - set("user", jwt(socket.handshake.auth.token).sub)
`

// writeJWTConfig writes text as config.yaml in a new directory, with a
// PEM RSA public key as rsa.pem and an EC one as ec.pem beside it.
func writeJWTConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, key := range map[string]any{"rsa.pem": &rk.PublicKey, "ec.pem": &ek.PublicKey} {
		der, err := x509.MarshalPKIXPublicKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a key"), 0o600)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJWTConfigProblems(t *testing.T) {
	env := rules.LoadOptions{Environ: func() []string { return []string{"JWT_SECRET=" + testSecret, "SHORT=abc"} }}
	for _, tc := range []struct {
		name string
		yaml string
		want []string // one substring per problem, in order
	}{
		{"good secret", "auth:\n  jwt:\n    algorithms: [HS256]\n    secret: " + testSecret + "\n" + gate, nil},
		{"good secret_env", "auth:\n  jwt:\n    algorithms: [HS256]\n    secret_env: JWT_SECRET\n" + gate, nil},
		{"good RS256 and ES256 files", "auth:\n  jwt:\n    algorithms: [RS256]\n    public_key_file: rsa.pem\n" + gate, nil},
		{"good jwks", "auth:\n  jwt:\n    algorithms: [RS256, ES256]\n    jwks_url: https://issuer.example/jwks.json\n    audience: api\n    issuer: https://issuer.example\n    leeway: 30s\n" + gate, nil},
		{"jwt without auth.jwt", "rules:\n  - name: gate\n    on: connection\n    when: jwt(socket.handshake.auth.token) == nil\n    do: [reject(\"unauthorized\")]\n",
			[]string{`config.yaml:4:11: rule "gate": when: jwt() needs auth.jwt in the config`}},
		{"jwt_error without auth.jwt", "rules:\n  - name: why\n    on: connection\n    do: [log(jwt_error(\"x\"))]\n",
			[]string{`:4:14: rule "why": do[0]: jwt_error() needs auth.jwt`}},
		{"no algorithms", "auth:\n  jwt:\n    secret: " + testSecret + "\n" + gate,
			[]string{":2:3: auth.jwt.algorithms: list the algorithms tokens may use"}},
		{"unknown alg and none", "auth:\n  jwt:\n    algorithms: [hs256, none, XS256]\n    secret: " + testSecret + "\n" + gate,
			[]string{`:3:18: auth.jwt.algorithms: unknown algorithm "hs256", did you mean HS256?`, ":3:25: auth.jwt.algorithms: none is never accepted", `auth.jwt.algorithms: unknown algorithm "XS256"`}},
		{"both secrets", "auth:\n  jwt:\n    algorithms: [HS256]\n    secret: " + testSecret + "\n    secret_env: JWT_SECRET\n" + gate,
			[]string{":5:5: auth.jwt: secret and secret_env are alternatives; set one"}},
		{"unset secret_env", "auth:\n  jwt:\n    algorithms: [HS256]\n    secret_env: NOPE\n" + gate,
			[]string{":4:5: auth.jwt.secret_env: environment variable NOPE is not set"}},
		{"short secret", "auth:\n  jwt:\n    algorithms: [HS256]\n    secret_env: SHORT\n" + gate,
			[]string{"auth.jwt.secret_env: HS256 needs a secret of at least 32 bytes; this one is shorter"}},
		{"HS256 without a secret", "auth:\n  jwt:\n    algorithms: [HS256]\n    public_key_file: rsa.pem\n" + gate,
			[]string{":3:18: auth.jwt.algorithms: HS256 needs secret or secret_env"}},
		{"missing PEM file", "auth:\n  jwt:\n    algorithms: [RS256]\n    public_key_file: nope.pem\n" + gate,
			[]string{":4:5: auth.jwt.public_key_file: open "}},
		{"bad PEM file", "auth:\n  jwt:\n    algorithms: [RS256]\n    public_key_file: junk.pem\n" + gate,
			[]string{"junk.pem: no PEM block found"}},
		{"ES256 with an RSA key", "auth:\n  jwt:\n    algorithms: [ES256]\n    public_key_file: rsa.pem\n" + gate,
			[]string{":3:18: auth.jwt.algorithms: ES256 needs an EC key; public_key_file holds an RSA key"}},
		{"RS256 without a key", "auth:\n  jwt:\n    algorithms: [RS256]\n" + gate,
			[]string{"auth.jwt.algorithms: RS256 needs public_key_file or jwks_url"}},
		{"plain http JWKS", "auth:\n  jwt:\n    algorithms: [RS256]\n    jwks_url: http://issuer.example/jwks\n    jwks_timeout: 1h\n" + gate,
			[]string{":4:5: auth.jwt.jwks_url: must be https", ":5:5: auth.jwt.jwks_timeout: 1h0m0s is longer than jwks_refresh (10m0s)"}},
		{"unknown key", "auth:\n  jwt:\n    algorithms: [HS256]\n    secrets: x\n" + gate,
			[]string{":4:5: unknown key auth.jwt.secrets, did you mean secret?", "auth.jwt.secret: HS256 needs a secret of at least 32 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkProblems(t, tc.yaml, env, tc.want, testSecret) })
	}
}

func TestJWTGate(t *testing.T) {
	rs, err := rules.Load(writeJWTConfig(t, "auth:\n  jwt:\n    algorithms: [HS256]\n    secret: "+testSecret+"\n    leeway: 1m\n"+gate), builtin.Registry(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	mint := func(exp time.Time) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": exp.Unix()}).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		token any
		want  string // the reject message, or "set user=alice"
	}{
		{"good", mint(at.Add(time.Hour)), "set user=alice"},
		{"expired within leeway", mint(at.Add(-30 * time.Second)), "set user=alice"},
		{"expired", mint(at.Add(-2 * time.Minute)), "reject expired"},
		{"missing", nil, "reject missing"},
		{"number", 7.0, "reject not a string"},
		{"tampered", mint(at.Add(time.Hour)) + "x", "reject bad signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &rules.Event{Kind: rules.TriggerConnection, Name: "connection", Time: at}
			if tc.token != nil {
				ev.Socket.Handshake.Auth = map[string]any{"token": tc.token}
			}
			res := rs.Evaluate(ev)
			if len(res.Errors) > 0 {
				t.Fatal(res.Errors[0])
			}
			var got []string
			for _, a := range res.Actions {
				switch a.Kind {
				case "reject":
					got = append(got, "reject "+a.Message)
				case "set":
					got = append(got, "set "+a.Key+"="+a.Value.(string))
				}
			}
			if strings.Join(got, "; ") != tc.want {
				t.Fatalf("actions %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBearer(t *testing.T) {
	rs, err := rules.Load(writeJWTConfig(t, `
rules:
  - name: b
    on: connection
    do:
      - set("t", bearer(socket.handshake.headers.authorization))
`), builtin.Registry(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]string{"Bearer abc.def": "abc.def", "bearer  x ": "x", "Basic abc": "", "": "", "Bearer": ""} {
		ev := &rules.Event{Kind: rules.TriggerConnection, Name: "connection"}
		ev.Socket.Handshake.Headers = map[string]string{"authorization": header}
		res := rs.Evaluate(ev)
		if len(res.Actions) != 1 || res.Actions[0].Value != want {
			t.Errorf("bearer(%q): %+v, want %q", header, res.Actions, want)
		}
	}
}

// TestJWTSecretNotInJSON: the config's JSON form (hashed for reloads)
// never holds the secret; KeysDigest changes when the secret does.
func TestJWTSecretNotInJSON(t *testing.T) {
	load := func(secret string) string {
		rs, err := rules.Load(writeJWTConfig(t, "auth:\n  jwt:\n    algorithms: [HS256]\n    secret: "+secret+"\n"+gate), builtin.Registry(), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(rs.Config)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) || strings.Contains(rs.KeysDigest(), secret) {
			t.Fatalf("the config's JSON or digest holds the secret: %s", b)
		}
		return rs.KeysDigest()
	}
	if load(testSecret) == load(testSecret+"-rotated") {
		t.Fatal("rotating the secret does not change KeysDigest")
	}
}
