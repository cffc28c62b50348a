package packaging

import (
	"os"
	"strings"
	"testing"
)

// TestPackagedFiles checks how the files made for the packages are made
// from the repository's, and that a source they no longer fit is refused.
func TestPackagedFiles(t *testing.T) {
	unit, err := os.ReadFile("../../examples/systemd/eventrouter.service")
	if err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		make    func([]byte) ([]byte, error)
		in      string
		want    string // in the output, or in the error when wantErr
		wantErr bool
	}{
		{"unit", PackagedUnit, string(unit), "ExecStart=/usr/bin/eventrouter run --config /etc/eventrouter/config.yaml\n", false},
		{"unit header", PackagedUnit, string(unit), "installed by the eventrouter package", false},
		{"unit without [Unit]", PackagedUnit, "[Service]\nExecStart=/usr/local/bin/eventrouter run\n", "no [Unit] section", true},
		{"unit at another path", PackagedUnit, strings.ReplaceAll(string(unit), "/usr/local/bin/", "/opt/bin/"), "found it 0 time(s)", true},
		{"unit with another config", PackagedUnit, strings.ReplaceAll(string(unit), "/etc/eventrouter/", "/etc/er/"), "does not read /etc/eventrouter/config.yaml", true},
		{"config", PackagedConfig, string(config), "# yaml-language-server: $schema=/usr/share/eventrouter/config.schema.json\n", false},
		{"config without modeline", PackagedConfig, "server: {}\n", "is not # yaml-language-server", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.make([]byte(c.in))
			switch {
			case c.wantErr && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one containing %q", err, c.want)
			case !c.wantErr && err != nil:
				t.Errorf("error %v", err)
			case !c.wantErr && !strings.Contains(string(out), c.want):
				t.Errorf("output lacks %q:\n%s", c.want, out)
			}
			if !c.wantErr && strings.Contains(string(out), "/usr/local") {
				t.Errorf("output names /usr/local:\n%s", out)
			}
		})
	}
}

// TestBuildRefusesVersion checks the versions dpkg or rpm would refuse
// are refused before anything is built.
func TestBuildRefusesVersion(t *testing.T) {
	for _, v := range []string{"", "v1.2.0", "1.2.0-rc1", "1.2 0", "latest"} {
		if _, err := Build(Spec{Version: v}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "version") {
			t.Errorf("Build(version %q): %v, want a version error", v, err)
		}
	}
}
