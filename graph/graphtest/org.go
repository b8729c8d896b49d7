package graphtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// The generated organisation below is what every store's benchmarks run
// on, so the stores are measured on the same data: same seed, same
// services, edges, events and call buckets.

// OrgEnd is the instant the generated history ends at.
var OrgEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// OrgConfig sizes a generated organisation.
type OrgConfig struct {
	Services int
	Events   int
	// Days of events before OrgEnd.
	Days int
	// CallHours of 1-minute call buckets on every edge before OrgEnd.
	CallHours int
	Layers    int
	Seed      uint64
}

// BenchOrgConfig reads SREGRAPH_BENCH_EVENTS and SREGRAPH_BENCH_SERVICES;
// the defaults are 5,000,000 events over 5,000 services.
//
// SREGRAPH_BENCH_CALL_HOURS (default 8) sets the hours of call buckets.
func BenchOrgConfig(tb testing.TB) OrgConfig {
	c := OrgConfig{Services: 5000, Events: 5_000_000, Days: 30, CallHours: 8, Layers: 8, Seed: 42}
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

// Org is a generated organisation: services in layers, each calling 3 to
// 5 services in the next one or two layers.
type Org struct {
	Cfg   OrgConfig
	Names []string
	// Calls holds the callee indexes of each service.
	Calls    [][]int
	PerLayer int
	layerOf  []int
}

// NewOrg generates the organisation cfg describes, deterministically.
func NewOrg(cfg OrgConfig) *Org {
	r := rand.New(rand.NewPCG(cfg.Seed, 1))
	o := &Org{Cfg: cfg, PerLayer: (cfg.Services + cfg.Layers - 1) / cfg.Layers}
	for i := range cfg.Services {
		o.Names = append(o.Names, fmt.Sprintf("%s-%04d", serviceWords[i%len(serviceWords)], i))
		o.layerOf = append(o.layerOf, i/o.PerLayer)
	}
	o.Calls = make([][]int, cfg.Services)
	for i := range cfg.Services {
		layer := o.layerOf[i]
		if layer >= cfg.Layers-1 {
			continue
		}
		fan := 3 + r.IntN(3)
		seen := map[int]bool{}
		for len(o.Calls[i]) < fan {
			next := layer + 1
			if r.IntN(5) == 0 && layer+2 < cfg.Layers {
				next = layer + 2
			}
			lo := next * o.PerLayer
			hi := min(lo+o.PerLayer, cfg.Services)
			if lo >= hi {
				break
			}
			callee := lo + r.IntN(hi-lo)
			if !seen[callee] {
				seen[callee] = true
				o.Calls[i] = append(o.Calls[i], callee)
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

// EventGen makes realistic events: a skewed choice of service (some
// services change far more often than others), weighted kinds, instants
// spread over the configured days.
type EventGen struct {
	o     *Org
	r     *rand.Rand
	total int
	seq   int
}

// NewEventGen returns a generator of o's events; the same seed gives the same events.
func NewEventGen(o *Org, seed uint64) *EventGen {
	total := 0
	for _, k := range eventKinds {
		total += k.weight
	}
	return &EventGen{o: o, r: rand.New(rand.NewPCG(seed, 2)), total: total}
}

// Next makes the next event, at an instant within span before OrgEnd.
func (g *EventGen) Next(span time.Duration) graph.Event { return g.NextBefore(OrgEnd, span) }

// NextBefore makes the next event, at an instant within span before end
// (which must not be after OrgEnd).
func (g *EventGen) NextBefore(end time.Time, span time.Duration) graph.Event {
	g.seq++
	svc := int(float64(len(g.o.Names)) * math.Pow(g.r.Float64(), 1.3))
	w := g.r.IntN(g.total)
	k := eventKinds[0]
	for _, c := range eventKinds {
		if w < c.weight {
			k = c
			break
		}
		w -= c.weight
	}
	at := end.Add(-time.Duration(g.r.Int64N(int64(span)))).Truncate(time.Millisecond)
	name := g.o.Names[svc]
	e := graph.Event{
		Kind: k.kind, Service: name, Environment: "prod", At: at, Source: k.source,
		ExternalID: fmt.Sprintf("%s-%d-%d", k.source, g.o.Cfg.Seed, g.seq),
		Summary:    fmt.Sprintf("%s %s on %s", k.kind, strconv.Itoa(g.seq), name),
		URL:        "https://ci.example.com/runs/" + strconv.Itoa(g.seq),
		Attributes: map[string]any{"revision": fmt.Sprintf("%08x", g.r.Uint32()), "actor": "user" + strconv.Itoa(g.r.IntN(300)), "replicas": float64(g.r.IntN(20))},
	}
	if k.kind == graph.KindSLOBreach || k.kind == graph.KindIncident {
		end := at.Add(time.Duration(5+g.r.IntN(120)) * time.Minute)
		if end.Before(OrgEnd) {
			e.End = &end
		}
	}
	if err := e.Normalize(OrgEnd); err != nil {
		panic(fmt.Sprintf("generated an invalid event: %v", err))
	}
	return e
}

// Build writes the organisation into s: declared dependencies for a tenth
// of the edges, the events in batches of eventBatch, and 1-minute call
// buckets on every edge for the last CallHours hours, 30,000 per batch. It
// returns the time spent writing events and call buckets.
func (o *Org) Build(ctx context.Context, s graph.Applier, eventBatch int, progress io.Writer) (events, calls time.Duration, err error) {
	var deps []graph.Dependency
	for i, callees := range o.Calls {
		for j, c := range callees {
			if (i+j)%10 == 0 {
				deps = append(deps, graph.Dependency{From: o.Names[i], To: o.Names[c], Source: "backstage"})
			}
		}
	}
	if _, err := s.Apply(ctx, graph.Batch{Dependencies: deps}); err != nil {
		return 0, 0, err
	}
	started := time.Now()
	gen := NewEventGen(o, o.Cfg.Seed)
	span := time.Duration(o.Cfg.Days) * 24 * time.Hour
	batch := make([]graph.Event, 0, eventBatch)
	for n := 0; n < o.Cfg.Events; {
		batch = batch[:0]
		for ; len(batch) < eventBatch && n < o.Cfg.Events; n++ {
			batch = append(batch, gen.Next(span))
		}
		if _, err := s.Apply(ctx, graph.Batch{Events: batch}); err != nil {
			return 0, 0, err
		}
		if n%100_000 == 0 || n == o.Cfg.Events {
			fmt.Fprintf(progress, "org: %d/%d events (%s)\n", n, o.Cfg.Events, time.Since(started).Round(time.Second))
		}
	}
	events = time.Since(started)
	started = time.Now()
	r := rand.New(rand.NewPCG(o.Cfg.Seed, 3))
	first := OrgEnd.Add(-time.Duration(o.Cfg.CallHours) * time.Hour)
	var buckets []graph.CallBucket
	flush := func() error {
		if len(buckets) == 0 {
			return nil
		}
		_, err := s.Apply(ctx, graph.Batch{Calls: buckets})
		buckets = buckets[:0]
		return err
	}
	for h := first; h.Before(OrgEnd); h = h.Add(time.Hour) {
		for i, callees := range o.Calls {
			for _, c := range callees {
				base := int64(50 + (i*31+c)%400)
				for m := range 60 {
					n := base + r.Int64N(base/4+1)
					buckets = append(buckets, graph.CallBucket{
						From: o.Names[i], To: o.Names[c], Start: h.Add(time.Duration(m) * time.Minute),
						Producer: "collector-0", Calls: n, Errors: r.Int64N(n/50 + 1), LatencySum: time.Duration(n) * 12 * time.Millisecond,
						Latency: latencyOf(n),
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

// latencyOf spreads n calls over the latency histogram the way a healthy
// service's calls spread: 30% under 10 ms, 50% under 25 ms, 15% under
// 50 ms, the rest under 100 ms.
func latencyOf(n int64) (h [graph.LatencyBuckets]int64) {
	h[graph.LatencySlot(8*time.Millisecond)] = n * 30 / 100
	h[graph.LatencySlot(20*time.Millisecond)] = n * 50 / 100
	h[graph.LatencySlot(40*time.Millisecond)] = n * 15 / 100
	h[graph.LatencySlot(80*time.Millisecond)] = n - n*30/100 - n*50/100 - n*15/100
	return h
}
