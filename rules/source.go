package rules

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Source is the trigger side of a plugin: an event source with its own
// on: syntax. A rule whose on: is "PREFIX:PATTERN" (nats:orders.>) reacts
// to the source's messages that PATTERN matches; its expressions read the
// message's payload as data and its subject as subject, and may call the
// functions that need no socket (broadcast, to, log, ...).
//
// A source instance lives as long as the Registry that holds it, which is
// as long as the daemon: the router calls Apply with every rule set it
// runs (at start and on each reload) and Stop when it shuts down, so a
// source keeps its connection across reloads and only changes its
// subscriptions.
type Source struct {
	// Prefix is what rules write before the colon, e.g. "nats". It must be
	// a lower-case word.
	Prefix string
	// Doc describes the on: syntax in one sentence.
	Doc string
	// Check validates a pattern (what follows "PREFIX:") at load; nil
	// accepts any non-empty pattern.
	Check func(pattern string) error
	// Match reports whether a message on subject is for pattern. Rule tests
	// use it to find the rules of an event that names a subject. Nil means
	// equality.
	Match func(pattern, subject string) bool
	// Apply starts the source or reconfigures it for a new rule set. The
	// router calls it serially, with the rule set it is about to run. It
	// must not block on the network: connect in the background, and report
	// failures through run.Report.
	Apply func(ctx context.Context, run SourceRun) error
	// Stop ends the source: unsubscribe, drain and close. ctx bounds it.
	Stop func(ctx context.Context) error
}

// SourceRun is what a source needs to serve one rule set.
type SourceRun struct {
	// Ruleset is the rule set about to run.
	Ruleset *Ruleset
	// Patterns are the distinct patterns of the rule set's rules for the
	// source, in file order; subscribe to these and nothing else.
	Patterns []string
	// Config is the plugin's decoded config (see Plugin.Config), or nil
	// when the config file has no plugins.NAME section.
	Config any
	// Deliver hands one message to the rules. Set Kind, Name (see
	// SourceEvent), Trigger, Subject and Args. It is safe for concurrent
	// use and returns once the actions ran.
	Deliver func(ctx context.Context, ev *Event)
	// Report logs a failure of the source (a lost connection, a failed
	// subscription), with the config's secrets redacted.
	Report func(err error)
	// Note logs what the source did (connected, reconnected,
	// subscribed), at info level.
	Note func(msg string)
}

// SourceEvent returns an event of the source prefix for a message on
// subject, as delivered for the rules of trigger (the on: of the
// subscription, "nats:orders.>"); an empty trigger means every rule of the
// source whose pattern matches subject. data is the payload, as data.
func SourceEvent(prefix, trigger, subject string, data any, meta map[string]any) *Event {
	return &Event{Kind: TriggerSource, Name: prefix + ":" + subject, Trigger: trigger, Subject: subject, Args: []any{data}, Meta: meta}
}

var sourcePrefix = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// registerSource checks the Source of plugin p.
func (r *Registry) registerSource(p *Plugin) error {
	s := p.Source
	if !sourcePrefix.MatchString(s.Prefix) {
		return fmt.Errorf("register plugin %q: source prefix %q is not a lower-case word", p.Name, s.Prefix)
	}
	if _, dup := r.sources[s.Prefix]; dup {
		return fmt.Errorf("register plugin %q: source prefix %q is already registered", p.Name, s.Prefix)
	}
	if s.Apply == nil || s.Stop == nil {
		return fmt.Errorf("register plugin %q: source %q needs Apply and Stop", p.Name, s.Prefix)
	}
	return nil
}

// prefixes lists the source prefixes as written, with their colon.
func prefixes(sources map[string]*Plugin) []string {
	out := keysOf(sources)
	for i := range out {
		out[i] += ":"
	}
	return out
}

// SourceOf splits an on: such as "nats:orders.new" into the prefix of a
// registered source and the rest, reporting whether it names one.
func (r *Registry) SourceOf(on string) (prefix, rest string, ok bool) {
	prefix, rest, found := strings.Cut(strings.TrimSpace(on), ":")
	if !found {
		return "", "", false
	}
	_, ok = r.sources[prefix]
	return prefix, strings.TrimSpace(rest), ok
}

// SourcePlugins lists the plugins that have a Source, sorted by prefix.
func (r *Registry) SourcePlugins() []Plugin {
	out := make([]Plugin, 0, len(r.sources))
	for _, k := range keysOf(r.sources) {
		out = append(out, *r.sources[k])
	}
	return out
}

// SourceRun returns the SourceRun of plugin p for rs, without the
// callbacks, which the caller sets.
func (rs *Ruleset) SourceRun(p Plugin) SourceRun {
	run := SourceRun{Ruleset: rs, Config: rs.PluginConfig(p.Name)}
	if p.Source != nil {
		run.Patterns = rs.SourcePatterns(p.Source.Prefix)
	}
	return run
}

// sourceTrigger splits on into a registered source and its pattern. It
// reports ok false for an on: that is no source trigger, and a problem
// for a prefix close to a registered one or an invalid pattern.
func (r *Registry) sourceTrigger(on string) (src *Source, pattern string, problem string, ok bool) {
	prefix, pattern, found := strings.Cut(on, ":")
	if !found || !sourcePrefix.MatchString(prefix) {
		return nil, "", "", false
	}
	plugin, known := r.sources[prefix]
	if !known {
		// An event name may hold a colon (chat:message); a near miss of a
		// source prefix is a typo.
		if dym := DidYouMean(prefix+":", prefixes(r.sources)); dym != "" {
			return nil, "", fmt.Sprintf("on: unknown source %q%s", prefix+":", dym), true
		}
		return nil, "", "", false
	}
	src = plugin.Source
	pattern = strings.TrimSpace(pattern)
	if pattern == "" {
		return src, "", fmt.Sprintf("on: %s: needs a pattern after the colon", prefix), true
	}
	if src.Check != nil {
		if err := src.Check(pattern); err != nil {
			return src, pattern, fmt.Sprintf("on: %s: %v", prefix, err), true
		}
	}
	return src, pattern, "", true
}

// SourcePatterns returns the distinct patterns of the rules of the source
// prefix, in file order.
func (rs *Ruleset) SourcePatterns(prefix string) []string {
	var out []string
	for _, r := range rs.sourceRules {
		if r.source == prefix && !slices.Contains(out, r.pattern) {
			out = append(out, r.pattern)
		}
	}
	return out
}

// matchSource returns the rules for a source event: those of ev.Trigger,
// or without it every rule of the source whose pattern matches ev.Subject.
func (rs *Ruleset) matchSource(ev *Event) []*Rule {
	if ev.Trigger != "" {
		return rs.index[ruleKey{kind: TriggerSource, name: ev.Trigger}]
	}
	prefix, _, _ := strings.Cut(ev.Name, ":")
	plugin := rs.registry.sources[prefix]
	if plugin == nil {
		return nil
	}
	src := plugin.Source
	var out []*Rule
	for _, r := range rs.sourceRules {
		if r.source != prefix {
			continue
		}
		if (src.Match == nil && r.pattern == ev.Subject) || (src.Match != nil && src.Match(r.pattern, ev.Subject)) {
			out = append(out, r)
		}
	}
	return out
}

// Calls reports whether any expression of the rule set calls the
// function name: a source whose action no rule calls need not connect.
func (rs *Ruleset) Calls(name string) bool {
	for _, r := range rs.Rules {
		if r.calls(name) {
			return true
		}
	}
	return false
}

// PluginConfig returns the decoded plugins.NAME section for the plugin
// name (a pointer of the type of its Plugin.Config), or nil when the file
// has none.
func (rs *Ruleset) PluginConfig(name string) any { return rs.pluginConfigs[name] }

// Secreter is implemented by a plugin config that holds secrets (a token,
// a password in a URL): they join Ruleset.Secrets, so logs redact them.
type Secreter interface {
	Secrets() []string
}

// decodePluginConfigs decodes each plugins.NAME section into a copy of
// the plugin's Config, strictly: an unknown plugin or key is a problem.
func decodePluginConfigs(ps *problems, reg *Registry, cfg *Config) map[string]any {
	out := map[string]any{}
	var configurable []string
	for name, p := range reg.plugins {
		if p.Config != nil {
			configurable = append(configurable, name)
		}
	}
	slices.Sort(configurable)
	for _, name := range keysOf(cfg.Plugins) {
		key := "plugins." + name
		p := reg.plugins[name]
		if p == nil || p.Config == nil {
			ps.add(key, "", "plugins: no plugin %q takes a config (plugins with one: %s)%s", name, strings.Join(configurable, ", "), DidYouMean(name, configurable))
			continue
		}
		// A fresh copy of the plugin's defaults.
		v := reflect.New(reflect.TypeOf(p.Config).Elem())
		v.Elem().Set(reflect.ValueOf(p.Config).Elem())
		var md mapstructure.Metadata
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
			TagName: "koanf", Result: v.Interface(), Metadata: &md, ErrorUnused: true,
			DecodeHook: mapstructure.ComposeDecodeHookFunc(durationHook, byteSizeHook),
		})
		if err == nil {
			err = dec.Decode(cfg.Plugins[name])
		}
		if err != nil {
			ps.add(key, "", "%s: %s", key, pluginConfigError(err, v.Elem().Type()))
			continue
		}
		out[name] = v.Interface()
	}
	return out
}

// pluginConfigError words a decode error of a plugin config, suggesting
// the closest key for an unknown one.
func pluginConfigError(err error, t reflect.Type) string {
	msg := unwrapAll(err).Error()
	if _, rest, ok := strings.Cut(msg, "has invalid keys: "); ok {
		known := keysOf(structKeys(t))
		var parts []string
		for _, k := range strings.Split(rest, ", ") {
			parts = append(parts, fmt.Sprintf("unknown key %q%s", k, DidYouMean(k, known)))
		}
		return strings.Join(parts, "; ")
	}
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		return describeDecodeError(err)
	}
	return msg
}
