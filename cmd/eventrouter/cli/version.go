package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// build names one binary: its version, the commit it was built from and
// the Go toolchain that built it.
type build struct {
	version  string // a release ("1.2.0", "v1.2.0") or DefaultVersion
	commit   string // a VCS revision, "-modified" when the tree had changes; "" if unknown
	time     string // the commit's time (RFC 3339), when the go command stamped it
	goString string // "go1.26.8 linux/amd64"
}

// resolveBuild combines what -ldflags set (version and commit, "" when
// not set) with the build information the go command stamps into every
// binary: a module version when it was installed at a release (go install
// ...@v1.2.0), and the VCS revision of a build in a clone. read is
// debug.ReadBuildInfo.
func resolveBuild(version, commit string, read func() (*debug.BuildInfo, bool)) build {
	b := build{version: version, commit: commit, goString: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := read()
	if ok && info.GoVersion != "" {
		b.goString = info.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
	}
	if b.version == "" {
		b.version = DefaultVersion
		if ok && isRelease(info.Main.Version) {
			b.version = info.Main.Version
		}
	}
	if ok {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if b.commit == "" && settings["vcs.revision"] != "" {
			b.commit = settings["vcs.revision"]
			if settings["vcs.modified"] == "true" {
				b.commit += "-modified"
			}
		}
		b.time = settings["vcs.time"]
	}
	return b
}

// noBuildInfo stands in for debug.ReadBuildInfo where the output must not
// depend on how the binary was built (the man page).
func noBuildInfo() (*debug.BuildInfo, bool) { return nil, false }

// isRelease reports whether a module version names a release: not
// "(devel)", not a pseudo-version made from a commit, not a dirty tree.
func isRelease(v string) bool {
	if v == "" || v == "(devel)" || strings.Contains(v, "+") {
		return false
	}
	return !pseudoVersion.MatchString(v)
}

// pseudoVersion matches the end of every form of Go pseudo-version:
// v0.0.0-20261201031405-b87e9f2520db, v1.4.1-0.20261201031405-b87e9f2520db.
var pseudoVersion = regexp.MustCompile(`[-.][0-9]{14}-[0-9a-f]{12}$`)

// String writes the build as "eventrouter version" prints it.
func (b build) String() string {
	commit := b.commit
	if commit == "" {
		commit = "unknown"
	}
	if b.time != "" {
		commit += " (" + b.time + ")"
	}
	return fmt.Sprintf("eventrouter %s\ncommit: %s\ngo: %s\n", b.version, commit, b.goString)
}

// runVersion prints the version, the commit and the Go version.
func (a *app) runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter version

Prints the version of this binary, the commit it was built from and the Go
version that built it. Packages (package.sh) set the version and commit at
build time; a plain "go build" of a clone says devel, with the revision of
the clone ("-modified" when it had uncommitted changes).
`)
	}
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	fmt.Fprint(stdout, resolveBuild(a.version, a.commit, debug.ReadBuildInfo))
	return 0
}
