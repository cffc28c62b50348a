package rules

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"
)

// BackendConfig is one entry of backends: a team's own HTTP service that
// webhook() and forward() reach by name.
type BackendConfig struct {
	URL       string            `koanf:"url" doc:"the backend's http or https URL; webhook() and forward() POST JSON to it"`
	Secret    string            `koanf:"secret" json:"-" doc:"the HMAC-SHA256 key that signs every request (X-Eventrouter-Signature); prefer secret_env, which keeps it out of the file"`
	SecretEnv string            `koanf:"secret_env" doc:"the name of the environment variable that holds secret"`
	Timeout   time.Duration     `koanf:"timeout" doc:"longest time one request may take, forward()'s included (default 5s)"`
	Retries   int               `koanf:"retries" doc:"how many times webhook() retries a delivery after a network error or a 5xx, with exponential backoff and jitter (default 5); 4xx is never retried"`
	Queue     int               `koanf:"queue" doc:"webhook() deliveries that may wait for the backend (default 10000); past it a delivery is dropped and counted"`
	Headers   map[string]string `koanf:"headers" doc:"headers sent with every request, e.g. Authorization"`
}

// The defaults of a backend's keys.
const (
	DefaultBackendTimeout = 5 * time.Second
	DefaultBackendRetries = 5
	DefaultBackendQueue   = 10000
)

// defaultBackend holds the defaults of a backend's keys.
func defaultBackend() BackendConfig {
	return BackendConfig{Timeout: DefaultBackendTimeout, Retries: DefaultBackendRetries, Queue: DefaultBackendQueue}
}

// Backend is a configured backend with its secret read.
type Backend struct {
	Name    string
	URL     string
	Secret  string // empty: requests are not signed
	Timeout time.Duration
	Retries int
	Queue   int
	Headers map[string]string
}

// applyBackendDefaults fills the keys each backend leaves out.
func applyBackendDefaults(raw map[string]any, cfg *Config) {
	def := defaultBackend()
	for name, b := range cfg.Backends {
		key := "backends." + name
		if !rawHas(raw, key+".timeout") {
			b.Timeout = def.Timeout
		}
		if !rawHas(raw, key+".retries") {
			b.Retries = def.Retries
		}
		if !rawHas(raw, key+".queue") {
			b.Queue = def.Queue
		}
		cfg.Backends[name] = b
	}
}

// buildBackends validates backends and reads each secret_env. No message
// names a secret.
func buildBackends(ps *problems, cfg *Config, from authOrigin) map[string]Backend {
	out := map[string]Backend{}
	names := keysOf(cfg.Backends)
	for _, name := range names {
		c := cfg.Backends[name]
		p := "backends." + name
		ok := true
		if !identifier.MatchString(name) {
			ps.add(p, "", "%s: a backend name must be an identifier (letters, digits, _)", p)
			ok = false
		}
		if u, err := url.Parse(c.URL); c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(p+".url", "", "%s.url: want an http or https URL, got %q", p, c.URL)
			ok = false
		}
		if c.Timeout <= 0 {
			ps.add(p+".timeout", "", "%s.timeout: must be positive", p)
			ok = false
		}
		if c.Retries < 0 {
			ps.add(p+".retries", "", "%s.retries: must not be negative", p)
			ok = false
		}
		if c.Queue <= 0 {
			ps.add(p+".queue", "", "%s.queue: must be positive", p)
			ok = false
		}
		secret := c.Secret
		switch {
		case c.Secret != "" && c.SecretEnv != "":
			ps.add(p+".secret_env", "", "%s: secret and secret_env are alternatives; set one", p)
			ok = false
		case c.SecretEnv != "" && from.standIns:
			secret = "stand-in secret of backend " + name
		case c.SecretEnv != "":
			v, set := lookupEnv(from.environ, c.SecretEnv)
			if !set || v == "" {
				ps.add(p+".secret_env", "", "%s.secret_env: environment variable %s is not set", p, c.SecretEnv)
				ok = false
			}
			secret = v
		}
		if ok {
			out[name] = Backend{Name: name, URL: c.URL, Secret: secret, Timeout: c.Timeout, Retries: c.Retries, Queue: c.Queue, Headers: c.Headers}
		}
	}
	return out
}

// Backends lists the configured backends, sorted by name.
func (rs *Ruleset) Backends() []Backend {
	out := make([]Backend, 0, len(rs.backends))
	for _, b := range rs.backends {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Backend returns the backend named name.
func (rs *Ruleset) Backend(name string) (Backend, bool) {
	b, ok := rs.backends[name]
	return b, ok
}

// backendSecrets lists the backends' secrets.
func (rs *Ruleset) backendSecrets() []string {
	var out []string
	for _, b := range rs.backends {
		if b.Secret != "" && !slices.Contains(out, b.Secret) {
			out = append(out, b.Secret)
		}
	}
	return out
}

// backendArgProblem checks that a call of a function whose first argument
// names a backend passes a string literal naming a configured one, and
// says what is wrong otherwise.
func backendArgProblem(f *Function, first any, isLiteral bool, backends map[string]BackendConfig) string {
	name, _ := first.(string)
	if !isLiteral {
		return fmt.Sprintf("%s: the backend must be a string literal naming an entry of backends", f.Usage)
	}
	if _, ok := backends[name]; ok {
		return ""
	}
	if len(backends) == 0 {
		return fmt.Sprintf("%s: unknown backend %q: the config has no backends", f.Usage, name)
	}
	return fmt.Sprintf("%s: unknown backend %q%s", f.Usage, name, DidYouMean(name, keysOf(backends)))
}
