package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestHashPassword proves hash-password prints a bcrypt hash of the
// password on stdin's first line that the Admin UI login accepts, and
// refuses what it cannot hash.
func TestHashPassword(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "line", stdin: "hunter2\n", args: []string{"--cost", "4"}},
		{name: "no newline", stdin: "hunter2", args: []string{"--cost", "4"}},
		{name: "crlf", stdin: "hunter2\r\nignored\n", args: []string{"--cost", "4"}},
		{name: "empty", stdin: "\n", wantCode: 1, wantErr: "empty password"},
		{name: "bad cost", stdin: "hunter2", args: []string{"--cost", "99"}, wantCode: 1, wantErr: "cost"},
		{name: "argument", stdin: "hunter2", args: []string{"hunter2"}, wantCode: 2, wantErr: "read from stdin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), append([]string{"hash-password"}, tc.args...),
				WithInput(strings.NewReader(tc.stdin)), WithOutput(&stdout, &stderr))
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, &stderr)
			}
			if tc.wantCode != 0 {
				if !strings.Contains(stderr.String(), tc.wantErr) {
					t.Errorf("stderr %q does not say %q", &stderr, tc.wantErr)
				}
				return
			}
			hash := strings.TrimSpace(stdout.String())
			if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("hunter2")); err != nil {
				t.Errorf("hash %q does not match the password: %v", hash, err)
			}
		})
	}
}
