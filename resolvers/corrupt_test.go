package resolvers

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// TestCorruptStoreIsInternal checks that a count over a damaged table file
// is an INTERNAL error, logged with the file, and not a smaller count.
func TestCorruptStoreIsInternal(t *testing.T) {
	dir, file := pebbletest.MustCorruptStore(t)
	s, err := pebble.Open(dir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logged bytes.Buffer
	c := newClient(s, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	data, errs := post(t, c, `{ events(services: ["x"]) { totalCount } }`)
	if len(errs) == 0 || errs[0].Extensions["code"] != "INTERNAL" {
		t.Fatalf("count over a damaged table: data %s, errors %+v; want an INTERNAL error", data, errs)
	}
	num := strings.TrimSuffix(filepath.Base(file), ".sst")
	if !strings.Contains(logged.String(), "checksum mismatch") || !strings.Contains(logged.String(), num) {
		t.Errorf("log does not name the damaged table %s:\n%s", num, logged.String())
	}
}
