package router

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/router/adminui"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"go.uber.org/zap"
)

// startAdminUI binds the Socket.IO Admin UI's namespace when admin_ui is
// enabled (see router/adminui). Without it r.adminUI stays nil and every
// hook is a nil check.
func (r *Router) startAdminUI(cfg rules.AdminUIConfig) error {
	if !cfg.Enabled {
		return nil
	}
	serverID := cfg.ServerID
	if serverID == "" && r.cluster != nil {
		serverID = r.cluster.NodeID()
	}
	a, err := adminui.New(r.io, adminHost{r}, adminui.Options{
		Namespace:    cfg.Namespace,
		Username:     cfg.Auth.Username,
		PasswordHash: cfg.Auth.PasswordHash,
		Readonly:     cfg.Readonly,
		Development:  cfg.Mode == rules.AdminUIDevelopment,
		ServerID:     serverID,
		Clustered:    r.cluster != nil,
		Logger:       r.log,
	})
	if err != nil {
		return fmt.Errorf("admin_ui: %w", err)
	}
	r.adminUI = a
	if cfg.Auth.Disabled {
		r.log.Warn("admin_ui.auth.disabled: the Admin UI namespace takes no login; whoever reaches it can see and disconnect every socket",
			zap.String("namespace", cfg.Namespace))
	}
	r.log.Info("Admin UI namespace bound", zap.String("namespace", cfg.Namespace), zap.String("mode", cfg.Mode), zap.Bool("readonly", cfg.Readonly))
	return nil
}

// adminHost is what the Admin UI reads from the router.
type adminHost struct{ r *Router }

var _ adminui.Host = adminHost{}

// Namespaces returns the bound client namespaces, by name.
func (h adminHost) Namespaces() []socket.Namespace {
	h.r.nspMu.Lock()
	out := make([]socket.Namespace, 0, len(h.r.nsps))
	for _, ns := range h.r.nsps {
		out = append(out, ns)
	}
	h.r.nspMu.Unlock()
	slices.SortFunc(out, func(a, b socket.Namespace) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// ClientAddress is s's client address under server.trusted_proxies.
func (h adminHost) ClientAddress(s *socket.Socket) string {
	return h.r.rt.Load().connAddr(s.Conn())
}

// ServerDisconnecting marks the sockets the UI is about to disconnect, so
// their disconnect rules read "server namespace disconnect".
func (h adminHost) ServerDisconnecting(nsp socket.Namespace, room string) {
	markServerDisconnect(nsp, room)
}

// OtherSockets lists nsp's sockets on the other nodes of the cluster.
func (h adminHost) OtherSockets(ctx context.Context, nsp socket.Namespace) ([]adminui.RemoteSocket, error) {
	if h.r.cluster == nil {
		return nil, nil
	}
	others, err := h.r.cluster.OtherSockets(ctx, nsp)
	if err != nil {
		return nil, fmt.Errorf("list the other nodes' sockets: %w", err)
	}
	out := make([]adminui.RemoteSocket, 0, len(others))
	for _, o := range others {
		rs := adminui.RemoteSocket{ID: o.ID, Rooms: o.Rooms, Handshake: o.Handshake}
		if m, ok := o.Data.(map[string]any); ok {
			rs.Data, _ = m["state"].(map[string]any)
		}
		out = append(out, rs)
	}
	return out, nil
}

// SocketData is s's socket.state.
func (h adminHost) SocketData(s *socket.Socket) map[string]any {
	if st, ok := s.Data().(*connState); ok {
		return st.snapshot()
	}
	return nil
}
