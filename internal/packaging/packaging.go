// Package packaging builds eventrouter's .deb and .rpm packages with nfpm,
// as a library, so that ./package.sh needs nothing but Go. The packages
// hold the binary, the hardened systemd unit (the one in examples/systemd,
// pointed at /usr/bin), the default config and its rule tests as
// conffiles, the config's JSON Schema, shell completions, the man page and
// the docs. Their maintainer scripts only make systemd re-read its units:
// installing starts and enables nothing, removing stops the service, and
// purging leaves nothing behind (the unit runs as a DynamicUser with no
// state directory, so there is no user and no data to remove).
package packaging

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// Name is the package's name, and the binary's.
const Name = "eventrouter"

// Where the packages install what the daemon reads.
const (
	BinaryPath = "/usr/bin/eventrouter"
	UnitPath   = "/lib/systemd/system/eventrouter.service" // the .deb's; the .rpm's is under /usr/lib
	ConfigDir  = "/etc/eventrouter"
	SchemaPath = "/usr/share/eventrouter/config.schema.json"
	DocDir     = "/usr/share/doc/eventrouter"
)

// Where the shell completions and the man page go.
const (
	BashCompletionPath = "/usr/share/bash-completion/completions/eventrouter"
	ZshCompletionPath  = "/usr/share/zsh/vendor-completions/_eventrouter" // the .deb's; the .rpm's is in site-functions
	FishCompletionPath = "/usr/share/fish/vendor_completions.d/eventrouter.fish"
	ManPagePath        = "/usr/share/man/man1/eventrouter.1.gz"
)

//go:embed scripts/*.sh
var scripts embed.FS

// versionPattern is what both dpkg and rpm take as a version without a
// release: a digit first, then letters, digits and . + ~ (no hyphen).
var versionPattern = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// Spec describes one build of the packages.
type Spec struct {
	// Version is the package version: 1.2.0, or 0.0.0~git20261201.3bcb2b2
	// for a build between releases (~ sorts before the release).
	Version string
	// Root is the repository's root, where config.yaml, README.md, docs/
	// and examples/systemd are read.
	Root string
	// Binary is the eventrouter binary to ship, built for linux/amd64.
	Binary string
	// Stage is a directory for the files made for the packages: the unit,
	// the config, completions, the man page.
	Stage string
	// MTime is every file's modification time, so that two builds of one
	// commit are the same bytes.
	MTime time.Time
}

// FileNames returns the names of the .deb and the .rpm of version.
func FileNames(version string) (deb, rpm string) {
	return fmt.Sprintf("%s_%s_amd64.deb", Name, version), fmt.Sprintf("%s-%s.x86_64.rpm", Name, version)
}

// Build writes the .deb and the .rpm of spec into outDir and returns
// their paths.
func Build(spec Spec, outDir string) ([]string, error) {
	if !versionPattern.MatchString(spec.Version) {
		return nil, fmt.Errorf("version %q: want a digit first, then letters, digits, '.', '+' or '~' (1.2.0, 0.0.0~git20261201.3bcb2b2)", spec.Version)
	}
	contents, err := stage(spec)
	if err != nil {
		return nil, fmt.Errorf("stage files: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("make output directory: %w", err)
	}
	debName, rpmName := FileNames(spec.Version)
	var out []string
	for _, p := range []struct{ format, name string }{{"deb", debName}, {"rpm", rpmName}} {
		path := filepath.Join(outDir, p.name)
		if err := write(spec, contents, p.format, path); err != nil {
			return nil, fmt.Errorf("build %s: %w", p.name, err)
		}
		out = append(out, path)
	}
	return out, nil
}

// write builds one package of format at path.
func write(spec Spec, contents files.Contents, format, path string) error {
	info := &nfpm.Info{
		Name:          Name,
		Arch:          "amd64",
		Platform:      "linux",
		Version:       spec.Version,
		VersionSchema: "none",
		Release:       "1",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    "The eventrouter authors <noreply@eventrouter.invalid>",
		Homepage:      "https://github.com/eventrouter/eventrouter",
		Description: "Socket.IO v4 event router programmed with a YAML file\n" +
			"eventrouter is a Socket.IO server whose behaviour is a list of rules in\n" +
			"/etc/eventrouter/config.yaml: every client event, connection and HTTP\n" +
			"request is routed to actions written as expr expressions. Runs as a\n" +
			"hardened systemd service (not enabled on install).",
		MTime: spec.MTime,
		Overridables: nfpm.Overridables{
			Contents: cloneContents(contents),
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(spec.Stage, "scripts", "postinstall.sh"),
				PreRemove:   filepath.Join(spec.Stage, "scripts", "preremove.sh"),
				PostRemove:  filepath.Join(spec.Stage, "scripts", "postremove.sh"),
			},
			RPM: nfpm.RPM{Summary: "Socket.IO v4 event router programmed with a YAML file", Group: "System Environment/Daemons", BuildHost: "eventrouter-package"},
		},
	}
	info = nfpm.WithDefaults(info)
	pkg, err := nfpm.Get(format)
	if err != nil {
		return fmt.Errorf("nfpm: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	info.Target = path
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// cloneContents copies contents: packaging changes them in place.
func cloneContents(in files.Contents) files.Contents {
	out := make(files.Contents, len(in))
	for i, c := range in {
		cc := *c
		if c.FileInfo != nil {
			fi := *c.FileInfo
			cc.FileInfo = &fi
		}
		out[i] = &cc
	}
	return out
}

// stage writes the files made for the packages into spec.Stage and
// returns every file the packages hold.
func stage(spec Spec) (files.Contents, error) {
	root := spec.Root
	if err := os.MkdirAll(filepath.Join(spec.Stage, "scripts"), 0o755); err != nil {
		return nil, err
	}
	for _, name := range []string{"postinstall.sh", "preremove.sh", "postremove.sh"} {
		b, err := scripts.ReadFile("scripts/" + name)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(spec.Stage, "scripts", name), b, 0o755); err != nil {
			return nil, err
		}
	}

	unit, err := os.ReadFile(filepath.Join(root, "examples", "systemd", "eventrouter.service"))
	if err != nil {
		return nil, err
	}
	packagedUnit, err := PackagedUnit(unit)
	if err != nil {
		return nil, fmt.Errorf("examples/systemd/eventrouter.service: %w", err)
	}
	config, err := os.ReadFile(filepath.Join(root, "config.yaml"))
	if err != nil {
		return nil, err
	}
	packagedConfig, err := PackagedConfig(config)
	if err != nil {
		return nil, fmt.Errorf("config.yaml: %w", err)
	}
	made := map[string][]byte{"eventrouter.service": packagedUnit, "config.yaml": packagedConfig}
	for name, b := range made {
		if err := os.WriteFile(filepath.Join(spec.Stage, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	generated, err := generate(spec)
	if err != nil {
		return nil, err
	}

	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: spec.MTime}}
	}
	conffile := func(src, dst string) *files.Content {
		c := file(src, dst, 0o644)
		c.Type = files.TypeConfigNoReplace
		return c
	}
	contents := files.Contents{
		file(spec.Binary, BinaryPath, 0o755),
		only("deb", file(filepath.Join(spec.Stage, "eventrouter.service"), UnitPath, 0o644)),
		only("rpm", file(filepath.Join(spec.Stage, "eventrouter.service"), rpmPath(UnitPath), 0o644)),
		conffile(filepath.Join(spec.Stage, "config.yaml"), ConfigDir+"/config.yaml"),
		conffile(filepath.Join(root, "config_test.yaml"), ConfigDir+"/config_test.yaml"),
		file(filepath.Join(root, "schema", "config.schema.json"), SchemaPath, 0o644),
		file(filepath.Join(root, "README.md"), DocDir+"/README.md", 0o644),
		file(filepath.Join(root, "examples", "systemd", "eventrouter.service"), DocDir+"/examples/systemd/eventrouter.service", 0o644),
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, errors.New("no docs/*.md")
	}
	for _, d := range docs {
		contents = append(contents, file(d, DocDir+"/docs/"+filepath.Base(d), 0o644))
	}
	for dst, src := range generated {
		if rpmPath(dst) != dst {
			contents = append(contents, only("deb", file(src, dst, 0o644)), only("rpm", file(src, rpmPath(dst), 0o644)))
			continue
		}
		contents = append(contents, file(src, dst, 0o644))
	}
	return contents, nil
}

// only restricts c to the packages of one format.
func only(format string, c *files.Content) *files.Content {
	c.Packager = format
	return c
}

// rpmPath returns where the .rpm puts what the .deb puts at path, for the
// paths where Fedora and RHEL differ from Debian.
func rpmPath(path string) string {
	switch path {
	case UnitPath:
		return "/usr" + UnitPath
	case ZshCompletionPath:
		return "/usr/share/zsh/site-functions/_eventrouter"
	}
	return path
}

// generate writes what the binary itself makes, from its own command
// table: shell completions and the man page. It returns their staged
// paths by destination.
func generate(spec Spec) (map[string]string, error) {
	out := map[string]string{}
	for _, g := range []struct {
		args []string
		dst  string
	}{
		{[]string{"completion", "bash"}, BashCompletionPath},
		{[]string{"completion", "zsh"}, ZshCompletionPath},
		{[]string{"completion", "fish"}, FishCompletionPath},
		{[]string{"man"}, ManPagePath},
	} {
		cmd := exec.Command(spec.Binary, g.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", spec.Binary, strings.Join(g.args, " "), err, stderr.String())
		}
		if strings.HasSuffix(g.dst, ".gz") {
			if b, err = gzipped(b); err != nil {
				return nil, err
			}
		}
		src := filepath.Join(spec.Stage, filepath.Base(g.dst))
		if err := os.WriteFile(src, b, 0o644); err != nil {
			return nil, err
		}
		out[g.dst] = src
	}
	return out, nil
}

// gzipped compresses b as gzip -9n does: no name, no time, so the same
// page is the same bytes.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PackagedUnit returns the unit of examples/systemd as the packages
// install it: the binary at /usr/bin, and the install notes for a build by
// hand replaced with a package's.
func PackagedUnit(unit []byte) ([]byte, error) {
	s := string(unit)
	i := strings.Index(s, "[Unit]")
	if i < 0 {
		return nil, errors.New("no [Unit] section")
	}
	body := s[i:]
	if n := strings.Count(body, "/usr/local/bin/eventrouter "); n < 3 {
		return nil, fmt.Errorf("want /usr/local/bin/eventrouter in ExecStartPre, ExecStart and ExecReload, found it %d time(s)", n)
	}
	body = strings.ReplaceAll(body, "/usr/local/bin/eventrouter ", BinaryPath+" ")
	if !strings.Contains(body, "--config "+ConfigDir+"/config.yaml") {
		return nil, fmt.Errorf("the unit does not read %s/config.yaml", ConfigDir)
	}
	header := `# eventrouter as a systemd service, installed by the eventrouter package.
# The package neither enables nor starts it. Edit /etc/eventrouter/config.yaml
# and its rule tests /etc/eventrouter/config_test.yaml, then:
#   systemctl enable --now eventrouter
# Reload after editing: systemctl reload eventrouter
# Change settings with "systemctl edit eventrouter" rather than this file,
# which an upgrade replaces.

`
	return []byte(header + body), nil
}

// modeline starts a config's first line that names its JSON Schema.
const modeline = "# yaml-language-server: $schema="

// PackagedConfig returns config.yaml as the packages install it: its
// modeline names the schema the package installs.
func PackagedConfig(config []byte) ([]byte, error) {
	first, rest, _ := bytes.Cut(config, []byte("\n"))
	if !bytes.HasPrefix(first, []byte(modeline)) {
		return nil, fmt.Errorf("first line %q is not %s...", first, modeline)
	}
	return append([]byte(modeline+SchemaPath+"\n"), rest...), nil
}
