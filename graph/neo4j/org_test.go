package neo4j

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// openBenchOrg loads the organisation for cfg into the emptied database,
// once per test binary run, and reports the load rates.
func openBenchOrg(b *testing.B, cfg graphtest.OrgConfig) (*Store, *graphtest.Org) {
	b.Helper()
	tc := testConfig(b)
	loaded.once.Do(func() {
		ctx := context.Background()
		s, err := Open(ctx, tc, Options{Now: func() time.Time { return graphtest.OrgEnd }})
		if err != nil {
			loaded.err = err
			return
		}
		o := graphtest.NewOrg(cfg)
		if os.Getenv("SREGRAPH_BENCH_REUSE") == "1" && holdsOrg(ctx, s, cfg) {
			fmt.Fprintf(os.Stderr, "org: reusing the %d events over %d services already in %s\n", cfg.Events, cfg.Services, tc.URI)
			loaded.store, loaded.org = s, o
			return
		}
		if err := s.wipe(ctx); err != nil {
			loaded.err = err
			return
		}
		fmt.Fprintf(os.Stderr, "org: loading %d events over %d services into %s\n", cfg.Events, cfg.Services, tc.URI)
		ev, calls, err := o.Build(ctx, s, 5000, os.Stderr)
		if err != nil {
			loaded.err = err
			return
		}
		edges := 0
		for _, callees := range o.Calls {
			edges += len(callees)
		}
		fmt.Fprintf(os.Stderr, "org: %d events in %s (%.0f events/s); %d call buckets in %s (%.0f buckets/s)\n",
			cfg.Events, ev.Round(time.Millisecond), float64(cfg.Events)/ev.Seconds(),
			edges*cfg.CallHours*60, calls.Round(time.Millisecond), float64(edges*cfg.CallHours*60)/calls.Seconds())
		loaded.store, loaded.org = s, o
	})
	if loaded.err != nil {
		b.Fatalf("load the generated org: %v", loaded.err)
	}
	return loaded.store, loaded.org
}

// holdsOrg reports whether the database already holds an org of cfg's
// size (SREGRAPH_BENCH_REUSE=1 skips reloading it then).
func holdsOrg(ctx context.Context, s *Store, cfg graphtest.OrgConfig) bool {
	events, err := s.CountEvents(ctx, graph.EventFilter{})
	if err != nil || events != cfg.Events {
		return false
	}
	services, err := s.CountServices(ctx, graph.ServiceFilter{})
	return err == nil && services == cfg.Services
}

// loaded is the generated org written into the database, shared by the
// benchmarks of one run.
var loaded struct {
	once  sync.Once
	store *Store
	org   *graphtest.Org
	err   error
}
