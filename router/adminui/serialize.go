package adminui

import (
	"net"
	"strings"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// serialize is a socket as the UI lists it (SerializedSocket).
func (a *Server) serialize(s *socket.Socket) map[string]any {
	hs := map[string]any{}
	if h := s.Handshake(); h != nil {
		hs = handshake(h, a.host.ClientAddress(s))
	}
	clientID := s.Conn().Id()
	if len(clientID) > 12 {
		clientID = clientID[:12]
	}
	return map[string]any{
		"id":        string(s.Id()),
		"clientId":  clientID,
		"transport": transportName(s),
		"nsp":       s.Nsp().Name(),
		"data":      a.data(s),
		"handshake": hs,
		"rooms":     roomList(s.Rooms()),
	}
}

// serializeRemote is a socket of another node as the UI lists it: its
// transport and client id do not travel, and its address is the one its
// node's library recorded.
func serializeRemote(nsp string, rs RemoteSocket) map[string]any {
	hs := map[string]any{}
	if h := rs.Handshake; h != nil {
		address := h.Address
		if host, _, err := net.SplitHostPort(address); err == nil {
			address = host
		}
		hs = handshake(h, address)
	}
	data := rs.Data
	if data == nil {
		data = map[string]any{}
	}
	rooms := []any{}
	for _, r := range rs.Rooms {
		rooms = append(rooms, r)
	}
	return map[string]any{
		"id":        rs.ID,
		"clientId":  "",
		"transport": "",
		"nsp":       nsp,
		"data":      data,
		"handshake": hs,
		"rooms":     rooms,
	}
}

// handshake is a socket's handshake as the UI shows it, with its client
// address.
func handshake(h *socket.Handshake, address string) map[string]any {
	return map[string]any{
		"address": address,
		"headers": flatten(h.Headers, true),
		"query":   flatten(h.Query, false),
		"issued":  h.Issued,
		"secure":  h.Secure,
		"time":    h.Time,
		"url":     h.Url,
		"xdomain": h.Xdomain,
	}
}

// roomList is a set of rooms as a JSON list, never nil.
func roomList(set *types.Set[socket.Room]) []any {
	rooms := []any{}
	if set != nil {
		for _, r := range set.Keys() {
			rooms = append(rooms, string(r))
		}
	}
	return rooms
}

// data is the socket's data for the UI, never nil.
func (a *Server) data(s *socket.Socket) map[string]any {
	if s.Nsp().Name() == a.opts.Namespace {
		return map[string]any{}
	}
	if d := a.host.SocketData(s); d != nil {
		return d
	}
	return map[string]any{}
}

// transportName is the socket's current transport.
func transportName(s *socket.Socket) string {
	if t := s.Conn().Transport(); t != nil {
		return t.Name()
	}
	return ""
}

// flatten turns the library's header or query map (string or []string
// values; []any once another node's handshake went through msgpack) into
// what Node shows: one string per key, several values as a list for a
// query and joined for a header, header names in lower case.
func flatten(m map[string]any, header bool) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if header {
			k = strings.ToLower(k)
		}
		var list []string
		switch x := v.(type) {
		case []string:
			list = x
		case []any:
			for _, item := range x {
				s, _ := item.(string)
				list = append(list, s)
			}
		default:
			out[k] = v
			continue
		}
		switch {
		case len(list) == 1:
			out[k] = list[0]
		case header:
			out[k] = strings.Join(list, ", ")
		default:
			l := make([]any, len(list))
			for i, s := range list {
				l[i] = s
			}
			out[k] = l
		}
	}
	return out
}
