package router

import (
	"net"
	"net/netip"
)

// clientAddress returns the client's IP address, in canonical form, from a
// request's RemoteAddr ("host:port"); an IPv4-mapped IPv6 address becomes
// plain IPv4, so that one client has one key in per-address limits. An
// address that does not parse is returned as it is.
func clientAddress(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	return ip.Unmap().WithZone("").String()
}
