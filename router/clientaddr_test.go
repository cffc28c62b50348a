package router

import "testing"

func TestClientAddrWithoutProxies(t *testing.T) {
	rt := &Runtime{}
	tests := []struct{ remote, want string }{
		{"192.0.2.1:4321", "192.0.2.1"},
		{"[2001:db8::1]:4321", "2001:db8::1"},
		{"[::ffff:192.0.2.1]:4321", "192.0.2.1"},
		{"[fe80::1%eth0]:4321", "fe80::1"},
		{"192.0.2.1", "192.0.2.1"},
		{"@", "@"}, // a unix socket peer
	}
	for _, tc := range tests {
		if got := rt.clientAddr(tc.remote, nil); got != tc.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
