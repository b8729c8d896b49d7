package otlp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest/ingesttest"
)

// TestTempoServiceGraph re-creates the cases of Grafana Tempo's
// service-graph processor tests (modules/generator/processor/servicegraphs)
// as OTLP samples of our own: a trace with a queue and a database, failed
// requests, virtual nodes, the ways a database is named, expired edges
// and an unmatched span of each kind. Each sample is aggregated through the protobuf tree and through
// the wire reader, every pending span is let expire, and the edges (with
// their calls, errors and connection type) and the unpaired counts must
// equal the sample's .edges golden file, which lists what Tempo's
// processor counts for the same trace.
func TestTempoServiceGraph(t *testing.T) {
	dir := filepath.Join(testdata, "tempo")
	for _, tc := range []struct {
		sample, golden string
		cfg            Config
	}{
		{sample: "queue-database"},
		{sample: "failed-requests"},
		{sample: "virtual-nodes"},
		{sample: "expired-edges"},
		{sample: "unmatched-span-kinds"},
		{sample: "db-server-address"},
		{sample: "db-peer-service"},
		{sample: "db-network-peer-with-port"},
		{sample: "db-network-peer-without-port"},
		{sample: "db-without-database-name"},
		{sample: "db-namespace"},
		{sample: "db-name-and-namespace"},
		{sample: "db-system-name"},
		{sample: "db-system-and-system-name"},
		// Tempo's database_name_attributes and our virtual caller name
		// are configurable.
		{sample: "queue-database", golden: "queue-database.db-system-only",
			cfg: Config{DatabaseNameAttributes: []string{"db.system"}}},
		{sample: "virtual-nodes", golden: "virtual-nodes.browser",
			cfg: Config{VirtualCaller: "browser"}},
	} {
		golden := tc.golden
		if golden == "" {
			golden = tc.sample
		}
		t.Run(golden, func(t *testing.T) {
			req, _ := readSample(t, filepath.Join(dir, tc.sample+".json"))
			tree := tempoEdges(t, tc.cfg, func(a *Aggregator) graph.Batch {
				b, _ := a.Add(req, "tempo")
				return b
			})
			body, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			wire := tempoEdges(t, tc.cfg, func(a *Aggregator) graph.Batch {
				b, _, _, err := a.addHTTPWire(body, "tempo")
				if err != nil {
					t.Fatal(err)
				}
				return b
			})
			if wire != tree {
				t.Errorf("the wire reader counts\n%s\nthe protobuf tree\n%s", wire, tree)
			}
			path := filepath.Join(dir, golden+".edges")
			if ingesttest.Update() {
				if err := os.WriteFile(path, []byte(tree), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal([]byte(tree), want) {
				t.Errorf("edges of %s:\n%s\nwant (%s):\n%s", tc.sample, tree, path, want)
			}
		})
	}
}

// tempoEdges runs add on a new aggregator, lets every pending span
// expire, and describes the edges written and the unpaired spans.
func tempoEdges(t *testing.T, cfg Config, add func(*Aggregator) graph.Batch) string {
	t.Helper()
	clock := goldenNow
	a := NewAggregator(cfg, func() time.Time { return clock })
	store := newMemStore()
	if _, err := store.Apply(t.Context(), add(a)); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(DefaultWait)
	if _, err := store.Apply(t.Context(), a.Flush(clock)); err != nil {
		t.Fatal(err)
	}
	type edge struct {
		calls, errors int64
		conn          graph.ConnectionType
	}
	edges := map[string]*edge{}
	for _, c := range store.calls {
		k := c.From + " -> " + c.To
		e := edges[k]
		if e == nil {
			e = &edge{conn: c.ConnectionType}
			edges[k] = e
		}
		e.calls += c.Calls
		e.errors += c.Errors
	}
	var lines []string
	for k, e := range edges {
		conn := string(e.conn)
		if conn == "" {
			conn = `""`
		}
		lines = append(lines, fmt.Sprintf("%s calls=%d errors=%d connection_type=%s", k, e.calls, e.errors, conn))
	}
	sort.Strings(lines)
	s := a.Stats()
	lines = append(lines, fmt.Sprintf("# spans=%d paired=%d database=%d virtual=%d roots=%d expired=%d",
		s.Spans, s.Paired, s.Database, s.Virtual, s.Roots, s.Expired))
	return strings.Join(lines, "\n") + "\n"
}
