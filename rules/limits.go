package rules

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// EventLimit is the event rate limit a rule sets for its event (the rule's
// limits key), in place of limits.events_per_second and limits.events_burst.
type EventLimit struct {
	// Rule names the rule that sets it; each socket has one bucket per rule.
	Rule string
	// PerSecond is the average rate; Burst the events allowed at once.
	PerSecond float64
	Burst     int
}

// eventKey names one socket event in one namespace.
type eventKey struct{ ns, name string }

// EventLimit returns the limit a rule sets for event name in namespace ns,
// or nil when the socket's own limit applies. It does not allocate.
func (rs *Ruleset) EventLimit(ns, name string) *EventLimit {
	if len(rs.limits) == 0 {
		return nil
	}
	return rs.limits[eventKey{ns, name}]
}

// checkRuleLimits validates a rule's limits key and records the limit for
// its event. Only one rule may set limits for an event, and only a rule on
// a named socket event: the limit is chosen by the event's name before any
// rule runs, whether or not the rule's when then holds.
func (rs *Ruleset) checkRuleLimits(ps *problems, r *Rule, key string) {
	l := r.Spec.Limits
	if !l.Set() {
		return
	}
	key += ".limits"
	switch {
	case r.Kind == 0:
		return // the trigger was reported already
	case r.Kind != TriggerEvent:
		ps.add(key, r.Name, "limits: only a rule on a socket event can set limits, not one on %s", r.On)
		return
	case r.On == "*":
		ps.add(key, r.Name, "limits: a rule on * cannot set limits; set them on the rule of each event, or use limits.events_per_second")
		return
	}
	ok := true
	if !(l.EventsPerSecond > 0) || math.IsInf(l.EventsPerSecond, 0) {
		ps.add(key+".events_per_second", r.Name, "limits.events_per_second: must be a positive number of events per second, got %v", l.EventsPerSecond)
		ok = false
	}
	if l.EventsBurst < 0 {
		ps.add(key+".events_burst", r.Name, "limits.events_burst: must not be negative, got %d", l.EventsBurst)
		ok = false
	}
	k := eventKey{r.Namespace, r.On}
	if prev, dup := rs.limits[k]; dup {
		ps.add(key, r.Name, "limits: event %q in namespace %s already has limits from rule %q; set them on one rule only", r.On, r.Namespace, prev.Rule)
		return
	}
	if !ok {
		return
	}
	burst := l.EventsBurst
	if burst == 0 {
		burst = int(math.Max(1, math.Ceil(2*l.EventsPerSecond)))
	}
	if rs.limits == nil {
		rs.limits = map[eventKey]*EventLimit{}
	}
	rs.limits[k] = &EventLimit{Rule: r.Name, PerSecond: l.EventsPerSecond, Burst: burst}
}

// validateLimits checks limits.* and server.trusted_proxies.
func validateLimits(ps skipFailed, cfg *Config) {
	l := cfg.Limits
	if l.EventsPerSecond < 0 || math.IsNaN(l.EventsPerSecond) || math.IsInf(l.EventsPerSecond, 0) {
		ps.add("limits.events_per_second", "", "limits.events_per_second: must be a number of events per second, 0 for no limit; got %v", l.EventsPerSecond)
	}
	if l.EventsPerSecond > 0 && l.EventsBurst < 1 {
		ps.add("limits.events_burst", "", "limits.events_burst: must be at least 1 while limits.events_per_second is set, got %d", l.EventsBurst)
	}
	switch l.OnExceed {
	case OnExceedDrop, OnExceedDisconnect:
	default:
		ps.add("limits.on_exceed", "", "limits.on_exceed: want %s or %s, got %q%s", OnExceedDrop, OnExceedDisconnect, l.OnExceed, DidYouMean(l.OnExceed, []string{OnExceedDrop, OnExceedDisconnect}))
	}
	for _, c := range []struct {
		key string
		v   int
	}{{"limits.max_connections", l.MaxConnections}, {"limits.max_connections_per_ip", l.MaxConnectionsPerIP}, {"limits.max_rooms_per_socket", l.MaxRoomsPerSocket}, {"limits.max_event_args", l.MaxEventArgs}} {
		if c.v < 0 {
			ps.add(c.key, "", "%s: must not be negative (0 means no limit), got %d", c.key, c.v)
		}
	}
	for i, p := range cfg.Server.TrustedProxies {
		if _, err := ParseTrustedProxy(p); err != nil {
			ps.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "", "server.trusted_proxies: %v", err)
		}
	}
}

// ParseTrustedProxy parses one server.trusted_proxies entry: an IP address
// (a proxy) or a CIDR (a network of proxies).
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR such as 10.0.0.0/8", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}
