// Package ingesttest holds what the ingest packages' tests share: the
// samples under testdata/ingest, the one way golden files are compared
// and rewritten (go test -update), and waiting for a condition with a
// deadline instead of sleeping.
//
// It imports nothing of sregraph's, so that the ingest package's own
// tests can use it.
package ingesttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// Update reports whether the tests run with -update, which rewrites golden
// files (and whatever else a test derives from its samples).
func Update() bool { return *update }

// Testdata returns the path of the repository's testdata directory joined
// with elem.
func Testdata(elem ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", "testdata"}, elem...)...)
}

// Sample is one payload under testdata/ingest/<Format>/, with the
// transport headers of its optional <base>.headers.json beside it.
type Sample struct {
	Format, Name, Path string
	Body               []byte
	Headers            map[string]string
}

// Base is the sample's file name without its extension, the stem of its
// golden and headers files.
func (s Sample) Base() string { return strings.TrimSuffix(s.Name, filepath.Ext(s.Name)) }

// Golden is the path of the sample's golden file under dir (a directory of
// testdata, e.g. "ingest" or "http"): <dir>/<format>/<base>.golden.json.
func (s Sample) Golden(dir string) string {
	return Testdata(dir, s.Format, s.Base()+".golden.json")
}

// Samples returns the samples of the named formats, in path order. A
// sample is any file of a format's directory except golden files, headers
// files, dotfiles and argocd/template.yaml (the notification template the
// README ships, not a delivery).
func Samples(tb testing.TB, formats ...string) []Sample {
	tb.Helper()
	var out []Sample
	for _, format := range formats {
		dir := Testdata("ingest", format)
		entries, err := os.ReadDir(dir)
		if err != nil {
			tb.Fatalf("samples of %s: %v", format, err)
		}
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".headers.json") ||
				strings.Contains(n, ".golden") || n == "template.yaml" {
				continue
			}
			s := Sample{Format: format, Name: n, Path: filepath.Join(dir, n), Headers: map[string]string{}}
			if s.Body, err = os.ReadFile(s.Path); err != nil {
				tb.Fatal(err)
			}
			if hb, err := os.ReadFile(filepath.Join(dir, s.Base()+".headers.json")); err == nil {
				if err := json.Unmarshal(hb, &s.Headers); err != nil {
					tb.Fatalf("%s headers: %v", s.Path, err)
				}
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no samples of %v under %s", formats, Testdata("ingest"))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// CheckGolden compares got with the golden file at path, or, under
// -update, writes got there.
func CheckGolden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (rerun %s with -update to create it)", err, tb.Name())
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("differs from %s (rerun with -update if the change is intended)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// CheckGoldenJSON is CheckGolden for v as indented JSON.
func CheckGoldenJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	CheckGolden(tb, path, append(b, '\n'))
}

// Wait polls cond until it holds, failing the test with what when it does
// not within timeout.
func Wait(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// KafkaBrokers returns the brokers in KAFKA_BROKERS (a comma list). When
// it is not set the test is skipped, or fails under
// SREGRAPH_REQUIRE_KAFKA=1 (as make test sets it): a suite that needs a
// real broker never passes without one there.
func KafkaBrokers(tb testing.TB) []string {
	tb.Helper()
	var brokers []string
	for _, b := range strings.Split(os.Getenv("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		if os.Getenv("SREGRAPH_REQUIRE_KAFKA") == "1" {
			tb.Fatal("SREGRAPH_REQUIRE_KAFKA=1 but KAFKA_BROKERS is not set: start a broker with scripts/kafka/start.sh and source .cache/kafka/env")
		}
		tb.Skip("KAFKA_BROKERS is not set: run scripts/kafka/start.sh and source .cache/kafka/env")
	}
	return brokers
}

// Buffer is a bytes.Buffer that goroutines (a consumer's, a child
// process's output copiers) may write at once while the test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
