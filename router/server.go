package router

import (
	"context"
	"fmt"
	"slices"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// serverView is the read-only view of the router's rooms that rules read
// through room_size and socket_rooms. A single node reads its own rooms;
// a cluster node asks every node (see cluster.Cluster.RoomSize).
type serverView struct{ r *Router }

var _ rules.ServerView = serverView{}

// RoomSize counts the sockets in room of namespace.
func (v serverView) RoomSize(namespace, room string) (int, error) {
	nsp := v.r.namespace(namespace)
	if nsp == nil {
		return 0, nil
	}
	if c := v.r.cluster; c != nil {
		return c.RoomSize(context.Background(), nsp, room)
	}
	ids, ok := nsp.Adapter().Rooms().Load(socket.Room(room))
	if !ok {
		return 0, nil
	}
	return ids.Len(), nil
}

// SocketRooms lists the rooms of socket id in namespace, sorted.
func (v serverView) SocketRooms(namespace, id string) ([]string, error) {
	nsp := v.r.namespace(namespace)
	if nsp == nil {
		return nil, nil
	}
	var out []string
	if c := v.r.cluster; c != nil {
		rooms, err := c.SocketRooms(context.Background(), nsp, id)
		if err != nil {
			return nil, err
		}
		out = rooms
	} else {
		set := nsp.Adapter().SocketRooms(socket.SocketId(id))
		if set == nil {
			return nil, nil
		}
		out = make([]string, 0, set.Len())
		for _, room := range set.Keys() {
			out = append(out, string(room))
		}
	}
	slices.Sort(out)
	return out, nil
}

// namespace returns the bound namespace called name, or nil. It never
// creates one, as the library's Of would.
func (r *Router) namespace(name string) socket.Namespace {
	r.nspMu.Lock()
	defer r.nspMu.Unlock()
	return r.nsps[name]
}

// disconnectRoom closes every socket in room of namespace.
func (r *Router) disconnectRoom(namespace, room string) error {
	nsp := r.namespace(namespace)
	if nsp == nil {
		return fmt.Errorf("disconnect_room: namespace %q is not declared", namespace)
	}
	markServerDisconnect(nsp, room)
	nsp.In(socket.Room(room)).DisconnectSockets(false)
	return nil
}

// markServerDisconnect gives this node's sockets in room of nsp (every
// socket of nsp when room is "") the server's disconnect reason, before
// the server closes them. The library closes each socket, and the client
// answers with its transport's close, which the library can report first
// (see lifecycle.go); marked, their disconnect rules read the server's
// reason every time.
func markServerDisconnect(nsp socket.Namespace, room string) {
	mark := func(id socket.SocketId) {
		if s, ok := nsp.Sockets().Load(id); ok {
			stateOf(s).setReason(serverDisconnectReason)
		}
	}
	if room == "" {
		nsp.Sockets().Range(func(id socket.SocketId, _ *socket.Socket) bool {
			mark(id)
			return true
		})
		return
	}
	if ids, ok := nsp.Adapter().Rooms().Load(socket.Room(room)); ok {
		for _, id := range ids.Keys() {
			mark(id)
		}
	}
}

// serverDisconnectReason is the reason Socket.IO gives a socket the server
// disconnects.
const serverDisconnectReason = "server namespace disconnect"
