package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// The fetch is written with net/http and encoding/json rather than a JWKS
// library: the one made for golang-jwt (MicahParks/keyfunc) fetches
// synchronously inside the key function when it meets an unknown kid, so a
// rule evaluation could wait on the network, which evaluation must never
// do. Reading RSA and EC keys from a JWKS is a few lines of the standard
// library.

// maxJWKSBytes bounds the JWKS document read from the server.
const maxJWKSBytes = 1 << 20

// retryFailed is the longest wait before retrying a failed fetch.
const retryFailed = 30 * time.Second

// KeySetOptions configure a KeySet.
type KeySetOptions struct {
	// URL serves the JWKS document.
	URL string
	// Refresh is how often the keys are fetched again; it also bounds how
	// often a token with an unknown kid may cause a fetch.
	Refresh time.Duration
	// Timeout bounds one fetch.
	Timeout time.Duration
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
}

// KeySet holds the public keys of a JWKS URL. Lookups only read memory;
// Run, which the owner starts in the background, fetches and refreshes.
// Until the first fetch succeeds every lookup fails with
// ReasonKeysNotLoaded.
type KeySet struct {
	opts KeySetOptions
	keys atomic.Pointer[keyList]
	wake chan struct{} // an unknown kid asks Run for an early refresh
}

// keyList is one fetched key set.
type keyList []publicKey

// publicKey is one usable key of a JWKS.
type publicKey struct {
	kid string
	alg string // "" when the JWK does not restrict it
	fam string // hmac, rsa or ecdsa
	key any
}

// NewKeySet returns a key set with no keys loaded yet.
func NewKeySet(opts KeySetOptions) *KeySet {
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	return &KeySet{opts: opts, wake: make(chan struct{}, 1)}
}

// Seed gives ks the keys prev last loaded when both read the same URL, so
// that a reload does not make tokens wait for a fetch.
func (ks *KeySet) Seed(prev *KeySet) {
	if prev == nil || prev.opts.URL != ks.opts.URL {
		return
	}
	if keys := prev.keys.Load(); keys != nil {
		ks.keys.CompareAndSwap(nil, keys)
	}
}

// Loaded reports whether a key set has been fetched.
func (ks *KeySet) Loaded() bool { return ks.keys.Load() != nil }

// lookup finds the key for a token's kid and alg. A token without kid
// uses the one key of the algorithm's family, if there is exactly one.
func (ks *KeySet) lookup(kid, alg string) (any, string) {
	keys := ks.keys.Load()
	if keys == nil {
		ks.poke()
		return nil, ReasonKeysNotLoaded
	}
	fam := Family(alg)
	var found any
	n := 0
	for _, k := range *keys {
		if k.fam != fam || (k.alg != "" && k.alg != alg) || (kid != "" && k.kid != kid) {
			continue
		}
		found = k.key
		n++
	}
	if n != 1 {
		if kid != "" && n == 0 {
			ks.poke()
		}
		return nil, ReasonUnknownKey
	}
	return found, ""
}

// poke asks Run for an early refresh without waiting.
func (ks *KeySet) poke() {
	select {
	case ks.wake <- struct{}{}:
	default:
	}
}

// Run fetches the keys at once and then every Refresh interval, and early
// when a token names an unknown kid (at most once per interval), until
// ctx ends. A failed fetch keeps the last good keys, is reported to
// onError, and is retried after at most 30s.
func (ks *KeySet) Run(ctx context.Context, onError func(error)) {
	var lastEarly time.Time
	for {
		wait := ks.opts.Refresh
		if err := ks.Fetch(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			onError(err)
			wait = min(wait, retryFailed)
		}
		// Tokens that asked for keys before this fetch have had it.
		select {
		case <-ks.wake:
		default:
		}
		timer := time.NewTimer(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
				break waiting
			case <-ks.wake:
				if !lastEarly.IsZero() && time.Since(lastEarly) < ks.opts.Refresh {
					continue
				}
				lastEarly = time.Now()
				timer.Stop()
				break waiting
			}
		}
	}
}

// Fetch loads the key set once, within the Timeout. On failure the keys
// loaded before are kept.
func (ks *KeySet) Fetch(ctx context.Context) error {
	keys, err := ks.fetch(ctx)
	if err != nil {
		return fmt.Errorf("fetch JWKS %s: %w", redactURL(ks.opts.URL), err)
	}
	ks.keys.Store(&keys)
	return nil
}

func (ks *KeySet) fetch(ctx context.Context) (keyList, error) {
	if ks.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ks.opts.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.opts.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.opts.Client.Do(req)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("document larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// jwk is the part of a JSON Web Key this package reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads the RSA and EC signing keys of a JWKS document. Keys of
// other types or uses are skipped; a document with none usable is an error.
func parseJWKS(doc []byte) (keyList, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var out keyList
	var problems []error
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		key, fam, err := k.publicKey()
		if err != nil {
			problems = append(problems, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err))
			continue
		}
		if fam == "" {
			continue
		}
		if k.Alg != "" && Family(k.Alg) != fam {
			problems = append(problems, fmt.Errorf("key %d (kid %q): alg %s does not fit kty %s", i, k.Kid, k.Alg, k.Kty))
			continue
		}
		out = append(out, publicKey{kid: k.Kid, alg: k.Alg, fam: fam, key: key})
	}
	if len(out) == 0 {
		problems = append(problems, errors.New("no usable RSA or EC signing key"))
		return nil, errors.Join(problems...)
	}
	return out, nil
}

// publicKey converts an RSA or EC JWK; fam is "" for other key types.
func (k jwk) publicKey() (key any, fam string, err error) {
	switch k.Kty {
	case "RSA":
		n, err := b64int(k.N)
		if err != nil {
			return nil, "", fmt.Errorf("n: %w", err)
		}
		e, err := b64int(k.E)
		if err != nil {
			return nil, "", fmt.Errorf("e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, "", errors.New("e: out of range")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, "rsa", nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, "", fmt.Errorf("unsupported curve %q", k.Crv)
		}
		x, err := b64int(k.X)
		if err != nil {
			return nil, "", fmt.Errorf("x: %w", err)
		}
		y, err := b64int(k.Y)
		if err != nil {
			return nil, "", fmt.Errorf("y: %w", err)
		}
		if !curve.IsOnCurve(x, y) {
			return nil, "", errors.New("point is not on the curve")
		}
		return &ecdsa.PublicKey{Curve: curve, X: x, Y: y}, "ecdsa", nil
	}
	return nil, "", nil
}

// b64int decodes a base64url big-endian integer.
func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("not a base64url number")
	}
	return new(big.Int).SetBytes(b), nil
}

// redactURL hides a password in u.
func redactURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(invalid URL)"
}

// unwrapURLError drops the *url.Error wrapper, which repeats the URL with
// its query.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
