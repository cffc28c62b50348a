package router

import (
	"net"
	"net/http"
	"net/netip"
)

// clientAddr is the address of a client whose connection comes from
// remote ("host:port"), in canonical form: an IPv4-mapped IPv6 address
// becomes plain IPv4, without a zone, so that one client has one key in
// per-address limits. An address that does not parse is returned as it is.
//
// header is for X-Forwarded-For: the socket limits work (branch
// socklimits) brings server.trusted_proxies and the same method honouring
// it; when both branches meet, theirs replaces this file, and the HTTP rate
// limit follows trusted proxies with no other change.
func (rt *Runtime) clientAddr(remote string, header http.Header) string {
	_ = header // no trusted proxies yet: the peer is the client
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	return ip.Unmap().WithZone("").String()
}
