package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// AdminUIConfig turns on the server side of the official Socket.IO Admin
// UI (@socket.io/admin-ui): a namespace of its own that serves server
// stats, the socket list with rooms and handshakes, live events, and the
// join, leave, disconnect and emit actions. It is off unless enabled, and
// then costs nothing: no namespace, no hooks.
type AdminUIConfig struct {
	Enabled   bool              `koanf:"enabled" doc:"serve the Socket.IO Admin UI's namespace; off by default"`
	Namespace string            `koanf:"namespace" doc:"the namespace the Admin UI connects to; it must not be one of namespaces"`
	Auth      AdminUIAuthConfig `koanf:"auth" doc:"how the Admin UI logs in: username and bcrypt password_hash, or disabled: true"`
	Readonly  bool              `koanf:"readonly" doc:"refuse the UI's join, leave, disconnect and emit actions"`
	Mode      string            `koanf:"mode" doc:"development (the socket list and live events) or production (server stats only)"`
	ServerID  string            `koanf:"server_id" doc:"the server's name in the UI; empty means cluster.node_id on a cluster, else the host name"`
}

// AdminUIAuthConfig is the Admin UI's login: the basic authentication of
// the official instrument(), or none when disabled is set explicitly.
type AdminUIAuthConfig struct {
	Username     string `koanf:"username" doc:"the login name the Admin UI sends"`
	PasswordHash string `koanf:"password_hash" json:"-" doc:"the bcrypt hash of the password (eventrouter hash-password makes one); a secret, never printed"`
	Disabled     bool   `koanf:"disabled" doc:"run the Admin UI without a login, as instrument({auth: false}); anyone who reaches the namespace may act on every socket"`
}

// The values of AdminUIConfig.Mode.
const (
	AdminUIDevelopment = "development"
	AdminUIProduction  = "production"
)

// validateAdminUI checks the admin_ui settings; off, it checks nothing.
func validateAdminUI(ps skipFailed, cfg *Config) {
	a := cfg.AdminUI
	if !a.Enabled {
		return
	}
	if !strings.HasPrefix(a.Namespace, "/") {
		ps.add("admin_ui.namespace", "", "admin_ui.namespace: must start with /, got %q", a.Namespace)
	} else if i := slices.Index(cfg.Namespaces, a.Namespace); i >= 0 {
		ps.add(fmt.Sprintf("namespaces[%d]", i), "", "namespaces: %q is the Admin UI's namespace (admin_ui.namespace); it needs one of its own", a.Namespace)
	}
	switch a.Mode {
	case AdminUIDevelopment, AdminUIProduction:
	default:
		ps.add("admin_ui.mode", "", "admin_ui.mode: want development or production, got %q%s", a.Mode, DidYouMean(a.Mode, []string{AdminUIDevelopment, AdminUIProduction}))
	}
	au := a.Auth
	switch {
	case au.Disabled && (au.Username != "" || au.PasswordHash != ""):
		ps.add("admin_ui.auth.disabled", "", "admin_ui.auth: disabled is set, and so are username or password_hash; choose one")
	case au.Disabled:
	case au.Username == "" && au.PasswordHash == "":
		ps.add("admin_ui.enabled", "", "admin_ui.auth: required when admin_ui is enabled: set username and password_hash, or disabled: true to run without a login")
	case au.Username == "":
		ps.add("admin_ui.auth.password_hash", "", "admin_ui.auth.username: required with password_hash")
	case au.PasswordHash == "":
		ps.add("admin_ui.auth.username", "", "admin_ui.auth.password_hash: required with username (eventrouter hash-password makes one)")
	default:
		if _, err := bcrypt.Cost([]byte(au.PasswordHash)); err != nil {
			// The message never shows the hash.
			ps.add("admin_ui.auth.password_hash", "", "admin_ui.auth.password_hash: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters): %s", bcryptProblem(err))
		}
	}
}

// bcryptProblem says what is wrong with a hash without quoting it.
func bcryptProblem(err error) string {
	var prefix bcrypt.InvalidHashPrefixError
	var version bcrypt.HashVersionTooNewError
	var cost bcrypt.InvalidCostError
	switch {
	case errors.Is(err, bcrypt.ErrHashTooShort):
		return "too short"
	case errors.As(err, &prefix):
		return "it must start with $"
	case errors.As(err, &version):
		return "unknown version"
	case errors.As(err, &cost):
		return fmt.Sprintf("cost %d is out of range (4 to 31)", int(cost))
	}
	return "malformed"
}
