package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph/pebble/smalldisk"

	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// TestChaosDiskFull runs the built binary on a small real file system (a
// 16 MiB tmpfs that also holds an 8 MiB ballast file) while clients post
// events until the disk fills: ingest must answer 503 with Retry-After
// and a JSON body (never acknowledge what it cannot keep), /readyz must
// say the data dir is full and how many bytes are free, reads must still
// be answered, and once the
// ballast is deleted ingest must resume in the same process, without a
// restart. The clients retry every refused batch until acknowledged;
// at the end every acknowledged event is present exactly once.
func TestChaosDiskFull(t *testing.T) {
	mnt := smalldisk.Mount(t, "16m")
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildSregraph(t)
	dir := filepath.Join(mnt, "data")
	p := serveProc(t, bin, "--data-dir", dir)
	pid := p.cmd.Process.Pid
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	l := newLedger()
	var batches atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pad := strings.Repeat("x", 200)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				ids := make([]string, 100)
				for k := range ids {
					ids[k] = fmt.Sprintf("d%d-%d-%d-%s", w, i, k, pad)
				}
				if postUntilAcked(ctx, t, l, p.URL, "chaos-disk", ids, at) {
					batches.Add(1)
				}
			}
		}()
	}
	refusedAt := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.refused
	}
	waitUntil(t, 120*time.Second, "ingest answering 503 on the full disk", func() bool { return refusedAt() > 0 })
	code, body := readyz(t, p.URL())
	if code != 503 || !strings.Contains(body, "data dir full") || !strings.Contains(body, "bytes free") {
		t.Errorf("/readyz on a full disk: %d %q; want 503 saying the data dir is full and how many bytes are free", code, body)
	}
	t.Logf("readyz: %s", strings.TrimSpace(body))
	waitUntil(t, 10*time.Second, "GraphQL reads answered while the disk is full", func() bool { return totalCount(p.URL(), "chaos-disk") > 0 })
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	full := batches.Load()
	waitUntil(t, 60*time.Second, "ingest resuming after freeing space", func() bool { return batches.Load() >= full+4 })
	cancel()
	wg.Wait()
	if p.cmd == nil || p.cmd.Process.Pid != pid {
		t.Fatal("the server was restarted; it must resume in the same process")
	}
	code, body = readyz(t, p.URL())
	if code != 200 {
		t.Errorf("/readyz after freeing space: %d %q", code, body)
	}
	p.stop()
	seen := storeCount(t, dir, "chaos-disk")
	lost, dup := pebbletest.LostAndDuplicated(t, l.acked, seen)
	figures(t, "faults 1 (a full 16 MiB tmpfs), requests %d (503 %d, no answer %d), acknowledged %d events, present %d, lost %d, duplicated %d, resumed without a restart",
		l.requests, l.refused, l.failed, len(l.acked), len(seen), lost, dup)
}
