package ruletest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/ruletest"
)

// TestShippedTestsCatchMutations proves the shipped config_test.yaml can
// fail: each mutation of config.yaml that changes behaviour a client sees
// must turn it red, with a diff that names the change. The unmutated
// config must pass with every rule exercised.
func TestShippedTestsCatchMutations(t *testing.T) {
	root := repoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	suite := filepath.Join(root, "config_test.yaml")
	tests := []struct {
		name     string
		old, new string   // one replacement in config.yaml; "" leaves it as is
		want     []string // fragments the failure output must hold
	}{
		{name: "unmutated"},
		{
			name: "rename the broadcast event",
			old:  `broadcast("receive_message"`, new: `broadcast("receive_msg"`,
			want: []string{`+ {"kind":"broadcast","event":"receive_msg"`, `event: want "receive_message", got "receive_msg"`},
		},
		{
			name: "swap broadcast for emit",
			old:  `broadcast("receive_message"`, new: `emit("receive_message"`,
			want: []string{`+ {"kind":"emit","event":"receive_message"`, `kind: want "broadcast", got "emit"`},
		},
		{
			name: "swap broadcast for broadcast_others",
			old:  `broadcast("receive_message"`, new: `broadcast_others("receive_message"`,
			want: []string{`kind: want "broadcast", got "broadcast_others"`},
		},
		{
			name: "change the echo text",
			old:  `受け取りました`, new: `受け取った`,
			want: []string{`"message":"受け取った"`, `body.message: want "受け取りました", got "受け取った"`},
		},
		{
			name: "change the echo status",
			old:  `respond(200,`, new: `respond(201,`,
			want: []string{`status: want 200, got 201`},
		},
		{
			name: "drop the received body",
			old:  `"received": body`, new: `"received": nil`,
			want: []string{`body.received: want {"age":20,"name":"taro"}, got null`},
		},
		{
			name: "change the connection log",
			old:  `"client connected:"`, new: `"connected:"`,
			want: []string{`message: want "client connected: abc123", got "connected: abc123"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mutated := string(src)
			if tt.old != "" {
				if n := strings.Count(mutated, tt.old); n != 1 {
					t.Fatalf("config.yaml holds %q %d times, want once; update the mutation", tt.old, n)
				}
				mutated = strings.Replace(mutated, tt.old, tt.new, 1)
			}
			config := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(config, []byte(mutated), 0o644); err != nil {
				t.Fatal(err)
			}
			rep := ruletest.RunFiles([]string{suite}, ruletest.Options{Config: config})
			if rep.Broken > 0 {
				t.Fatalf("mutated config did not load: %v", rep.Results[0].Err)
			}
			var out strings.Builder
			for _, r := range rep.Results {
				var f *ruletest.Failure
				if errors.As(r.Err, &f) {
					out.WriteString(strings.Join(f.Problems, "\n") + "\n")
				} else if r.Err != nil {
					t.Errorf("%s: %v", r.ID(), r.Err)
				}
			}
			if tt.old == "" {
				if rep.Failed() > 0 || rep.Passed() == 0 {
					t.Errorf("unmutated config: %s, want every case to pass:\n%s", rep.Summary(), out.String())
				}
				for _, c := range rep.Coverage {
					for _, line := range c.Lines() {
						t.Error(line)
					}
				}
				return
			}
			if rep.Failed() == 0 {
				t.Fatalf("%s: the shipped tests did not notice the mutation", rep.Summary())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("failure output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
