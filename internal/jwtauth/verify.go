// Package jwtauth verifies JSON Web Tokens for the rule functions jwt() and
// jwt_error(). Verifying is CPU only: the keys are in memory, either given
// when the Verifier is built (an HMAC secret, a PEM public key) or fetched
// in the background from a JWKS URL by KeySet.Run, which the daemon's
// runtime owns. A token is never the reason for a network request.
//
// The checks are strict and explicit: only the algorithms the config lists
// are accepted ("none" never is), a key is only used with the algorithm
// family it belongs to (an RSA public key is never taken as an HMAC
// secret), exp is required, and nbf, aud and iss are checked with the
// configured leeway against the time the caller passes in, so tests choose
// the clock.
package jwtauth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The reasons Verify gives for refusing a token, as jwt_error() returns
// them. An accepted token has the reason "".
const (
	ReasonMissing       = "missing"               // nil, empty or absent
	ReasonNotString     = "not a string"          // a number, list or mapping
	ReasonMalformed     = "malformed"             // not three base64url parts of JSON
	ReasonAlgorithm     = "algorithm not allowed" // alg not in the config's algorithms
	ReasonUnknownKey    = "unknown key"           // no key for its kid (JWKS) or alg
	ReasonKeysNotLoaded = "keys not loaded"       // the JWKS has not been fetched yet
	ReasonSignature     = "bad signature"
	ReasonExpired       = "expired"
	ReasonNoExpiry      = "no expiry" // exp is required
	ReasonNotYetValid   = "not yet valid"
	ReasonAudience      = "wrong audience"
	ReasonIssuer        = "wrong issuer"
	ReasonInvalid       = "invalid" // any other failed claim check
)

// Algorithms lists every algorithm a config may allow, by family.
var Algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// Family is the kind of key an algorithm needs: "hmac", "rsa" or "ecdsa";
// "" for an algorithm this package does not accept.
func Family(alg string) string {
	switch {
	case alg == "HS256" || alg == "HS384" || alg == "HS512":
		return "hmac"
	case alg == "RS256" || alg == "RS384" || alg == "RS512" || alg == "PS256" || alg == "PS384" || alg == "PS512":
		return "rsa"
	case alg == "ES256" || alg == "ES384" || alg == "ES512":
		return "ecdsa"
	}
	return ""
}

// Options configure a Verifier.
type Options struct {
	// Algorithms are the accepted "alg" header values; each must be one of
	// Algorithms.
	Algorithms []string
	// Secret is the HMAC key for HS* tokens.
	Secret []byte
	// PublicKey is an *rsa.PublicKey or *ecdsa.PublicKey for RS*, PS* or
	// ES* tokens, or nil.
	PublicKey any
	// KeySet, when not nil, supplies the public keys by kid instead.
	KeySet *KeySet
	// Audience, when not empty, must be among the token's aud.
	Audience string
	// Issuer, when not empty, must equal the token's iss.
	Issuer string
	// Leeway is the clock skew allowed for exp and nbf.
	Leeway time.Duration
}

// Verifier checks tokens against one config's keys and claims. It is safe
// for concurrent use.
type Verifier struct {
	opts    Options
	allowed map[string]bool
}

// New returns a verifier for opts. It refuses an unknown algorithm, "none",
// and an algorithm none of the keys can verify.
func New(opts Options) (*Verifier, error) {
	if len(opts.Algorithms) == 0 {
		return nil, errors.New("no algorithms allowed")
	}
	v := &Verifier{opts: opts, allowed: map[string]bool{}}
	for _, alg := range opts.Algorithms {
		if err := v.checkAlgorithm(alg); err != nil {
			return nil, err
		}
		v.allowed[alg] = true
	}
	return v, nil
}

// checkAlgorithm says why alg cannot be allowed with the verifier's keys.
func (v *Verifier) checkAlgorithm(alg string) error {
	switch fam := Family(alg); fam {
	case "":
		return fmt.Errorf("unknown algorithm %q", alg)
	case "hmac":
		if len(v.opts.Secret) == 0 {
			return fmt.Errorf("%s needs a secret", alg)
		}
	default:
		if v.opts.KeySet != nil {
			return nil
		}
		switch v.opts.PublicKey.(type) {
		case nil:
			return fmt.Errorf("%s needs a public key", alg)
		case *rsa.PublicKey:
			if fam != "rsa" {
				return fmt.Errorf("%s needs an EC public key, the public key is RSA", alg)
			}
		case *ecdsa.PublicKey:
			if fam != "ecdsa" {
				return fmt.Errorf("%s needs an RSA public key, the public key is EC", alg)
			}
		default:
			return fmt.Errorf("%s: unsupported public key type %T", alg, v.opts.PublicKey)
		}
	}
	return nil
}

// Verify checks token at the time now. It returns the token's claims, or
// nil and the reason it was refused (one of the Reason constants).
func (v *Verifier) Verify(token any, now time.Time) (map[string]any, string) {
	var s string
	switch t := token.(type) {
	case nil:
		return nil, ReasonMissing
	case string:
		s = strings.TrimSpace(t)
	default:
		return nil, ReasonNotString
	}
	if s == "" {
		return nil, ReasonMissing
	}
	opts := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.opts.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	}
	if v.opts.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.opts.Audience))
	}
	if v.opts.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.opts.Issuer))
	}
	claims := jwt.MapClaims{}
	var keyReason string
	_, err := jwt.NewParser(opts...).ParseWithClaims(s, claims, func(t *jwt.Token) (any, error) {
		key, reason := v.key(t)
		if reason != "" {
			keyReason = reason
			return nil, errors.New(reason)
		}
		return key, nil
	})
	if err != nil {
		if keyReason != "" {
			return nil, keyReason
		}
		return nil, reasonOf(err)
	}
	return map[string]any(claims), ""
}

// key picks the key for t, checking its algorithm first: the parser
// verifies the signature with whatever this returns.
func (v *Verifier) key(t *jwt.Token) (any, string) {
	alg, _ := t.Header["alg"].(string)
	if !v.allowed[alg] || t.Method == nil || t.Method.Alg() != alg {
		return nil, ReasonAlgorithm
	}
	fam := Family(alg)
	if fam == "hmac" {
		return v.opts.Secret, ""
	}
	if v.opts.KeySet != nil {
		kid, _ := t.Header["kid"].(string)
		return v.opts.KeySet.lookup(kid, alg)
	}
	return v.opts.PublicKey, ""
}

// reasonOf maps a parse error to its reason. Failed claim checks come
// joined; the first that applies in this order names the failure.
func reasonOf(err error) string {
	missing := func(claim string) bool {
		return errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(err.Error(), claim+" claim is required")
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ReasonSignature
	case missing("exp"):
		return ReasonNoExpiry
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidAudience), missing("aud"):
		return ReasonAudience
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missing("iss"):
		return ReasonIssuer
	}
	return ReasonInvalid
}
