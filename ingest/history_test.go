package ingest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest/ingesttest"
)

// memStore is an in-memory store that merges events as the real stores
// do (graph.Merge), for replaying a source's deliveries.
type memStore struct{ events map[string]graph.Event }

func (m *memStore) Apply(_ context.Context, b graph.Batch) (graph.Written, error) {
	var w graph.Written
	for _, e := range b.Events {
		old, ok := m.events[e.ID]
		switch {
		case !ok:
			m.events[e.ID] = e
			w.Inserted++
		default:
			merged, changed := graph.Merge(old, e)
			if !changed {
				w.Duplicates++
				continue
			}
			m.events[e.ID] = merged
			w.Updated++
		}
	}
	return w, nil
}

func (m *memStore) Events(_ context.Context, f graph.EventFilter) (graph.Page[graph.Event], error) {
	var out []graph.Event
	for _, e := range m.events {
		if f.Matches(&e) {
			out = append(out, e)
		}
	}
	graph.SortEvents(out)
	if f.First > 0 && len(out) > f.First {
		out = out[:f.First]
	}
	return graph.Page[graph.Event]{Items: out}, nil
}

// history is a recorded sequence of one source's deliveries, in the order
// they arrived: repeats, retries, status updates.
type history struct {
	Format string `json:"format"`
	// Labels is --slo-service-label for the replay ("" = the defaults).
	Labels     string            `json:"sloServiceLabels,omitempty"`
	Deliveries []json.RawMessage `json:"deliveries"`
}

type historyGolden struct {
	// Written is what each delivery did: inserted, updated, duplicates.
	Written [][3]int `json:"written"`
	// Stored is what the store holds afterwards, oldest first.
	Stored []graph.Event `json:"stored"`
}

// TestHistories replays each testdata/history file through its decoder,
// the configured service labels, Episodes and a store that merges like
// the real ones, and compares what ends up stored with the golden file:
// it is what a source's real behaviour (reconcile loops, values-only
// upgrades, status updates, several alerts per SLO) leaves in sregraph.
func TestHistories(t *testing.T) {
	files, err := filepath.Glob(ingesttest.Testdata("history", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no histories: %v", err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, ".golden.json") {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var h history
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			dec, ok := FormatDecoder(h.Format)
			if !ok {
				t.Fatalf("format %q unknown", h.Format)
			}
			labels, err := ParseServiceLabels(h.Labels)
			if err != nil {
				t.Fatal(err)
			}
			store := &memStore{events: map[string]graph.Event{}}
			episodes := NewEpisodes(store, store)
			got := historyGolden{Written: [][3]int{}}
			for i, body := range h.Deliveries {
				items, err := dec(body, nil, testNow)
				if err != nil {
					t.Fatalf("delivery %d: %v", i, err)
				}
				split := SplitItems(labels.Apply(items))
				for _, r := range split.Rejected {
					t.Errorf("delivery %d: item %d rejected: %v", i, r.Index, r.Err)
				}
				w, err := episodes.Apply(context.Background(), split.Batch)
				if err != nil {
					t.Fatalf("delivery %d: %v", i, err)
				}
				got.Written = append(got.Written, [3]int{w.Inserted, w.Updated, w.Duplicates})
			}
			for _, e := range store.events {
				got.Stored = append(got.Stored, e)
			}
			graph.SortEvents(got.Stored)
			for i, j := 0, len(got.Stored)-1; i < j; i, j = i+1, j-1 {
				got.Stored[i], got.Stored[j] = got.Stored[j], got.Stored[i]
			}
			ingesttest.CheckGoldenJSON(t, strings.TrimSuffix(path, ".json")+".golden.json", got)
		})
	}
}
