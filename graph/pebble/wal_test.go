package pebble

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// mustCrashCopy writes n events of service "x" in n batches to a store in
// a fresh directory and copies the directory while the store is open, as
// a crash would leave it (everything still in the write-ahead log). It
// returns the copy and its log files.
func mustCrashCopy(tb testing.TB, n int) (dir string, logs []string) {
	tb.Helper()
	src := tb.TempDir()
	s, err := Open(src, Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	for i := range n {
		e := graphtest.MustEvent(tb, graph.KindDeploy, "x", graphtest.T0, fmt.Sprintf("r%d", i))
		e.Attributes["pad"] = strings.Repeat(fmt.Sprintf("%08x", i*2654435761), 200)
		graphtest.MustApply(tb, s, graph.Batch{Events: []graph.Event{e}})
	}
	dir = tb.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, de := range entries {
		if de.IsDir() || de.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, de.Name()), b, 0o644); err != nil {
			tb.Fatal(err)
		}
		if strings.HasSuffix(de.Name(), ".log") {
			logs = append(logs, filepath.Join(dir, de.Name()))
		}
	}
	if len(logs) == 0 {
		tb.Fatal("no write-ahead log in the store")
	}
	return dir, logs
}

// TestWALDamageIsAWarning checks that a replay which stops at a damaged
// record, dropping intact records after it, is logged at warn level with
// what was dropped, and that a clean replay is not.
func TestWALDamageIsAWarning(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage bool
	}{{"clean", false}, {"damaged", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, logs := mustCrashCopy(t, 100)
			if tc.damage {
				f, err := os.OpenFile(logs[len(logs)-1], os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(bytes.Repeat([]byte{0xAB}, 64), 10000); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			rep, err := Check(context.Background(), dir, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if found := len(rep.Damage) > 0 && rep.Damage[0].File == logs[len(logs)-1]; found != tc.damage {
				t.Errorf("check found the log damaged = %v, want %v (%+v)", found, tc.damage, rep.Damage)
			}
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
			s, err := Open(dir, Options{Now: graphtest.Now, Logger: log})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			warned := strings.Contains(out, "level=WARN") && strings.Contains(out, "write-ahead log")
			if warned != tc.damage {
				t.Fatalf("warned = %v, want %v; log:\n%s", warned, tc.damage, out)
			}
			if tc.damage && (!strings.Contains(out, "intact_batches_dropped=") || strings.Contains(out, "intact_batches_dropped=0 ")) {
				t.Errorf("warning does not count the dropped batches:\n%s", out)
			}
			t.Log(out)
		})
	}
}
