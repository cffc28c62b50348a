package router

import (
	"net/http"
	"testing"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
)

func TestClientAddr(t *testing.T) {
	rt := &Runtime{trusted: trustedProxies([]string{"10.0.0.0/8", "192.0.2.7", "::1"})}
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"untrusted peer: header ignored", "198.51.100.1:5000", []string{"203.0.113.5"}, "198.51.100.1"},
		{"trusted proxy", "10.1.2.3:5000", []string{"203.0.113.5"}, "203.0.113.5"},
		{"chain of trusted proxies", "192.0.2.7:5000", []string{"203.0.113.5, 10.0.0.1", "10.0.0.2"}, "203.0.113.5"},
		{"forged entries left of the client", "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.5"}, "203.0.113.5"},
		{"garbage stops the walk", "10.1.2.3:5000", []string{"203.0.113.5, nonsense"}, "10.1.2.3"},
		{"no header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"all trusted", "10.1.2.3:5000", []string{"10.9.9.9"}, "10.9.9.9"},
		{"IPv6 loopback proxy", "[::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"IPv4-mapped peer", "[::ffff:198.51.100.1]:5000", nil, "198.51.100.1"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", "/socket.io/", nil)
		for _, v := range tc.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if got := rt.clientAddr(tc.remote, req.Header); got != tc.want {
			t.Errorf("%s: %q", tc.name, got)
		}
	}
}

// TestConnCounter: a slot released from several paths counts once.
func TestConnCounter(t *testing.T) {
	var c connCounter
	a, _ := c.reserve("a", 3, 2)
	b, _ := c.reserve("a", 3, 2)
	if _, limit := c.reserve("a", 3, 2); limit != limitConnectionsIP {
		t.Errorf("third from a: %q, want %s", limit, limitConnectionsIP)
	}
	x, _ := c.reserve("b", 3, 2)
	if _, limit := c.reserve("c", 3, 2); limit != limitConnections {
		t.Errorf("fourth: %q, want %s", limit, limitConnections)
	}
	p := &peer{}
	p.hold(a)
	a.release()
	p.close()
	a.release()
	p.hold(b) // closed: released at once
	x.release()
	if total, from := c.counts("a"); total != 0 || from != 0 {
		t.Errorf("counts %d, %d after every release, want 0, 0", total, from)
	}
}

// BenchmarkAdmitEvent is the limits' cost per event: off, and on with the
// socket's bucket (the default limits). Neither allocates.
func BenchmarkAdmitEvent(b *testing.B) {
	for _, bc := range []struct {
		name   string
		limits rules.LimitsConfig
		event  string
	}{
		{"off", rules.LimitsConfig{}, "send_message"},
		{"socket", rules.Defaults().Limits, "send_message"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rs, err := rules.Load("../config.yaml", builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
			if err != nil {
				b.Fatal(err)
			}
			rs.Config.Limits = bc.limits
			rs.Config.Limits.EventsPerSecond = 1e12 // never refuses
			if bc.name == "off" {
				rs.Config.Limits.EventsPerSecond = 0
			}
			r := &Router{log: zap.NewNop(), metrics: newMetrics()}
			rt := &Runtime{Rules: rs}
			st := &connState{}
			b.ReportAllocs()
			for b.Loop() {
				if !r.admitEvent(rt, nil, st, "/", bc.event, 1, nil) {
					b.Fatal("refused")
				}
			}
		})
	}
}
