package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph/pebble/smalldisk"
)

// TestServeOnAFullDisk runs `sregraph serve` on a small real file system
// and posts events until it fills: ingest must refuse what it cannot keep
// (never acknowledge it), and the process must exit non-zero with a clear
// message rather than live on, hung, without a store.
func TestServeOnAFullDisk(t *testing.T) {
	mnt := smalldisk.Mount(t, "16m")
	c := startServer(t, filepath.Join(mnt, "data"))
	pad := strings.Repeat("x", 32<<10)
	acked, refused := 0, 0
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && refused == 0 {
		var body bytes.Buffer
		for i := range 20 {
			fmt.Fprintf(&body, `{"kind":"deploy","service":"svc","at":%q,"source":"t","id":"e%d-%d","attributes":{"pad":%q}}`+"\n",
				time.Now().UTC().Format(time.RFC3339), acked, i, pad)
		}
		resp, err := http.Post(c.url+"/v1/events", "application/x-ndjson", &body)
		if err != nil {
			// The server went away: that is an answer too, checked below.
			break
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted:
			acked++
		case resp.StatusCode >= 500:
			refused++
		default:
			t.Fatalf("ingest on a filling disk answered %s", resp.Status)
		}
	}
	if refused == 0 && acked > 0 && time.Now().Before(deadline) {
		// Refused by closing the connection: the process is exiting.
		refused = 1
	}
	if refused == 0 {
		t.Fatalf("%d batches acknowledged and none refused in 90 s: the disk never filled", acked)
	}
	t.Logf("%d batches of 20 acknowledged before the disk filled", acked)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("serve exited with %v, want a non-zero exit\n%s", err, c.out)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve still runs a minute after its store failed: it must exit for a supervisor to restart it\n%s", c.out)
	}
}
