package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// TestCheckCommand runs `sregraph check` on a sound store (exit 0) and on
// one with a damaged table file (exit 1, the file named).
func TestCheckCommand(t *testing.T) {
	sound := t.TempDir()
	s, err := pebble.Open(sound, pebble.Options{Now: graphtest.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, "r1")}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	damaged, file := pebbletest.MustCorruptStore(t)
	for _, tc := range []struct {
		name, dir string
		code      int
		want      []string
	}{
		{"sound", sound, 0, []string{"ok: no damage found"}},
		{"damaged", damaged, 1, []string{"damaged: " + file, "checksum mismatch"}},
		{"no dir", "", 1, []string{"usage: sregraph check --data-dir DIR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"check"}
			if tc.dir != "" {
				args = append(args, "--data-dir", tc.dir)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
		})
	}
}
