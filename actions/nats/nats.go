// Package nats is the NATS plugin: a source (rules with on: "nats:SUBJECT"
// react to the messages published on SUBJECT, wildcards included) and the
// action nats_publish(subject, payload), usable from any rule.
//
// The plugin owns one connection for as long as its registry lives, which
// is the daemon's lifetime: a reload changes its subscriptions (it
// subscribes to each new pattern and unsubscribes from each removed one)
// without reconnecting, and only a changed plugins.nats section makes a
// new connection. Reconnection after a lost server is nats.go's: the
// subscriptions are restored and publishes buffered meanwhile.
package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/rules"
	natsgo "github.com/nats-io/nats.go"
)

// Prefix is what rules write before the subject pattern: on: "nats:orders.>".
const Prefix = "nats"

// Kind is the action kind of nats_publish.
const Kind = "nats_publish"

// Config is the plugins.nats section of the config file.
type Config struct {
	URL            string        `koanf:"url" doc:"the NATS server(s) to connect to, comma-separated nats:// URLs; a user and password or token in a URL are secrets, redacted in logs"`
	Name           string        `koanf:"name" doc:"the connection name the server shows (connz)"`
	ConnectTimeout time.Duration `koanf:"connect_timeout" doc:"how long one connection attempt may take"`
	ReconnectWait  time.Duration `koanf:"reconnect_wait" doc:"how long to wait between two reconnection attempts to one server"`
	MaxReconnects  int           `koanf:"max_reconnects" doc:"reconnection attempts before giving up; -1 (the default) retries forever"`
}

// DefaultConfig is what plugins.nats leaves out.
func DefaultConfig() Config {
	return Config{URL: natsgo.DefaultURL, Name: "eventrouter", ConnectTimeout: 2 * time.Second, ReconnectWait: 2 * time.Second, MaxReconnects: -1}
}

// Secrets returns the credentials in the URLs: passwords and tokens.
func (c *Config) Secrets() []string {
	var out []string
	for _, u := range strings.Split(c.URL, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.User == nil {
			continue
		}
		if pw, ok := p.User.Password(); ok {
			out = append(out, pw)
		} else {
			out = append(out, p.User.Username()) // a token
		}
	}
	return out
}

var _ rules.Secreter = (*Config)(nil)

// Plugin is one NATS plugin instance: its connection and subscriptions.
// Register p.Plugin() in one registry; the instance lives as long as it.
type Plugin struct {
	mu      sync.Mutex
	conn    *natsgo.Conn
	made    Config // what conn was made from
	subs    map[string]*natsgo.Subscription
	ctx     context.Context // ends at Stop
	cancel  context.CancelFunc
	deliver func(context.Context, *rules.Event)
	report  func(error)
	note    func(string)
}

// New returns a plugin instance without a connection; the router's first
// Apply connects it.
func New() *Plugin {
	ctx, cancel := context.WithCancel(context.Background())
	return &Plugin{subs: map[string]*natsgo.Subscription{}, ctx: ctx, cancel: cancel, deliver: func(context.Context, *rules.Event) {}, report: func(error) {}, note: func(string) {}}
}

// Conn returns the current connection, or nil; tests read its statistics.
func (p *Plugin) Conn() *natsgo.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn
}

// Plugin describes p for a rules.Registry.
func (p *Plugin) Plugin() rules.Plugin {
	defaults := DefaultConfig()
	return rules.Plugin{
		Name: "nats",
		Doc:  "NATS: rules on nats:SUBJECT react to messages (subject and data, the payload decoded as JSON when it is JSON, else a string), and nats_publish sends one.",
		Functions: []rules.Function{{
			Name: "nats_publish", Usage: "nats_publish(subject, payload)",
			Doc:   "publishes payload on the NATS subject: a string as it is, any other value as JSON.",
			Types: []any{new(func(string, any) rules.Action)},
			BuildAction: func(a *rules.Action, args []any, _ bool) error {
				subject, _ := args[0].(string)
				if err := checkSubject(subject, false); err != nil {
					return fmt.Errorf("nats_publish: %w", err)
				}
				a.Kind, a.Event, a.Args = Kind, subject, args[1:2]
				return nil
			},
		}},
		Kinds:    []string{Kind},
		Executor: rules.ExecutorFunc(p.publish),
		Config:   &defaults,
		Source: &rules.Source{
			Prefix: Prefix,
			Doc:    "nats:SUBJECT reacts to the messages published on SUBJECT, where * matches one token and a final > the rest.",
			Check:  func(pattern string) error { return checkSubject(pattern, true) },
			Match:  Match,
			Apply:  p.apply,
			Stop:   p.stop,
		},
	}
}

// checkSubject refuses what NATS would: empty tokens, whitespace, and
// (unless wild) wildcards.
func checkSubject(s string, wild bool) error {
	if s == "" {
		return errors.New("empty subject")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("subject %q has whitespace", s)
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token", s)
		case !wild && (t == "*" || t == ">"):
			return fmt.Errorf("subject %q has a wildcard; publish to a plain subject", s)
		case t == ">" && i != len(tokens)-1:
			return fmt.Errorf("subject %q: > must be the last token", s)
		}
	}
	return nil
}

// Match reports whether a message on subject matches pattern, as NATS
// matches subscriptions: * is one token, a final > one or more.
func Match(pattern, subject string) bool {
	ps, ss := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range ps {
		if p == ">" {
			return len(ss) > i
		}
		if i >= len(ss) || (p != "*" && p != ss[i]) {
			return false
		}
	}
	return len(ps) == len(ss)
}

// apply connects when the rule set needs NATS (nats: rules, nats_publish
// or a plugins.nats section) and sets the subscriptions to run.Patterns.
func (p *Plugin) apply(_ context.Context, run rules.SourceRun) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return errors.New("nats: the plugin was stopped")
	}
	p.deliver, p.report, p.note = run.Deliver, run.Report, run.Note
	cfg := DefaultConfig()
	if c, ok := run.Config.(*Config); ok && c != nil {
		cfg = *c
	}
	needed := run.Config != nil || len(run.Patterns) > 0 || (run.Ruleset != nil && run.Ruleset.Calls("nats_publish"))
	if p.conn != nil && (!needed || cfg != p.made) {
		p.conn.Close()
		p.conn, p.subs = nil, map[string]*natsgo.Subscription{}
	}
	if !needed {
		return nil
	}
	if p.conn == nil {
		conn, err := p.connect(cfg)
		if err != nil {
			return fmt.Errorf("nats: connect: %w", err)
		}
		p.conn, p.made = conn, cfg
	}
	keep := map[string]bool{}
	var errs []error
	for _, pattern := range run.Patterns {
		keep[pattern] = true
		if _, ok := p.subs[pattern]; ok {
			continue
		}
		sub, err := p.conn.Subscribe(pattern, p.handler(pattern))
		if err != nil {
			errs = append(errs, fmt.Errorf("nats: subscribe %s: %w", pattern, err))
			continue
		}
		p.subs[pattern] = sub
		p.note("nats: subscribed to " + pattern)
	}
	for pattern, sub := range p.subs {
		if !keep[pattern] {
			if err := sub.Unsubscribe(); err != nil {
				errs = append(errs, fmt.Errorf("nats: unsubscribe %s: %w", pattern, err))
			}
			delete(p.subs, pattern)
			p.note("nats: unsubscribed from " + pattern)
		}
	}
	return errors.Join(errs...)
}

// connect dials cfg's servers, retrying in the background when none
// answers, and reports the connection's ups and downs.
func (p *Plugin) connect(cfg Config) (*natsgo.Conn, error) {
	report := func(err error) {
		p.mu.Lock()
		r := p.report
		p.mu.Unlock()
		r(err)
	}
	note := func(msg string) {
		p.mu.Lock()
		n := p.note
		p.mu.Unlock()
		n(msg)
	}
	return natsgo.Connect(cfg.URL,
		natsgo.Name(cfg.Name),
		natsgo.Timeout(cfg.ConnectTimeout),
		natsgo.ReconnectWait(cfg.ReconnectWait),
		natsgo.MaxReconnects(cfg.MaxReconnects),
		natsgo.RetryOnFailedConnect(true),
		natsgo.ConnectHandler(func(c *natsgo.Conn) { note("nats: connected to " + c.ConnectedUrlRedacted()) }),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) { note("nats: reconnected to " + c.ConnectedUrlRedacted()) }),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				report(fmt.Errorf("nats: disconnected: %w", err))
			}
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			if sub != nil {
				err = fmt.Errorf("subscription %s: %w", sub.Subject, err)
			}
			report(fmt.Errorf("nats: %w", err))
		}),
	)
}

// handler hands each message of the subscription to pattern to the rules.
func (p *Plugin) handler(pattern string) natsgo.MsgHandler {
	trigger := Prefix + ":" + pattern
	return func(m *natsgo.Msg) {
		meta := map[string]any{"reply": m.Reply}
		if len(m.Header) > 0 {
			h := make(map[string]any, len(m.Header))
			for k, v := range m.Header {
				if len(v) > 0 {
					h[k] = v[0]
				}
			}
			meta["headers"] = h
		}
		p.mu.Lock()
		deliver := p.deliver
		p.mu.Unlock()
		deliver(p.ctx, rules.SourceEvent(Prefix, trigger, m.Subject, Decode(m.Data), meta))
	}
}

// Decode returns a payload as data: its JSON value when it is JSON, else
// the text.
func Decode(b []byte) any {
	var v any
	if json.Valid(b) && json.Unmarshal(b, &v) == nil {
		return v
	}
	return string(b)
}

// publish executes nats_publish.
func (p *Plugin) publish(_ context.Context, _ rules.Effects, a rules.Action) error {
	conn := p.Conn()
	if conn == nil {
		return errors.New("nats_publish: no NATS connection")
	}
	var payload []byte
	switch v := a.Args[0].(type) {
	case string:
		payload = []byte(v)
	case []byte:
		payload = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("nats_publish: encode payload: %w", err)
		}
		payload = b
	}
	if err := conn.Publish(a.Event, payload); err != nil {
		return fmt.Errorf("nats_publish %s: %w", a.Event, err)
	}
	return nil
}

// stop flushes what was published and closes the connection.
func (p *Plugin) stop(ctx context.Context) error {
	p.cancel()
	p.mu.Lock()
	conn := p.conn
	p.conn, p.subs = nil, map[string]*natsgo.Subscription{}
	p.mu.Unlock()
	if conn == nil {
		return nil
	}
	defer conn.Close()
	if conn.IsConnected() {
		if err := conn.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("nats: flush: %w", err)
		}
	}
	return nil
}
