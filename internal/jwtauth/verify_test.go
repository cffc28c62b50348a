package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// sign makes a token with claims over the standard good ones.
func sign(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix(), "aud": "api", "iss": "https://issuer"}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	tok := jwt.NewWithClaims(method, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hs := func(t *testing.T) *Verifier {
		v, err := New(Options{Algorithms: []string{"HS256"}, Secret: secret, Audience: "api", Issuer: "https://issuer", Leeway: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rs := func(t *testing.T) *Verifier {
		v, err := New(Options{Algorithms: []string{"RS256"}, PublicKey: &rsaKey.PublicKey})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	es := func(t *testing.T) *Verifier {
		v, err := New(Options{Algorithms: []string{"ES256"}, PublicKey: &ecKey.PublicKey})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	unsignedNone, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "x", "exp": now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, tc := range []struct {
		name   string
		v      func(*testing.T) *Verifier
		token  func(*testing.T) any
		reason string
	}{
		{"HS256 good", hs, func(t *testing.T) any { return sign(t, jwt.SigningMethodHS256, secret, nil, nil) }, ""},
		{"HS256 wrong secret", hs, func(t *testing.T) any {
			return sign(t, jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes"), nil, nil)
		}, ReasonSignature},
		{"HS256 expired", hs, func(t *testing.T) any {
			return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})
		}, ReasonExpired},
		{"HS256 expired within leeway", hs, func(t *testing.T) any {
			return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()})
		}, ""},
		{"HS256 no exp", hs, func(t *testing.T) any { return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"exp": nil}) }, ReasonNoExpiry},
		{"HS256 not yet valid", hs, func(t *testing.T) any {
			return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"nbf": now.Add(time.Hour).Unix()})
		}, ReasonNotYetValid},
		{"HS256 wrong audience", hs, func(t *testing.T) any {
			return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"aud": "other"})
		}, ReasonAudience},
		{"HS256 no audience", hs, func(t *testing.T) any { return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"aud": nil}) }, ReasonAudience},
		{"HS256 audience list", hs, func(t *testing.T) any {
			return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"aud": []string{"x", "api"}})
		}, ""},
		{"HS256 wrong issuer", hs, func(t *testing.T) any {
			return sign(t, jwt.SigningMethodHS256, secret, nil, jwt.MapClaims{"iss": "evil"})
		}, ReasonIssuer},
		{"HS384 not allowed", hs, func(t *testing.T) any { return sign(t, jwt.SigningMethodHS384, secret, nil, nil) }, ReasonAlgorithm},
		{"none never", hs, func(t *testing.T) any { return unsignedNone }, ReasonAlgorithm},
		{"missing nil", hs, func(t *testing.T) any { return nil }, ReasonMissing},
		{"missing empty", hs, func(t *testing.T) any { return " " }, ReasonMissing},
		{"number", hs, func(t *testing.T) any { return 42.0 }, ReasonNotString},
		{"malformed", hs, func(t *testing.T) any { return "not.a.jwt" }, ReasonMalformed},
		{"RS256 good", rs, func(t *testing.T) any { return sign(t, jwt.SigningMethodRS256, rsaKey, nil, nil) }, ""},
		{"RS256 key as HMAC secret", rs, func(t *testing.T) any {
			der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
			return sign(t, jwt.SigningMethodHS256, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil, nil)
		}, ReasonAlgorithm},
		{"ES256 good", es, func(t *testing.T) any { return sign(t, jwt.SigningMethodES256, ecKey, nil, nil) }, ""},
		{"ES256 other key", es, func(t *testing.T) any { return sign(t, jwt.SigningMethodES256, otherEC, nil, nil) }, ReasonSignature},
		{"ES256 verifier, RS256 token", es, func(t *testing.T) any { return sign(t, jwt.SigningMethodRS256, rsaKey, nil, nil) }, ReasonAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims, reason := tc.v(t).Verify(tc.token(t), now)
			if reason != tc.reason {
				t.Fatalf("reason %q, want %q", reason, tc.reason)
			}
			if (claims != nil) != (reason == "") {
				t.Fatalf("claims %v with reason %q", claims, reason)
			}
			if claims != nil && claims["sub"] != "alice" {
				t.Fatalf("claims %v", claims)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no algorithms", Options{Secret: []byte("s")}, "no algorithms allowed"},
		{"none", Options{Algorithms: []string{"none"}, Secret: []byte("s")}, `unknown algorithm "none"`},
		{"HS256 without secret", Options{Algorithms: []string{"HS256"}, PublicKey: &rsaKey.PublicKey}, "HS256 needs a secret"},
		{"RS256 without key", Options{Algorithms: []string{"RS256"}, Secret: []byte("s")}, "RS256 needs a public key"},
		{"ES256 with RSA key", Options{Algorithms: []string{"ES256"}, PublicKey: &rsaKey.PublicKey}, "ES256 needs an EC public key, the public key is RSA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if _, err := ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
		t.Fatal(err)
	}
	priv, _ := x509.MarshalECPrivateKey(ecKey)
	for text, want := range map[string]string{
		"hello": "no PEM block found",
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: priv})): `PEM block is "EC PRIVATE KEY"; want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE (never a private key)`,
	} {
		if _, err := ParsePublicKeyPEM([]byte(text)); err == nil || err.Error() != want {
			t.Errorf("err %v, want %q", err, want)
		}
	}
}
