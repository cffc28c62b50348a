package rules

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/internal/jwtauth"
)

// AuthConfig configures how clients prove who they are.
type AuthConfig struct {
	JWT JWTConfig `koanf:"jwt" doc:"JSON Web Tokens, checked by the rule functions jwt(token) and jwt_error(token)"`
}

// JWTConfig configures jwt() and jwt_error(). Set algorithms and the keys
// they need: secret or secret_env for HS*, public_key_file or jwks_url for
// RS*, PS* and ES*.
type JWTConfig struct {
	Algorithms    []string      `koanf:"algorithms" doc:"the alg values a token may have: HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512; none is never accepted"`
	Secret        string        `koanf:"secret" json:"-" doc:"the HMAC secret for HS* tokens, at least as many bytes as the hash (32 for HS256); prefer secret_env, which keeps it out of the file"`
	SecretEnv     string        `koanf:"secret_env" doc:"the name of the environment variable that holds the HMAC secret"`
	PublicKeyFile string        `koanf:"public_key_file" doc:"a PEM file (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE) with the RSA or EC key for RS*, PS* or ES* tokens; relative to the config file"`
	JWKSURL       string        `koanf:"jwks_url" doc:"an https URL serving the issuer's JSON Web Key Set, fetched in the background; tokens pick a key by kid"`
	JWKSRefresh   time.Duration `koanf:"jwks_refresh" doc:"how often the JWKS is fetched again (default 10m); a token with an unknown kid triggers at most one early fetch per interval"`
	JWKSTimeout   time.Duration `koanf:"jwks_timeout" doc:"how long one JWKS fetch may take (default 10s)"`
	Audience      string        `koanf:"audience" doc:"when set, a token's aud must include it"`
	Issuer        string        `koanf:"issuer" doc:"when set, a token's iss must equal it"`
	Leeway        time.Duration `koanf:"leeway" doc:"clock skew allowed when checking exp and nbf"`
}

// Configured reports whether the config sets up JWT checking at all.
func (c JWTConfig) Configured() bool {
	return len(c.Algorithms) > 0 || c.Secret != "" || c.SecretEnv != "" || c.PublicKeyFile != "" || c.JWKSURL != "" || c.Audience != "" || c.Issuer != ""
}

// The JWKS timings used when auth.jwt leaves them out (or sets 0).
const (
	DefaultJWKSRefresh = 10 * time.Minute
	DefaultJWKSTimeout = 10 * time.Second
)

// authOrigin is where a config came from, for reading what it refers to.
type authOrigin struct {
	path    string          // the config file; relative key files are beside it
	environ func() []string // nil means os.Environ
	// standIns is set for rule tests (LoadOptions.StandIns): a backend's
	// secret_env is not read, a stand-in takes its place.
	standIns bool
}

// jwtFuncs are the rule functions that need auth.jwt.
var jwtFuncs = []string{"jwt", "jwt_error"}

// jwtSetup is what buildJWT makes of auth.jwt.
type jwtSetup struct {
	verifier *jwtauth.Verifier
	keySet   *jwtauth.KeySet // nil without jwks_url
	// digest identifies the key material read (the secret, the PEM
	// file's content) without showing it.
	digest string
	// secrets are the values to keep out of logs: the HMAC secret, and
	// the password of a JWKS URL.
	secrets []string
}

// buildJWT validates auth.jwt, reads the keys it names and returns the
// verifier; a zero jwtSetup when auth.jwt is not configured or has
// problems. No message names a secret.
func buildJWT(ps *problems, cfg *Config, from authOrigin) jwtSetup {
	c := &cfg.Auth.JWT
	if !c.Configured() {
		return jwtSetup{}
	}
	const p = "auth.jwt"
	n := len(ps.list)
	digest := sha256.New()
	opts := jwtauth.Options{Audience: c.Audience, Issuer: c.Issuer, Leeway: c.Leeway}
	var keySet *jwtauth.KeySet

	if len(c.Algorithms) == 0 {
		ps.add(p+".algorithms", "", "%s.algorithms: list the algorithms tokens may use, such as [HS256] or [RS256]", p)
	}
	if c.Secret != "" && c.SecretEnv != "" {
		ps.add(p+".secret_env", "", "%s: secret and secret_env are alternatives; set one", p)
	}
	if c.PublicKeyFile != "" && c.JWKSURL != "" {
		ps.add(p+".jwks_url", "", "%s: public_key_file and jwks_url are alternatives; set one", p)
	}
	secret := c.Secret
	if c.SecretEnv != "" {
		v, ok := lookupEnv(from.environ, c.SecretEnv)
		if !ok || v == "" {
			ps.add(p+".secret_env", "", "%s.secret_env: environment variable %s is not set", p, c.SecretEnv)
		}
		secret = v
	}
	if secret != "" {
		opts.Secret = []byte(secret)
		digest.Write([]byte("secret\x00" + secret + "\x00"))
	}
	if c.PublicKeyFile != "" {
		path := c.PublicKeyFile
		if !filepath.IsAbs(path) && from.path != "" {
			path = filepath.Join(filepath.Dir(from.path), path)
		}
		text, err := os.ReadFile(path)
		if err != nil {
			ps.add(p+".public_key_file", "", "%s.public_key_file: %v", p, err)
		} else if key, err := jwtauth.ParsePublicKeyPEM(text); err != nil {
			ps.add(p+".public_key_file", "", "%s.public_key_file: %s: %v", p, path, err)
		} else {
			opts.PublicKey = key
			digest.Write([]byte("pem\x00"))
			digest.Write(text)
		}
	}
	if c.JWKSURL != "" {
		if why := checkJWKSURL(c.JWKSURL); why != "" {
			ps.add(p+".jwks_url", "", "%s.jwks_url: %s", p, why)
		}
		refresh, timeout := c.JWKSRefresh, c.JWKSTimeout
		if refresh == 0 {
			refresh = DefaultJWKSRefresh
		}
		if timeout == 0 {
			timeout = DefaultJWKSTimeout
		}
		if timeout > refresh {
			ps.add(p+".jwks_timeout", "", "%s.jwks_timeout: %s is longer than jwks_refresh (%s)", p, timeout, refresh)
		}
		keySet = jwtauth.NewKeySet(jwtauth.KeySetOptions{URL: c.JWKSURL, Refresh: refresh, Timeout: timeout})
		opts.KeySet = keySet
	}
	usesHMAC, unknown := false, false
	for i, alg := range c.Algorithms {
		key := fmt.Sprintf("%s.algorithms[%d]", p, i)
		fam := jwtauth.Family(alg)
		switch {
		case strings.EqualFold(alg, "none"):
			ps.add(key, "", "%s.algorithms: none is never accepted: an unsigned token proves nothing", p)
			unknown = true
		case fam == "":
			unknown = true
			hint := DidYouMean(alg, jwtauth.Algorithms)
			if up := strings.ToUpper(alg); up != alg && slices.Contains(jwtauth.Algorithms, up) {
				hint = ", did you mean " + up + "?"
			}
			ps.add(key, "", "%s.algorithms: unknown algorithm %q%s", p, alg, hint)
		case fam == "hmac":
			usesHMAC = true
			if c.Secret == "" && c.SecretEnv == "" {
				ps.add(key, "", "%s.algorithms: %s needs secret or secret_env", p, alg)
			} else if need := hmacBytes(alg); secret != "" && len(secret) < need {
				ps.add(keyOfSecret(c), "", "%s: %s needs a secret of at least %d bytes; this one is shorter", keyOfSecret(c), alg, need)
			}
		case c.PublicKeyFile == "" && c.JWKSURL == "":
			ps.add(key, "", "%s.algorithms: %s needs public_key_file or jwks_url", p, alg)
		case opts.PublicKey != nil:
			if kt := keyType(opts.PublicKey); kt != fam {
				ps.add(key, "", "%s.algorithms: %s needs %s key; public_key_file holds %s key", p, alg, article(fam), article(kt))
			}
		}
	}
	if (c.Secret != "" || c.SecretEnv != "") && !usesHMAC && !unknown && len(c.Algorithms) > 0 {
		ps.add(keyOfSecret(c), "", "%s: no HS algorithm in %s.algorithms uses it", keyOfSecret(c), p)
	}
	if len(ps.list) > n {
		return jwtSetup{}
	}
	opts.Algorithms = c.Algorithms
	v, err := jwtauth.New(opts)
	if err != nil {
		ps.add(p, "", "%s: %v", p, err)
		return jwtSetup{}
	}
	var secrets []string
	if secret != "" {
		secrets = append(secrets, secret)
	}
	if pw := urlPassword(c.JWKSURL); pw != "" {
		secrets = append(secrets, pw)
	}
	return jwtSetup{verifier: v, keySet: keySet, digest: hex.EncodeToString(digest.Sum(nil)), secrets: secrets}
}

// Secrets lists every secret value the ruleset holds, longest first, for
// redaction: the config's (Config.Secrets: vars_from, EVENTROUTER_VARS_*)
// auth.jwt's HMAC secret (from secret or secret_env) and JWKS URL
// password, those of plugin configs (Secreter), the backends'
// secrets (from secret or secret_env), the cluster's Redis password and
// the Admin UI's password hash.
func (rs *Ruleset) Secrets() []string {
	out := rs.Config.Secrets()
	for _, name := range keysOf(rs.pluginConfigs) {
		if s, ok := rs.pluginConfigs[name].(Secreter); ok {
			for _, v := range s.Secrets() {
				if v != "" && !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	out = append(out, rs.auth.secrets...)
	out = append(out, rs.backendSecrets()...)
	if pw := urlPassword(rs.Config.Cluster.Redis.URL); pw != "" {
		out = append(out, pw)
	}
	if h := rs.Config.AdminUI.Auth.PasswordHash; h != "" {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// KeysDigest identifies the key material auth.jwt read from outside the
// config (a secret_env secret, the public_key_file's content), and the
// secret itself, which the config's JSON form leaves out. A reload of an
// unchanged config whose keys changed is not skipped. It never shows a
// key.
func (rs *Ruleset) KeysDigest() string { return rs.auth.digest }

// keyOfSecret names the key that holds the HMAC secret.
func keyOfSecret(c *JWTConfig) string {
	if c.SecretEnv != "" {
		return "auth.jwt.secret_env"
	}
	return "auth.jwt.secret"
}

// hmacBytes is the shortest secret RFC 7518 allows for an HS algorithm:
// as long as the hash.
func hmacBytes(alg string) int {
	switch alg {
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 32
}

// keyType is the family of a parsed public key.
func keyType(key any) string {
	switch key.(type) {
	case *rsa.PublicKey:
		return "rsa"
	case *ecdsa.PublicKey:
		return "ecdsa"
	}
	return fmt.Sprintf("%T", key)
}

func article(fam string) string {
	switch fam {
	case "rsa":
		return "an RSA"
	case "ecdsa":
		return "an EC"
	}
	return "a " + fam
}

// checkJWKSURL refuses a URL that is not absolute https: over plain http
// anyone on the path could hand the daemon keys. Loopback hosts may use
// http.
func checkJWKSURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "want an absolute URL such as https://issuer.example/.well-known/jwks.json"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return ""
		}
		return "must be https (http is allowed only for localhost), or anyone on the network path could supply keys"
	}
	return fmt.Sprintf("want an https URL, got scheme %q", u.Scheme)
}

// lookupEnv finds name in environ (os.Environ when nil).
func lookupEnv(environ func() []string, name string) (string, bool) {
	if environ == nil {
		return os.LookupEnv(name)
	}
	for _, kv := range environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Task is background work a rule set needs while it serves, such as
// refreshing a JWKS. The runtime serving the rule set runs each task and
// cancels ctx when it is replaced or stopped; Run reports failures it
// recovers from to report and returns when ctx ends.
type Task struct {
	Name string
	Run  func(ctx context.Context, report func(error))
}

// Tasks lists the background work of the rule set; none for most configs.
// Until a JWKS task's first fetch, jwt() refuses every token that needs
// the JWKS with "keys not loaded".
func (rs *Ruleset) Tasks() []Task {
	if rs.auth.keySet == nil {
		return nil
	}
	return []Task{{Name: "jwks", Run: rs.auth.keySet.Run}}
}

// Inherit gives rs what prev has already fetched and rs would fetch again
// (the JWKS of the same URL), so a reload does not refuse tokens while its
// tasks start. Call it before rs serves.
func (rs *Ruleset) Inherit(prev *Ruleset) {
	if prev != nil && rs.auth.keySet != nil {
		rs.auth.keySet.Seed(prev.auth.keySet)
	}
}

// bindJWT sets env's jwt and jwt_error to verify with v at the time now
// (the current time when zero). The last token checked is remembered for
// the rest of the evaluation, so a rule that gates on jwt(t) and stores
// jwt(t).sub verifies t once.
func bindJWT(env *Env, v *jwtauth.Verifier, now time.Time) {
	if now.IsZero() {
		now = time.Now()
	}
	var (
		last   string
		claims map[string]any
		reason string
		cached bool
	)
	check := func(token any) (map[string]any, string) {
		s, isString := token.(string)
		if isString && cached && s == last {
			return claims, reason
		}
		c, r := v.Verify(token, now)
		if isString {
			last, claims, reason, cached = s, c, r, true
		}
		return c, r
	}
	env.JWT = func(token any) map[string]any { c, _ := check(token); return c }
	env.JWTError = func(token any) string { _, r := check(token); return r }
}

// bearerToken is bearer(header): the token of an Authorization header
// value "Bearer TOKEN" (the scheme in any case), or "" for anything else.
func bearerToken(header any) string {
	s, _ := header.(string)
	scheme, token, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// urlPassword returns the password in raw, a URL, or "".
func urlPassword(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		return pw
	}
	return ""
}

// redactURL returns raw with its password hidden, for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}
