package router

import (
	"fmt"
	"slices"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// serverView is the read-only view of the router's rooms that rules read
// through room_size and socket_rooms. It reads this node's sockets only.
type serverView struct{ r *Router }

var _ rules.ServerView = serverView{}

// RoomSize counts the sockets in room of namespace on this node.
func (v serverView) RoomSize(namespace, room string) int {
	nsp := v.r.namespace(namespace)
	if nsp == nil {
		return 0
	}
	ids, ok := nsp.Adapter().Rooms().Load(socket.Room(room))
	if !ok {
		return 0
	}
	return ids.Len()
}

// SocketRooms lists the rooms of socket id in namespace, sorted.
func (v serverView) SocketRooms(namespace, id string) []string {
	nsp := v.r.namespace(namespace)
	if nsp == nil {
		return nil
	}
	set := nsp.Adapter().SocketRooms(socket.SocketId(id))
	if set == nil {
		return nil
	}
	out := make([]string, 0, set.Len())
	for _, room := range set.Keys() {
		out = append(out, string(room))
	}
	slices.Sort(out)
	return out
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
	nsp.In(socket.Room(room)).DisconnectSockets(false)
	return nil
}
