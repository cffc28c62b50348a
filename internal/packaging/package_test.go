package packaging

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testVersion is the version the tests build: ~ as between releases.
const testVersion = "0.0.0~test1"

// buildPackages runs ./package.sh, as an operator would, into a
// temporary directory and returns the paths of the .deb and the .rpm.
func buildPackages(t *testing.T) (deb, rpm string) {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("./package.sh")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "OUT="+out, "VERSION="+testVersion)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("./package.sh: %v\n%s", err, b)
	}
	debName, rpmName := FileNames(testVersion)
	deb, rpm = filepath.Join(out, debName), filepath.Join(out, rpmName)
	for _, p := range []string{deb, rpm} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("package.sh did not write %s: %v", filepath.Base(p), err)
		}
	}
	return deb, rpm
}

// run runs a command and returns its standard output; it fails the test
// when the command fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, &stderr)
	}
	return string(out)
}

// TestPackages builds the packages with ./package.sh and checks them as
// an install would see them: the .deb's files, control data, conffiles
// and scripts, then its binary run against its own config; the .rpm's
// files and config files where rpm is installed. As root, the .deb is
// installed, removed and purged for real (TestDebInstall).
func TestPackages(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed (a Debian machine has it): the packages are not built")
	}
	deb, rpm := buildPackages(t)

	t.Run("deb contents", func(t *testing.T) {
		listing := run(t, "dpkg-deb", "-c", deb)
		for _, want := range []struct{ mode, path string }{
			{"-rwxr-xr-x root/root", "./usr/bin/eventrouter"},
			{"-rw-r--r-- root/root", "./lib/systemd/system/eventrouter.service"},
			{"-rw-r--r-- root/root", "./etc/eventrouter/config.yaml"},
			{"-rw-r--r-- root/root", "./etc/eventrouter/config_test.yaml"},
			{"-rw-r--r-- root/root", "./usr/share/eventrouter/config.schema.json"},
			{"-rw-r--r-- root/root", "./usr/share/doc/eventrouter/README.md"},
			{"-rw-r--r-- root/root", "./usr/share/doc/eventrouter/docs/operations.md"},
			{"-rw-r--r-- root/root", "./usr/share/bash-completion/completions/eventrouter"},
			{"-rw-r--r-- root/root", "./usr/share/zsh/vendor-completions/_eventrouter"},
			{"-rw-r--r-- root/root", "./usr/share/fish/vendor_completions.d/eventrouter.fish"},
			{"-rw-r--r-- root/root", "./usr/share/man/man1/eventrouter.1.gz"},
		} {
			found := false
			for _, line := range strings.Split(listing, "\n") {
				if strings.HasPrefix(line, want.mode) && strings.HasSuffix(line, " "+want.path) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s %s in:\n%s", want.mode, want.path, listing)
			}
		}
		if strings.Contains(listing, "/usr/local") || strings.Contains(listing, "/var/") {
			t.Errorf("the package installs under /usr/local or /var:\n%s", listing)
		}
	})

	t.Run("deb control", func(t *testing.T) {
		for field, want := range map[string]string{"Package": "eventrouter", "Version": testVersion + "-1", "Architecture": "amd64"} {
			if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, field)); got != want {
				t.Errorf("%s: %q, want %q", field, got, want)
			}
		}
		info := run(t, "dpkg-deb", "-I", deb)
		for _, want := range []string{"conffiles", "postinst", "prerm", "postrm"} {
			if !strings.Contains(info, want) {
				t.Errorf("dpkg-deb -I lacks %s:\n%s", want, info)
			}
		}
		ctrl := t.TempDir()
		run(t, "dpkg-deb", "-e", deb, ctrl)
		conffiles, _ := os.ReadFile(filepath.Join(ctrl, "conffiles"))
		if got, want := string(conffiles), "/etc/eventrouter/config.yaml\n/etc/eventrouter/config_test.yaml\n"; got != want {
			t.Errorf("conffiles: %q, want %q", got, want)
		}
		postinst, _ := os.ReadFile(filepath.Join(ctrl, "postinst"))
		if !strings.Contains(string(postinst), "systemctl daemon-reload") {
			t.Error("postinst does not reload systemd")
		}
		var code []string // postinst less its comments
		for _, l := range strings.Split(string(postinst), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				code = append(code, l)
			}
		}
		for _, verb := range []string{"enable", "start", "restart", "--now"} {
			if strings.Contains(strings.Join(code, "\n"), verb) {
				t.Errorf("postinst holds %q: installing must neither enable nor start the service", verb)
			}
		}
		prerm, _ := os.ReadFile(filepath.Join(ctrl, "prerm"))
		if !strings.Contains(string(prerm), "systemctl stop eventrouter.service") {
			t.Error("prerm does not stop the service")
		}
	})

	t.Run("deb binary against its own config", func(t *testing.T) {
		root := t.TempDir()
		run(t, "dpkg-deb", "-x", deb, root)
		bin := filepath.Join(root, "usr/bin/eventrouter")
		config := filepath.Join(root, "etc/eventrouter/config.yaml")
		if out := run(t, bin, "check", "--test", "--config", config); !strings.Contains(out, "0 failed") {
			t.Errorf("check --test:\n%s", out)
		}
		version := run(t, bin, "version")
		if !strings.HasPrefix(version, "eventrouter "+testVersion+"\ncommit: ") || strings.Contains(version, "commit: unknown") {
			t.Errorf("version of the packaged binary:\n%s", version)
		}
		unit, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/eventrouter.service"))
		for _, want := range []string{
			"ExecStartPre=/usr/bin/eventrouter check --config /etc/eventrouter/config.yaml",
			"ExecStart=/usr/bin/eventrouter run --config /etc/eventrouter/config.yaml",
			"ExecReload=/usr/bin/eventrouter check --test --config /etc/eventrouter/config.yaml",
			"DynamicUser=yes",
		} {
			if !strings.Contains(string(unit), want+"\n") {
				t.Errorf("the packaged unit lacks %s", want)
			}
		}
		if strings.Contains(string(unit), "/usr/local") {
			t.Error("the packaged unit names /usr/local")
		}
		cfg, _ := os.ReadFile(config)
		if !strings.HasPrefix(string(cfg), "# yaml-language-server: $schema=/usr/share/eventrouter/config.schema.json\n") {
			t.Errorf("the packaged config's first line does not name the packaged schema:\n%s", cfg)
		}
		schema := run(t, bin, "schema")
		if shipped, _ := os.ReadFile(filepath.Join(root, "usr/share/eventrouter/config.schema.json")); string(shipped) != schema {
			t.Error("the packaged schema differs from the packaged binary's")
		}
		man, err := os.Open(filepath.Join(root, "usr/share/man/man1/eventrouter.1.gz"))
		if err != nil {
			t.Fatal(err)
		}
		defer man.Close()
		zr, err := gzip.NewReader(man)
		if err != nil {
			t.Fatal(err)
		}
		page, err := io.ReadAll(zr)
		if err != nil || !strings.HasPrefix(string(page), ".TH EVENTROUTER 1") {
			t.Errorf("the man page: %v\n%.200s", err, page)
		}
	})

	t.Run("rpm", func(t *testing.T) {
		if _, err := exec.LookPath("rpm"); err != nil {
			t.Skip("rpm is not installed (apt-get install rpm): the .rpm is built but not read")
		}
		files := run(t, "rpm", "-qpl", rpm)
		for _, want := range []string{"/usr/bin/eventrouter", "/usr/lib/systemd/system/eventrouter.service", "/etc/eventrouter/config.yaml", "/usr/share/zsh/site-functions/_eventrouter", "/usr/share/man/man1/eventrouter.1.gz"} {
			if !strings.Contains(files, want+"\n") {
				t.Errorf("the .rpm lacks %s:\n%s", want, files)
			}
		}
		if got, want := run(t, "rpm", "-qp", "--configfiles", rpm), "/etc/eventrouter/config.yaml\n/etc/eventrouter/config_test.yaml\n"; got != want {
			t.Errorf("config files: %q, want %q", got, want)
		}
		if got := run(t, "rpm", "-qp", "--queryformat", "%{VERSION} %{ARCH}", rpm); got != testVersion+" x86_64" {
			t.Errorf("version and arch: %q", got)
		}
	})

	t.Run("dpkg install, remove and purge", func(t *testing.T) {
		installAndPurge(t, deb)
	})
}

// installAndPurge installs the .deb on this machine with dpkg -i, checks
// the installed daemon, then removes and purges it. It needs root, and
// skips when eventrouter is already installed here, as a package or by
// hand, so that it never touches an operator's install.
func installAndPurge(t *testing.T, deb string) {
	if os.Geteuid() != 0 {
		t.Skip("not root: dpkg -i is not tried (run the tests as root, as CI does, to install, remove and purge the .deb)")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is not installed")
	}
	if err := exec.Command("dpkg-query", "-W", "eventrouter").Run(); err == nil {
		t.Skip("an eventrouter package is installed on this machine: not replaced by the test")
	}
	for _, p := range []string{BinaryPath, ConfigDir} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Skipf("%s exists (an install by hand?): not replaced by the test", p)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "eventrouter").CombinedOutput(); err != nil {
			t.Logf("cleanup: dpkg --purge: %v\n%s", err, out)
		}
	})

	run(t, "dpkg", "-i", deb)
	if got := run(t, "dpkg-query", "-W", "-f", "${Status} ${Version}", "eventrouter"); got != "install ok installed "+testVersion+"-1" {
		t.Errorf("after dpkg -i: %q", got)
	}
	if out := run(t, BinaryPath, "check", "--test", "--config", ConfigDir+"/config.yaml"); !strings.Contains(out, "0 failed") {
		t.Errorf("the installed daemon's check --test:\n%s", out)
	}
	// What the operations docs tell the operator to add beside the config.
	if err := os.WriteFile(ConfigDir+"/eventrouter.env", []byte("EVENTROUTER_SERVER_LISTEN=:8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	run(t, "dpkg", "-r", "eventrouter")
	if _, err := os.Stat(BinaryPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dpkg -r left %s: %v", BinaryPath, err)
	}
	if _, err := os.Stat(ConfigDir + "/config.yaml"); err != nil {
		t.Errorf("dpkg -r removed the conffile config.yaml, which only purge removes: %v", err)
	}
	if got := run(t, "dpkg-query", "-W", "-f", "${Status}", "eventrouter"); got != "deinstall ok config-files" {
		t.Errorf("after dpkg -r: %q", got)
	}

	run(t, "dpkg", "-P", "eventrouter")
	for _, p := range []string{ConfigDir, UnitPath, DocDir, SchemaPath, ManPagePath} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dpkg -P left %s: %v", p, err)
		}
	}
	if err := exec.Command("dpkg-query", "-W", "eventrouter").Run(); err == nil {
		t.Error("dpkg -P left the package known to dpkg")
	}
}
