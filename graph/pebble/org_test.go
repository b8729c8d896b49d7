package pebble

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph/graphtest"
)

// orgVersion names the store's on-disk layout of a generated organisation;
// change it whenever the generator or the key layout changes so cached
// organisations are rebuilt.
const orgVersion = 8

// openBenchOrg opens the organisation for cfg, generating it on first use
// into a cache directory under the OS temp dir that later runs reuse.
func openBenchOrg(b *testing.B, cfg graphtest.OrgConfig) (*Store, *graphtest.Org) {
	b.Helper()
	o := graphtest.NewOrg(cfg)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("sregraph-bench-org-v%d-s%d-e%d-d%d-h%d", orgVersion, cfg.Services, cfg.Events, cfg.Days, cfg.CallHours))
	done := filepath.Join(dir, "complete")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := func() time.Time { return graphtest.OrgEnd }
	if _, err := os.Stat(done); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "org: generating %d events over %d services into %s\n", cfg.Events, cfg.Services, dir)
		s, err := Open(dir, Options{Now: now, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := o.Build(context.Background(), s, 1000, os.Stderr); err != nil {
			s.Close()
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(done, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// The block cache a server would give a store of this size
	// (SREGRAPH_BENCH_CACHE_MB, default 1024).
	cacheMB := 1024
	if v := os.Getenv("SREGRAPH_BENCH_CACHE_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SREGRAPH_BENCH_CACHE_MB=%q: want a positive integer", v)
		}
		cacheMB = n
	}
	s, err := Open(dir, Options{Now: now, Logger: quiet, CacheSize: int64(cacheMB) << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, o
}
