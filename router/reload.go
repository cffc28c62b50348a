package router

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"

	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
)

// ConfigHash identifies a decoded config: a short sha256 of its canonical
// JSON form, so that it covers the file and the EVENTROUTER_* environment
// and ignores comments and formatting. It covers the secrets read through
// vars_from too, so a rotated secret is a changed config that a reload
// applies; being a digest, it never shows them. Reload skips a config
// whose hash is the running one's, and /metrics publishes it as
// eventrouter_config_hash.
func ConfigHash(c *rules.Config) string {
	b, err := json.Marshal(c)
	if err != nil {
		b = fmt.Appendf(nil, "%#v", c) // vars that JSON cannot encode
	}
	h := sha256.New()
	h.Write(b)
	// Kept out of the JSON (json:"-") so no dump of the config shows it,
	// but a changed hash is a changed config: the reload then says it
	// needs a restart instead of skipping the file as unchanged.
	h.Write([]byte(c.AdminUI.Auth.PasswordHash))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ReloadFrom is one reload: it loads a config with load (read, validate,
// compile) and swaps it in with Reload. On any failure the running runtime
// keeps serving, the reason is logged and counted, and the error returned.
// It reports whether a new runtime was swapped in (false when the config
// is unchanged). Reloads are serialised.
func (r *Router) ReloadFrom(load func() (*rules.Ruleset, error)) (bool, error) {
	r.reload.Lock()
	defer r.reload.Unlock()
	r.metrics.reloads.Inc()
	rs, err := load()
	if err != nil {
		r.reloadFailed(err)
		return false, err
	}
	return r.swap(rs, ConfigHash(rs.Config))
}

// Reload swaps in a new rule set. Events already being handled finish on
// the old one; live connections are untouched. A config whose hash is the
// running one's is skipped. Settings that only a restart can change keep
// their running values, with a warning. A failure keeps the running
// runtime, and is logged and counted.
func (r *Router) Reload(rs *rules.Ruleset, hash string) error {
	r.reload.Lock()
	defer r.reload.Unlock()
	r.metrics.reloads.Inc()
	_, err := r.swap(rs, hash)
	return err
}

// swap builds a runtime for rs and swaps it in; r.reload must be held.
func (r *Router) swap(rs *rules.Ruleset, hash string) (bool, error) {
	old := r.rt.Load()
	if hash == "" {
		hash = ConfigHash(rs.Config)
	}
	if hash == old.Hash && rs.KeysDigest() == old.Rules.KeysDigest() {
		r.log.Info("config unchanged; reload skipped", zap.String("hash", hash))
		r.metrics.reloadOK.Set(1)
		return false, nil
	}
	for _, w := range keepRestartOnly(&r.boot, rs.Config) {
		r.log.Warn(w.key+" changed; restart to apply, the running value is kept",
			zap.Any("running", w.running), zap.Any("config", w.config))
	}
	rt, err := NewRuntime(rs, hash, r.routeHandler)
	if err != nil {
		err = fmt.Errorf("build runtime: %w", err)
		r.reloadFailed(err)
		return false, err
	}
	known := map[string]bool{}
	for _, ns := range old.Rules.Config.Namespaces {
		known[ns] = true
	}
	for _, ns := range rs.Config.Namespaces {
		if r.adminUI != nil && ns == r.adminUI.Namespace() {
			r.log.Warn("namespace not bound: it is the Admin UI's until a restart", zap.String("namespace", ns))
			continue
		}
		if !known[ns] {
			r.bindNamespace(ns)
		}
	}
	for ns := range known {
		if !slices.Contains(rs.Config.Namespaces, ns) {
			r.log.Warn("namespace removed; its rules are gone, but clients can join it until a restart", zap.String("namespace", ns))
		}
	}
	// Tasks start before the runtime is published, so whoever loads it
	// sees it whole; a shutdown that raced with the swap stops them too.
	rs.Inherit(old.Rules)
	rt.startTasks(r.log)
	r.rt.Store(rt)
	old.stop()
	if r.closing.Load() {
		rt.stop()
	} else {
		r.applySources(rs)
	}
	if !slices.Contains(old.Rules.Config.Server.CORS.Origins, "*") {
		warnAnyOrigin(r.log, rs.Config)
	}

	d := diffRules(old.Rules.Config.Rules, rs.Config.Rules)
	r.metrics.forgetRules(d.removed)
	r.metrics.configLoaded(rt)
	r.log.Info("config reloaded",
		zap.String("hash", hash), zap.String("previous_hash", old.Hash),
		zap.Int("rules", len(rs.Rules)),
		zap.Strings("added", d.added), zap.Strings("removed", d.removed), zap.Strings("changed", d.changed),
		zap.Strings("settings_changed", changedSettings(old.Rules.Config, rs.Config)))
	return true, nil
}

// reloadFailed logs and counts a reload that kept the running runtime.
func (r *Router) reloadFailed(err error) {
	r.metrics.reloadFailed()
	var le *rules.LoadError
	if errors.As(err, &le) {
		r.log.Error("reload failed; keeping the running config", zap.Int("problems", len(le.Problems)), zap.Error(err))
		return
	}
	r.log.Error("reload failed; keeping the running config", zap.Error(err))
}

// ruleDiff names the rules a reload added, removed and changed, comparing
// rules by name.
type ruleDiff struct{ added, removed, changed []string }

func diffRules(old, next []rules.RuleSpec) ruleDiff {
	var d ruleDiff
	before := make(map[string]rules.RuleSpec, len(old))
	for _, s := range old {
		before[s.Name] = s
	}
	seen := make(map[string]bool, len(next))
	for _, s := range next {
		seen[s.Name] = true
		prev, ok := before[s.Name]
		switch {
		case !ok:
			d.added = append(d.added, s.Name)
		case !reflect.DeepEqual(prev, s):
			d.changed = append(d.changed, s.Name)
		}
	}
	for _, s := range old {
		if !seen[s.Name] {
			d.removed = append(d.removed, s.Name)
		}
	}
	return d
}

// changedSettings names the top-level sections other than rules that a
// reload changed.
func changedSettings(old, next *rules.Config) []string {
	var out []string
	add := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	add("server", old.Server, next.Server)
	add("admin", old.Admin, next.Admin)
	add("socketio", old.SocketIO, next.SocketIO)
	add("namespaces", old.Namespaces, next.Namespaces)
	add("log", old.Log, next.Log)
	add("vars", old.Vars, next.Vars)
	add("vars_from", old.VarsFrom, next.VarsFrom)
	add("auth", old.Auth, next.Auth)
	add("plugins", old.Plugins, next.Plugins)
	return out
}

// restartOnly is a setting that a reload cannot change.
type restartOnly struct {
	key             string
	running, config any
}

// keepRestartOnly copies from boot (the config the router started with)
// into next the settings that are fixed for the process lifetime
// (listeners, the Socket.IO engine options), so the new runtime describes
// what really runs, and returns the ones the new config tried to change. The CORS methods, headers and credentials do apply to
// HTTP routes at once; only the Socket.IO path keeps the running ones.
func keepRestartOnly(boot, next *rules.Config) []restartOnly {
	var out []restartOnly
	keep := func(key string, running, config any, restore func()) {
		if !reflect.DeepEqual(running, config) {
			out = append(out, restartOnly{key, running, config})
			restore()
		}
	}
	keep("server.listen", boot.Server.Listen, next.Server.Listen, func() { next.Server.Listen = boot.Server.Listen })
	keep("admin.listen", boot.Admin.Listen, next.Admin.Listen, func() { next.Admin.Listen = boot.Admin.Listen })
	bs, nx := &boot.Server, &next.Server
	keep("server.read_header_timeout", bs.ReadHeaderTimeout, nx.ReadHeaderTimeout, func() { nx.ReadHeaderTimeout = bs.ReadHeaderTimeout })
	keep("server.idle_timeout", bs.IdleTimeout, nx.IdleTimeout, func() { nx.IdleTimeout = bs.IdleTimeout })
	o, n := &boot.SocketIO, &next.SocketIO
	keep("socketio.path", o.Path, n.Path, func() { n.Path = o.Path })
	keep("socketio.ping_interval", o.PingInterval, n.PingInterval, func() { n.PingInterval = o.PingInterval })
	keep("socketio.ping_timeout", o.PingTimeout, n.PingTimeout, func() { n.PingTimeout = o.PingTimeout })
	keep("socketio.connect_timeout", o.ConnectTimeout, n.ConnectTimeout, func() { n.ConnectTimeout = o.ConnectTimeout })
	keep("socketio.max_payload", o.MaxPayload, n.MaxPayload, func() { n.MaxPayload = o.MaxPayload })
	keep("socketio.transports", o.Transports, n.Transports, func() { n.Transports = o.Transports })
	keep("socketio.engine", o.Engine, n.Engine, func() { n.Engine = o.Engine })
	keep("socketio.recovery", o.Recovery, n.Recovery, func() { n.Recovery = o.Recovery })
	bc, ncl := boot.Cluster, next.Cluster
	if bc.Redis.URL != ncl.Redis.URL { // its password is a secret: compared, never shown
		out = append(out, restartOnly{"cluster.redis.url", redactedURL(bc.Redis.URL), redactedURL(ncl.Redis.URL)})
	}
	keep("cluster.redis.prefix", bc.Redis.Prefix, ncl.Redis.Prefix, func() {})
	keep("cluster.node_id", bc.NodeID, ncl.NodeID, func() {})
	keep("cluster.on_outage", bc.OnOutage, ncl.OnOutage, func() {})
	keep("cluster.request_timeout", bc.RequestTimeout, ncl.RequestTimeout, func() {})
	next.Cluster = boot.Cluster
	// The Admin UI's namespace is bound at start. Its password hash is
	// compared, never shown.
	ba, na := boot.AdminUI, next.AdminUI
	if ba.Auth.PasswordHash != na.Auth.PasswordHash {
		out = append(out, restartOnly{"admin_ui.auth.password_hash", Redacted, Redacted})
	}
	ba.Auth.PasswordHash, na.Auth.PasswordHash = "", ""
	keep("admin_ui", ba, na, func() {})
	next.AdminUI = boot.AdminUI
	oc, nc := boot.Server.CORS, next.Server.CORS
	for _, c := range []struct {
		key     string
		running any
		config  any
	}{
		{"server.cors.methods (Socket.IO path)", oc.Methods, nc.Methods},
		{"server.cors.headers (Socket.IO path)", oc.Headers, nc.Headers},
		{"server.cors.credentials (Socket.IO path)", oc.Credentials, nc.Credentials},
	} {
		keep(c.key, c.running, c.config, func() {})
	}
	return out
}

// redactedURL is raw without its password.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
