package pebble

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// orgVersion names the generator's output; change it whenever the
// generator changes so cached organisations are rebuilt.
const orgVersion = 3

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
func benchOrgConfig(tb testing.TB) orgConfig {
	c := orgConfig{Services: 5000, Events: 5_000_000, Days: 30, CallHours: 8, Layers: 8, Seed: 42}
	for name, dst := range map[string]*int{"SREGRAPH_BENCH_EVENTS": &c.Events, "SREGRAPH_BENCH_SERVICES": &c.Services} {
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
// of the edges, the events in batches of 1000, and 1-minute call buckets
// on every edge for the last CallHours hours.
func (o *org) build(ctx context.Context, s *Store, progress io.Writer) error {
	started := time.Now()
	var deps []graph.Dependency
	for i, callees := range o.calls {
		for j, c := range callees {
			if (i+j)%10 == 0 {
				deps = append(deps, graph.Dependency{From: o.names[i], To: o.names[c], Source: "backstage"})
			}
		}
	}
	if _, err := s.Apply(ctx, graph.Batch{Dependencies: deps}); err != nil {
		return err
	}
	gen := newEventGen(o, o.cfg.Seed)
	span := time.Duration(o.cfg.Days) * 24 * time.Hour
	batch := make([]graph.Event, 0, 1000)
	for n := 0; n < o.cfg.Events; {
		batch = batch[:0]
		for ; len(batch) < 1000 && n < o.cfg.Events; n++ {
			batch = append(batch, gen.next(span))
		}
		if _, err := s.Apply(ctx, graph.Batch{Events: batch}); err != nil {
			return err
		}
		if n%500_000 == 0 || n == o.cfg.Events {
			fmt.Fprintf(progress, "org: %d/%d events (%s)\n", n, o.cfg.Events, time.Since(started).Round(time.Second))
		}
	}
	r := rand.New(rand.NewPCG(o.cfg.Seed, 3))
	first := orgEnd.Add(-time.Duration(o.cfg.CallHours) * time.Hour)
	var calls []graph.CallBucket
	flush := func() error {
		if len(calls) == 0 {
			return nil
		}
		_, err := s.Apply(ctx, graph.Batch{Calls: calls})
		calls = calls[:0]
		return err
	}
	for h := first; h.Before(orgEnd); h = h.Add(time.Hour) {
		for i, callees := range o.calls {
			for _, c := range callees {
				base := int64(50 + (i*31+c)%400)
				for m := range 60 {
					n := base + r.Int64N(base/4+1)
					calls = append(calls, graph.CallBucket{
						From: o.names[i], To: o.names[c], Start: h.Add(time.Duration(m) * time.Minute),
						Producer: "collector-0", Calls: n, Errors: r.Int64N(n/50 + 1), LatencySum: time.Duration(n) * 12 * time.Millisecond,
					})
				}
			}
			if len(calls) >= 30000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		fmt.Fprintf(progress, "org: call buckets up to %s (%s)\n", h.Add(time.Hour).Format(time.RFC3339), time.Since(started).Round(time.Second))
	}
	return nil
}

// openBenchOrg opens the organisation for cfg, generating it on first use
// into a cache directory under the OS temp dir that later runs reuse.
func openBenchOrg(b *testing.B, cfg orgConfig) (*Store, *org) {
	b.Helper()
	o := newOrg(cfg)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("sregraph-bench-org-v%d-s%d-e%d-d%d-h%d", orgVersion, cfg.Services, cfg.Events, cfg.Days, cfg.CallHours))
	done := filepath.Join(dir, "complete")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := os.Stat(done); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "org: generating %d events over %d services into %s\n", cfg.Events, cfg.Services, dir)
		s, err := Open(dir, Options{Now: func() time.Time { return orgEnd }, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if err := o.build(context.Background(), s, os.Stderr); err != nil {
			s.Close()
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(done, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// The block cache a server would give a store of this size: the whole
	// organisation fits (SREGRAPH_BENCH_CACHE_MB, default 1024).
	cacheMB := 1024
	if v := os.Getenv("SREGRAPH_BENCH_CACHE_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SREGRAPH_BENCH_CACHE_MB=%q: want a positive integer", v)
		}
		cacheMB = n
	}
	s, err := Open(dir, Options{Now: func() time.Time { return orgEnd }, Logger: quiet, CacheSize: int64(cacheMB) << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, o
}
