package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBinaryStandsAlone builds sregraph, copies the binary alone into an
// empty directory and serves the demo from there: the demo, the breach
// page and the GraphQL IDE with every file it loads come from the binary,
// nothing from the repository or another host.
func TestBinaryStandsAlone(t *testing.T) {
	built := buildSregraph(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	empty := t.TempDir()
	bin := filepath.Join(empty, "sregraph")
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}

	version, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(version), "sregraph ") || !strings.Contains(string(version), "built with go") {
		t.Errorf("sregraph version: %q, %v", version, err)
	}

	cmd := exec.CommandContext(ctx, bin, "serve", "--demo", "--http", "127.0.0.1:0", "--log-level", "warn")
	cmd.Dir = empty
	// Only what a fresh shell has: no repository, no Go environment.
	cmd.Env = []string{"HOME=" + empty, "PATH=/usr/bin:/bin"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	var breachPage, base string
	sc := bufio.NewScanner(stdout)
	for base == "" && sc.Scan() {
		line := sc.Text()
		if _, rest, ok := strings.Cut(line, "breach page: "); ok {
			breachPage = strings.TrimSpace(rest)
		}
		if _, rest, ok := strings.Cut(line, "listening on "); ok {
			base = strings.Fields(rest)[0]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if base == "" || breachPage == "" {
		t.Fatalf("serve --demo in an empty directory did not start (breach page %q, address %q):\n%s", breachPage, base, stderr.String())
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 2 {
		t.Errorf("the directory holds %d entries, want the binary and ./data", len(entries))
	}

	get := func(url, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}
	resp, body := get(breachPage, "text/html")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ledger 2.14.0 deployed") {
		t.Errorf("breach page %s: %d\n%.300s", breachPage, resp.StatusCode, body)
	}
	// The page's own files (its stylesheet) come from the binary too.
	pageRefs := regexp.MustCompile(`(?:<link[^>]*\shref|\ssrc)="([^"]+)"`).FindAllStringSubmatch(body, -1)
	sawCSS := false
	for _, m := range pageRefs {
		ref := strings.ReplaceAll(m[1], "&amp;", "&")
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			if !strings.HasPrefix(ref, "data:") {
				t.Errorf("the breach page loads %s from another host", ref)
			}
			continue
		}
		resp, b := get(base+ref, "")
		if resp.StatusCode != http.StatusOK || len(b) == 0 {
			t.Errorf("the breach page loads %s: %d", ref, resp.StatusCode)
		}
		sawCSS = sawCSS || strings.Contains(resp.Header.Get("Content-Type"), "text/css")
	}
	if !sawCSS {
		t.Errorf("the breach page loads no stylesheet of its own: %v", pageRefs)
	}
	resp, ideHTML := get(base+"/graphql", "text/html")
	if resp.StatusCode != http.StatusOK || !strings.Contains(ideHTML, "GraphiQL") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /graphql: %d %v\n%.300s", resp.StatusCode, resp.Header, ideHTML)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(ideHTML, -1)
	if len(refs) < 4 {
		t.Fatalf("the IDE page loads %d files:\n%s", len(refs), ideHTML)
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], "/") || strings.HasPrefix(m[1], "//") {
			t.Errorf("the IDE page loads %s from another host", m[1])
			continue
		}
		resp, body := get(base+m[1], "")
		if resp.StatusCode != http.StatusOK || len(body) < 1000 {
			t.Errorf("GET %s: %d, %d bytes", m[1], resp.StatusCode, len(body))
		}
	}
}
