package ingest_test

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayout keeps docs/architecture.md true for the ingest packages:
// ingest imports graph (and YAML) only, kafka-go is imported by
// ingest/kafka alone and kfake by ingest/kafka/embedded alone.
func TestLayout(t *testing.T) {
	const module = "github.com/sregraph/sregraph/"
	only := map[string]string{ // import path prefix → the one directory allowed to import it
		"github.com/segmentio/kafka-go":      "kafka",
		"github.com/twmb/franz-go/pkg/kfake": "kafka/embedded",
	}
	err := filepath.WalkDir(".", func(dir string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(dir, 0)
		if _, none := err.(*build.NoGoError); none {
			return nil
		} else if err != nil {
			return err
		}
		for _, imp := range pkg.Imports {
			for prefix, owner := range only {
				if strings.HasPrefix(imp, prefix) && filepath.ToSlash(dir) != owner {
					t.Errorf("ingest/%s imports %s; only ingest/%s may", dir, imp, owner)
				}
			}
			if dir == "." && !isStdlib(imp) && !slices.Contains([]string{module + "graph", "gopkg.in/yaml.v3"}, imp) {
				t.Errorf("ingest imports %s; it may import graph, YAML and the standard library only", imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isStdlib reports whether an import path is the standard library's: its
// first element has no dot.
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
