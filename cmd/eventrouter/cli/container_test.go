package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// podman runs podman and returns its standard output, trimmed; it fails
// the test when podman fails.
func podman(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("podman", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out, &stderr)
	}
	return strings.TrimSpace(string(out))
}

// imageStage returns the final stage of the Dockerfile as a Containerfile
// that builds without a registry: FROM scratch in place of the distroless
// base (which adds only CA certificates, tzdata and /etc/passwd, none of
// which the daemon reads), and the binary from the build context in place
// of the build stage's. Everything else (the user, the config, the port,
// the HEALTHCHECK, the entry point) is the Dockerfile's own.
func imageStage(t *testing.T, dockerfile string) string {
	t.Helper()
	const base, fromBuild = "FROM gcr.io/distroless/static-debian12:nonroot\n", "COPY --from=build /out/eventrouter "
	i := strings.LastIndex(dockerfile, base)
	if i < 0 || !strings.Contains(dockerfile[i:], fromBuild) {
		t.Fatalf("the Dockerfile's final stage no longer starts %q and copies %q", base, fromBuild)
	}
	stage := "FROM scratch\n" + dockerfile[i+len(base):]
	return strings.Replace(stage, fromBuild, "COPY eventrouter ", 1)
}

// TestContainerImage builds the Dockerfile's final stage with podman and
// runs it: as uid 65532, the HEALTHCHECK passing, the default config
// answering on the published port. It needs root and podman (CI installs
// podman and runc); pulling the distroless and golang base images needs a
// registry, which the machines this project tests on cannot reach, so the
// build stage is this test's own static build (see docs/operations.md).
func TestContainerImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: podman is not tried")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (apt-get install podman runc): the image is not built; TestStaticBinaryUnprivileged runs the same binary as an unprivileged user")
	}
	dockerfile, err := os.ReadFile("../../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.TempDir()
	staticBinary(t, ctx)
	copyShippedConfig(t, ctx)
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(imageStage(t, string(dockerfile))), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("eventrouter-test-%d", time.Now().UnixNano())
	image := "localhost/" + name
	// HEALTHCHECK is kept in the docker format only.
	podman(t, "build", "--format", "docker", "-t", image, "-f", filepath.Join(ctx, "Containerfile"), ctx)
	t.Cleanup(func() { _ = exec.Command("podman", "rmi", "-f", image).Run() })

	// The sandbox this runs in refuses podman's default rlimits, which
	// exceed its hard limits; ask for ones below them.
	podman(t, "run", "-d", "--name", name, "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "-p", "127.0.0.1::3000", image)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("podman", "logs", name).CombinedOutput()
			t.Logf("container log:\n%s", out)
		}
		_ = exec.Command("podman", "rm", "-f", name).Run()
	})

	if got := podman(t, "inspect", "--format", "{{.Config.User}}", name); got != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", got)
	}
	if got := podman(t, "inspect", "--format", "{{.Config.Healthcheck.Test}}", name); !strings.Contains(got, "/usr/bin/eventrouter health --config /etc/eventrouter/config.yaml") {
		t.Errorf("healthcheck %q", got)
	}
	eventually(t, "the HEALTHCHECK to pass", func() bool {
		return exec.Command("podman", "healthcheck", "run", name).Run() == nil
	})
	pid := podman(t, "inspect", "--format", "{{.State.Pid}}", name)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t65532\t65532\t65532\t65532\n") {
		t.Errorf("the daemon does not run as 65532:\n%s", status)
	}

	hostPort := podman(t, "port", name, "3000")
	resp, err := http.Post("http://"+hostPort+"/post", "application/json", strings.NewReader(`{"hello":"container"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"received":{"hello":"container"}`) {
		t.Errorf("POST /post: %d %s", resp.StatusCode, body)
	}

	podman(t, "stop", "-t", "15", name)
	if got := podman(t, "inspect", "--format", "{{.State.ExitCode}}", name); got != "0" {
		t.Errorf("exit code %s after podman stop, want 0 (a graceful stop)", got)
	}
}
