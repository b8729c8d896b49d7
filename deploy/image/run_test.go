package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/deploy/internal/httpcheck"
)

// podman runs podman with the runtime SREGRAPH_PODMAN_RUNTIME names (e.g.
// runc where crun cannot run on the host's cgroups) and returns its
// combined output.
func podman(ctx context.Context, args ...string) (string, error) {
	if rt := os.Getenv("SREGRAPH_PODMAN_RUNTIME"); rt != "" {
		args = append([]string{"--runtime", rt}, args...)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return strings.TrimSpace(out.String()), err
}

// limits keeps the container's resource limits at or below the test
// process's own: podman's defaults (1048576 open files) are refused on
// hosts with lower hard limits.
var limits = []string{"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"}

// TestImageRuns builds the image with sregraph-image, loads the OCI archive
// into podman and runs it as a user would: it must refuse to listen beyond
// loopback without tokens, and with a tokens file serve health, readiness
// and metrics, take an event into its /data volume as user 65532, and stop
// cleanly on SIGTERM. It needs podman (and root); SREGRAPH_REQUIRE_PODMAN=1
// makes its absence a failure.
func TestImageRuns(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		if os.Getenv("SREGRAPH_REQUIRE_PODMAN") != "" {
			t.Fatalf("podman is required (SREGRAPH_REQUIRE_PODMAN) but not found: %v", err)
		}
		t.Skip("podman not found; set SREGRAPH_REQUIRE_PODMAN=1 to require it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	dir := t.TempDir()
	suffix := randomHex(t, 4)
	ref := "localhost/sregraph-imagetest:" + suffix
	build := exec.CommandContext(ctx, "go", "run", "../cmd/sregraph-image",
		"-repo", "../..", "-out", dir, "-version", "v0.0.0-imagetest", "-tag", ref)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("sregraph-image: %v\n%s", err, out)
	}
	if out, err := podman(ctx, "load", "-i", filepath.Join(dir, "sregraph.oci.tar")); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(out, ref) {
		t.Fatalf("podman load did not name %s:\n%s", ref, out)
	}
	t.Cleanup(func() {
		if out, err := podman(context.Background(), "rmi", "-f", ref); err != nil {
			t.Errorf("removing the image: %v\n%s", err, out)
		}
	})

	// As built, the image listens on :8080; without tokens it must refuse.
	out, err := podman(ctx, append(append([]string{"run", "--rm"}, limits...), ref)...)
	if err == nil || !strings.Contains(out, "listens beyond loopback without --tokens") {
		t.Errorf("the image started without tokens on every interface (err %v):\n%s", err, out)
	}

	token := randomHex(t, 24)
	tokens := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(tokens, []byte("- name: imagetest\n  token: "+token+"\n  scopes: [read, ingest]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	container := "sregraph-imagetest-" + suffix
	args := append([]string{"run", "-d", "--name", container,
		"-p", fmt.Sprintf("127.0.0.1:%d:8080", port),
		"-v", tokens + ":/etc/sregraph/tokens.yaml:ro"}, limits...)
	args = append(args, ref, "--tokens", "/etc/sregraph/tokens.yaml")
	if _, err := podman(ctx, args...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := podman(context.Background(), "logs", container)
			t.Logf("container logs:\n%s", logs)
		}
		if out, err := podman(context.Background(), "rm", "-f", "-v", container); err != nil {
			t.Errorf("removing the container: %v\n%s", err, out)
		}
	})

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitReady(ctx, t, base+"/readyz")
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		contains                  string
	}{
		{"GET", "/healthz", "", "", 200, "ok"},
		{"GET", "/readyz", "", "", 200, "ready"},
		{"GET", "/metrics", "", "", 401, "authentication required"},
		{"GET", "/metrics", token, "", 200, "go_goroutines"},
		{"POST", "/v1/events", "", `{}`, 401, "authentication required"},
		{"POST", "/v1/events", token, `{"id": "rel-1842", "kind": "deploy", "service": "payments",
			"at": "2026-11-21T11:50:00Z", "source": "argo-cd", "summary": "payments 1.42.0 deployed"}`,
			200, `"accepted":1`},
	} {
		status, body := httpcheck.Call(ctx, t, tc.method, base+tc.path, tc.token, tc.body)
		if status != tc.status || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s (token %t): %d %q, want %d with %q", tc.method, tc.path, tc.token != "", status, body, tc.status, tc.contains)
		}
	}

	// The server runs as the image's user, not root.
	pid, err := podman(ctx, "inspect", "-f", "{{.State.Pid}}", container)
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t65532\t65532\t65532\t65532\n") {
		t.Errorf("the server does not run as uid 65532:\n%s", status)
	}
	if mounts, err := podman(ctx, "inspect", "-f", "{{range .Mounts}}{{.Destination}} {{end}}", container); err != nil || !strings.Contains(mounts, "/data") {
		t.Errorf("no volume at /data: %q %v", mounts, err)
	}
	if v, err := podman(ctx, "exec", container, "/usr/local/bin/sregraph", "version"); err != nil || !strings.Contains(v, "v0.0.0-imagetest") {
		t.Errorf("sregraph version in the container: %q %v", v, err)
	}

	// SIGTERM (podman stop) ends it gracefully: exit status 0.
	if out, err := podman(ctx, "stop", "-t", "30", container); err != nil {
		t.Fatal(err, out)
	}
	if code, err := podman(ctx, "inspect", "-f", "{{.State.ExitCode}}", container); err != nil || code != "0" {
		t.Errorf("exit status after podman stop: %q %v", code, err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func waitReady(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			if cerr := resp.Body.Close(); cerr != nil {
				t.Fatal(cerr)
			}
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never answered 200 (last error %v)", url, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
