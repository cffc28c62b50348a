package cli

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestResolveBuild checks where each part of "eventrouter version" comes
// from: -ldflags first, then the build information the go command stamps.
func TestResolveBuild(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-01T03:14:05Z"}, {Key: "vcs.modified", Value: modified}}
	}
	cases := []struct {
		name            string
		version, commit string // as -ldflags set them
		info            *debug.BuildInfo
		wantVersion     string
		wantCommit      string
	}{
		{"ldflags win", "1.2.0", "abc123", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs("fff", "false")}, "1.2.0", "abc123"},
		{"plain go build in a clone", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201031405-b87e9f2520db"}, Settings: vcs("b87e9f2520db", "false")}, DefaultVersion, "b87e9f2520db"},
		{"modified tree", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201031405-b87e9f2520db+dirty"}, Settings: vcs("b87e9f2520db", "true")}, DefaultVersion, "b87e9f2520db-modified"},
		{"go install at a release", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0", ""},
		{"pseudo-version after a tag", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.1-0.20261201031405-b87e9f2520db"}}, DefaultVersion, ""},
		{"no VCS (-buildvcs=false)", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, DefaultVersion, ""},
		{"ldflags version, VCS commit", "1.2.0", "", &debug.BuildInfo{Settings: vcs("b87e9f2520db", "false")}, "1.2.0", "b87e9f2520db"},
		{"no build information", "", "", nil, DefaultVersion, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := resolveBuild(c.version, c.commit, func() (*debug.BuildInfo, bool) { return c.info, c.info != nil })
			if b.version != c.wantVersion || b.commit != c.wantCommit {
				t.Errorf("got version %q commit %q, want %q and %q", b.version, b.commit, c.wantVersion, c.wantCommit)
			}
			if want := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH; b.goString != want {
				t.Errorf("go: got %q, want %q", b.goString, want)
			}
		})
	}
}
