package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/examples/plugin/stamp"
)

// TestShippedConfigsCheckWithTests runs `eventrouter check --test` on the
// default config and on every examples/*/config.yaml, as the systemd
// unit's ExecReload would: each must load, and its rule tests beside it
// must pass and exercise every rule. An example whose secrets come from
// systemd credentials ships demo ones in its credentials directory, which
// stands in for $CREDENTIALS_DIRECTORY, so that check can read them.
// examples/plugin needs the stamp plugin, so it is checked as its custom
// binary (examples/plugin/main.go) would check it.
func TestShippedConfigsCheckWithTests(t *testing.T) {
	examples, err := filepath.Glob("../../../examples/*/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The glob finds new examples; these must be among them, so a moved
	// directory cannot make the table silently shrink.
	for _, want := range []string{"auth", "chat", "chat-rooms", "jwt", "plugin", "presence", "publish-api"} {
		if !slices.Contains(examples, "../../../examples/"+want+"/config.yaml") {
			t.Errorf("examples/%s/config.yaml not found", want)
		}
	}
	configs := append([]string{"../../../config.yaml"}, examples...)

	for _, config := range configs {
		name := strings.TrimPrefix(filepath.ToSlash(config), "../../../")
		t.Run(name, func(t *testing.T) {
			creds, err := filepath.Abs(filepath.Join(filepath.Dir(config), "credentials"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(creds); err == nil {
				t.Setenv("CREDENTIALS_DIRECTORY", creds)
			}
			var stdout, stderr bytes.Buffer
			opts := []Option{WithOutput(&stdout, &stderr)}
			if name == "examples/plugin/config.yaml" {
				opts = append(opts, WithPlugins(stamp.Plugin()))
			}
			code := Run(context.Background(), []string{"check", "--test", "--config", config}, opts...)
			if code != 0 {
				t.Fatalf("check --test --config %s: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", name, code, &stdout, &stderr)
			}
			out := stdout.String()
			if !strings.Contains(out, "passed, 0 failed") {
				t.Errorf("no closing line \"N passed, 0 failed\":\n%s", out)
			}
			if strings.Contains(out, "not exercised") {
				t.Errorf("rules without a case:\n%s", out)
			}
			if strings.Contains(out, " 0 passed") {
				t.Errorf("no case ran:\n%s", out)
			}
		})
	}
}
