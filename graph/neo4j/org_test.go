package neo4j

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// The generated organisation below is the embedded store's benchmark
// organisation (graph/pebble/org_test.go), kept identical so that the two
// stores are measured on the same data: same seed, same services, edges,
// events and call buckets.

// orgEnd is the instant the generated history ends at.
var orgEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// orgConfig sizes a generated organisation.
type orgConfig struct {
	Services int
	Events   int
	// Days of events before orgEnd.
	Days int
	// CallHours of 1-minute call buckets on every edge before orgEnd.
	CallHours int
	Layers    int
	Seed      uint64
}

// benchOrgConfig reads SREGRAPH_BENCH_EVENTS and SREGRAPH_BENCH_SERVICES;
// the defaults are 5,000,000 events over 5,000 services.
//
// SREGRAPH_BENCH_CALL_HOURS (default 8) sets the hours of call buckets.
func benchOrgConfig(tb testing.TB) orgConfig {
	c := orgConfig{Services: 5000, Events: 5_000_000, Days: 30, CallHours: 8, Layers: 8, Seed: 42}
	for name, dst := range map[string]*int{"SREGRAPH_BENCH_EVENTS": &c.Events, "SREGRAPH_BENCH_SERVICES": &c.Services, "SREGRAPH_BENCH_CALL_HOURS": &c.CallHours} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				tb.Fatalf("%s=%q: want a positive integer", name, v)
			}
			*dst = n
		}
	}
	return c
}

var serviceWords = []string{"checkout", "payments", "ledger", "cart", "search", "auth", "catalog", "inventory",
	"shipping", "pricing", "billing", "accounts", "orders", "reviews", "media", "notifications", "fraud",
	"recommendations", "gateway", "profile", "session", "tax", "currency", "warehouse", "returns"}

// org is a generated organisation: services in layers, each calling 3 to
// 5 services in the next one or two layers.
type org struct {
	cfg      orgConfig
	names    []string
	layerOf  []int
	calls    [][]int // callee indexes per service
	perLayer int
}

func newOrg(cfg orgConfig) *org {
	r := rand.New(rand.NewPCG(cfg.Seed, 1))
	o := &org{cfg: cfg, perLayer: (cfg.Services + cfg.Layers - 1) / cfg.Layers}
	for i := range cfg.Services {
		o.names = append(o.names, fmt.Sprintf("%s-%04d", serviceWords[i%len(serviceWords)], i))
		o.layerOf = append(o.layerOf, i/o.perLayer)
	}
	o.calls = make([][]int, cfg.Services)
	for i := range cfg.Services {
		layer := o.layerOf[i]
		if layer >= cfg.Layers-1 {
			continue
		}
		fan := 3 + r.IntN(3)
		seen := map[int]bool{}
		for len(o.calls[i]) < fan {
			next := layer + 1
			if r.IntN(5) == 0 && layer+2 < cfg.Layers {
				next = layer + 2
			}
			lo := next * o.perLayer
			hi := min(lo+o.perLayer, cfg.Services)
			if lo >= hi {
				break
			}
			callee := lo + r.IntN(hi-lo)
			if !seen[callee] {
				seen[callee] = true
				o.calls[i] = append(o.calls[i], callee)
			}
		}
	}
	return o
}

var eventKinds = []struct {
	kind   graph.Kind
	weight int
	source string
}{
	{graph.KindDeploy, 30, "argo-cd"}, {graph.KindConfig, 8, "consul"}, {graph.KindFlag, 8, "launchdarkly"},
	{graph.KindScale, 20, "kubernetes"}, {graph.KindRollback, 2, "argo-cd"}, {graph.KindTicket, 10, "jira"},
	{graph.KindIncident, 3, "pagerduty"}, {graph.KindAnomaly, 12, "prometheus"}, {graph.KindSLOBreach, 7, "alertmanager"},
}

// eventGen makes realistic events: a skewed choice of service (some
// services change far more often than others), weighted kinds, instants
// spread over the configured days.
type eventGen struct {
	o     *org
	r     *rand.Rand
	total int
	seq   int
}

func newEventGen(o *org, seed uint64) *eventGen {
	total := 0
	for _, k := range eventKinds {
		total += k.weight
	}
	return &eventGen{o: o, r: rand.New(rand.NewPCG(seed, 2)), total: total}
}

func (g *eventGen) next(span time.Duration) graph.Event {
	g.seq++
	svc := int(float64(len(g.o.names)) * math.Pow(g.r.Float64(), 1.3))
	w := g.r.IntN(g.total)
	k := eventKinds[0]
	for _, c := range eventKinds {
		if w < c.weight {
			k = c
			break
		}
		w -= c.weight
	}
	at := orgEnd.Add(-time.Duration(g.r.Int64N(int64(span)))).Truncate(time.Millisecond)
	name := g.o.names[svc]
	e := graph.Event{
		Kind: k.kind, Service: name, Environment: "prod", At: at, Source: k.source,
		ExternalID: fmt.Sprintf("%s-%d-%d", k.source, g.o.cfg.Seed, g.seq),
		Summary:    fmt.Sprintf("%s %s on %s", k.kind, strconv.Itoa(g.seq), name),
		URL:        "https://ci.example.com/runs/" + strconv.Itoa(g.seq),
		Attributes: map[string]any{"revision": fmt.Sprintf("%08x", g.r.Uint32()), "actor": "user" + strconv.Itoa(g.r.IntN(300)), "replicas": float64(g.r.IntN(20))},
	}
	if k.kind == graph.KindSLOBreach || k.kind == graph.KindIncident {
		end := at.Add(time.Duration(5+g.r.IntN(120)) * time.Minute)
		if end.Before(orgEnd) {
			e.End = &end
		}
	}
	if err := e.Normalize(orgEnd); err != nil {
		panic(fmt.Sprintf("generated an invalid event: %v", err))
	}
	return e
}

// build writes the organisation into s: declared dependencies for a tenth
// of the edges, the events in batches of eventBatch, and 1-minute call
// buckets on every edge for the last CallHours hours, 30,000 per batch. It
// returns the time spent writing events and call buckets.
func (o *org) build(ctx context.Context, s *Store, eventBatch int, progress io.Writer) (events, calls time.Duration, err error) {
	var deps []graph.Dependency
	for i, callees := range o.calls {
		for j, c := range callees {
			if (i+j)%10 == 0 {
				deps = append(deps, graph.Dependency{From: o.names[i], To: o.names[c], Source: "backstage"})
			}
		}
	}
	if _, err := s.Apply(ctx, graph.Batch{Dependencies: deps}); err != nil {
		return 0, 0, err
	}
	started := time.Now()
	gen := newEventGen(o, o.cfg.Seed)
	span := time.Duration(o.cfg.Days) * 24 * time.Hour
	batch := make([]graph.Event, 0, eventBatch)
	for n := 0; n < o.cfg.Events; {
		batch = batch[:0]
		for ; len(batch) < eventBatch && n < o.cfg.Events; n++ {
			batch = append(batch, gen.next(span))
		}
		if _, err := s.Apply(ctx, graph.Batch{Events: batch}); err != nil {
			return 0, 0, err
		}
		if n%100_000 == 0 || n == o.cfg.Events {
			fmt.Fprintf(progress, "org: %d/%d events (%s)\n", n, o.cfg.Events, time.Since(started).Round(time.Second))
		}
	}
	events = time.Since(started)
	started = time.Now()
	r := rand.New(rand.NewPCG(o.cfg.Seed, 3))
	first := orgEnd.Add(-time.Duration(o.cfg.CallHours) * time.Hour)
	var buckets []graph.CallBucket
	flush := func() error {
		if len(buckets) == 0 {
			return nil
		}
		_, err := s.Apply(ctx, graph.Batch{Calls: buckets})
		buckets = buckets[:0]
		return err
	}
	for h := first; h.Before(orgEnd); h = h.Add(time.Hour) {
		for i, callees := range o.calls {
			for _, c := range callees {
				base := int64(50 + (i*31+c)%400)
				for m := range 60 {
					n := base + r.Int64N(base/4+1)
					buckets = append(buckets, graph.CallBucket{
						From: o.names[i], To: o.names[c], Start: h.Add(time.Duration(m) * time.Minute),
						Producer: "collector-0", Calls: n, Errors: r.Int64N(n/50 + 1), LatencySum: time.Duration(n) * 12 * time.Millisecond,
					})
				}
			}
			if len(buckets) >= 30000 {
				if err := flush(); err != nil {
					return 0, 0, err
				}
			}
		}
		if err := flush(); err != nil {
			return 0, 0, err
		}
		fmt.Fprintf(progress, "org: call buckets up to %s (%s)\n", h.Add(time.Hour).Format(time.RFC3339), time.Since(started).Round(time.Second))
	}
	return events, time.Since(started), nil
}

// openBenchOrg loads the organisation for cfg into the emptied database,
// once per test binary run, and reports the load rates.
func openBenchOrg(b *testing.B, cfg orgConfig) (*Store, *org) {
	b.Helper()
	tc := testConfig(b)
	loaded.once.Do(func() {
		ctx := context.Background()
		s, err := Open(ctx, tc, Options{Now: func() time.Time { return orgEnd }})
		if err != nil {
			loaded.err = err
			return
		}
		o := newOrg(cfg)
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
		ev, calls, err := o.build(ctx, s, 5000, os.Stderr)
		if err != nil {
			loaded.err = err
			return
		}
		edges := 0
		for _, callees := range o.calls {
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
func holdsOrg(ctx context.Context, s *Store, cfg orgConfig) bool {
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
	org   *org
	err   error
}
