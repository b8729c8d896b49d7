package graph

import (
	"context"
	"strings"
	"testing"
	"time"
)

// traffic makes an edge's per-minute buckets over [start, start+n min):
// at(i) gives minute i's calls, error ratio and mean latency in ms.
func traffic(from, to string, start time.Time, n int, at func(i int) (calls int64, ratio, ms float64)) EdgeActivity {
	a := EdgeActivity{From: from, To: to}
	for i := range n {
		c, r, ms := at(i)
		lat := time.Duration(float64(c) * ms * float64(time.Millisecond))
		a.Buckets = append(a.Buckets, BucketCount{Minute: MinuteOf(start.Add(time.Duration(i) * time.Minute)), Calls: c,
			Errors: int64(float64(c) * r), Latency: LatencyOfCode(LatencyCode(lat, c), c)})
	}
	return a
}

// steady is an edge's usual traffic, changing to after at minute `from`
// (nil: never).
func steady(calls int64, ratio, ms float64, from int, after func() (int64, float64, float64)) func(int) (int64, float64, float64) {
	return func(i int) (int64, float64, float64) {
		// A little movement minute to minute, as real traffic has.
		c := calls + int64(i%5) - 2
		if after != nil && i >= from {
			return after()
		}
		return c, ratio, ms * (1 + 0.02*float64(i%3))
	}
}

func TestEvidence(t *testing.T) {
	breach := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	start := breach.Add(-4 * time.Hour)
	n := int((4*time.Hour + 15*time.Minute) / time.Minute)
	onset := n - 15 - 8 // 8 minutes before the breach
	at := func(d time.Duration) time.Time { return breach.Add(d) }
	type want struct {
		origin      string
		linked      bool
		first       string // "kind/service" of the top change
		notOrigin   []string
		reasonParts []string
	}
	tests := []struct {
		name string
		// focus is the breached service: the first edge's caller unless set.
		focus  string
		edges  []EdgeActivity
		events []Event
		want   want
	}{
		{
			name:  "errors start two hops down; the breached service's own deploy explains nothing",
			focus: "checkout",
			edges: []EdgeActivity{
				traffic("web", "checkout", start, n, steady(300, 0.002, 80, onset+2, func() (int64, float64, float64) { return 300, 0.03, 300 })),
				traffic("checkout", "payments", start, n, steady(200, 0.002, 60, onset+1, func() (int64, float64, float64) { return 200, 0.04, 250 })),
				traffic("payments", "ledger", start, n, steady(400, 0.002, 35, onset, func() (int64, float64, float64) { return 400, 0.09, 240 })),
				traffic("ledger", "ledger-db", start, n, steady(900, 0.0, 4, 0, nil)),
			},
			events: []Event{
				ev(KindDeploy, "checkout", at(-12*time.Minute), "checkout 7.2.0"),
				ev(KindDeploy, "ledger", at(-9*time.Minute), "ledger 2.14.0"),
			},
			want: want{origin: "ledger", linked: true, first: "deploy/ledger", notOrigin: []string{"payments", "checkout"},
				reasonParts: []string{"ledger is where it starts", "errors on payments→ledger rose from 0.0% to 9.0%"}},
		},
		{
			name: "only one caller's calls fail: that caller's deploy, not the callee's",
			edges: []EdgeActivity{
				traffic("web", "payouts", start, n, steady(100, 0.001, 50, onset+1, func() (int64, float64, float64) { return 100, 0.2, 50 })),
				traffic("payouts", "bank", start, n, steady(100, 0.001, 30, onset, func() (int64, float64, float64) { return 100, 0.3, 30 })),
				traffic("ledger", "bank", start, n, steady(300, 0.001, 30, 0, nil)),
				traffic("refunds", "bank", start, n, steady(300, 0.001, 30, 0, nil)),
			},
			events: []Event{
				ev(KindDeploy, "bank", at(-60*time.Minute), "bank 3.9.0"),
				ev(KindDeploy, "payouts", at(-9*time.Minute), "payouts 5.3.0"),
			},
			want: want{origin: "bank", linked: true, first: "deploy/payouts",
				reasonParts: []string{"most calls into bank from other callers stayed healthy"}},
		},
		{
			name: "nothing changed: the degraded dependency is named first",
			edges: []EdgeActivity{
				traffic("checkout", "gateway", start, n, steady(200, 0.002, 90, onset+1, func() (int64, float64, float64) { return 200, 0.1, 900 })),
				traffic("gateway", "acquirer", start, n, steady(200, 0.002, 80, onset, func() (int64, float64, float64) { return 200, 0.13, 800 })),
				traffic("refunds", "acquirer", start, n, steady(50, 0.002, 80, onset, func() (int64, float64, float64) { return 50, 0.12, 700 })),
				traffic("checkout", "search", start, n, steady(300, 0.001, 20, 0, nil)),
			},
			events: []Event{
				ev(KindDeploy, "search", at(-9*time.Minute), "search 1.0.1"),
				ev(KindFlag, "checkout", at(-30*time.Minute), "new-cart on"),
			},
			want: want{origin: "acquirer", linked: true, first: "degradation/acquirer",
				reasonParts: []string{"no change explains this", "acquirer calls nothing that degraded before it"}},
		},
		{
			name: "a cache stops answering: the surge into the database is its fallback",
			edges: []EdgeActivity{
				traffic("search", "rates", start, n, steady(300, 0.001, 40, onset+2, func() (int64, float64, float64) { return 300, 0.05, 200 })),
				traffic("rates", "cache", start, n, steady(1000, 0.0, 1, onset, func() (int64, float64, float64) { return 1000, 0.0, 6 })),
				traffic("rates", "db", start, n, steady(100, 0.0, 8, onset+1, func() (int64, float64, float64) { return 600, 0.06, 60 })),
			},
			events: []Event{
				ev(KindDeploy, "rates", at(-4*time.Minute), "rates 8.1"),
				ev(KindConfig, "db", at(-70*time.Minute), "pool size"),
			},
			want: want{origin: "cache", linked: true, first: "degradation/cache", notOrigin: []string{"rates", "db"},
				reasonParts: []string{"latency on rates→cache 1.0 ms → 5.8 ms"}},
		},
		{
			name:  "a producer's messages break two consumers of the queue: the producer, not the consumer's downstream",
			focus: "push",
			edges: []EdgeActivity{
				traffic("chat", "queue", start, n, steady(4000, 0.0001, 4, 0, nil)),
				traffic("queue", "push", start, n, steady(4000, 0.0005, 4, onset, func() (int64, float64, float64) { return 4000, 0.4, 7 })),
				traffic("queue", "indexer", start, n, steady(4000, 0.0005, 4, onset, func() (int64, float64, float64) { return 4000, 0.37, 6 })),
				traffic("queue", "realtime", start, n, steady(4000, 0.0002, 3, 0, nil)),
				traffic("push", "render", start, n, steady(1600, 0.0008, 9, onset, func() (int64, float64, float64) { return 1200, 0.33, 9 })),
				traffic("indexer", "search-db", start, n, steady(900, 0.0006, 25, onset, func() (int64, float64, float64) { return 560, 0.0006, 25 })),
			},
			events: []Event{
				ev(KindDeploy, "chat", at(-9*time.Minute), "chat 7.4.0"),
				ev(KindDeploy, "render", at(-7*time.Minute), "render 2.20.0"),
				ev(KindDeploy, "push", at(-45*time.Minute), "push 5.12.0"),
			},
			want: want{origin: "queue", linked: true, first: "deploy/chat", notOrigin: []string{"push", "render"},
				reasonParts: []string{"chat feeds queue", "calls from queue into push and indexer degraded together"}},
		},
		{
			name:  "two callees fail together on a database they share: the database, not what the caller sends",
			focus: "gateway",
			edges: []EdgeActivity{
				traffic("gateway", "orders", start, n, steady(500, 0.001, 30, onset+1, func() (int64, float64, float64) { return 500, 0.2, 90 })),
				traffic("gateway", "tracking", start, n, steady(500, 0.001, 30, onset+1, func() (int64, float64, float64) { return 500, 0.2, 90 })),
				traffic("orders", "pg", start, n, steady(800, 0.0, 5, onset, func() (int64, float64, float64) { return 800, 0.25, 15 })),
				traffic("tracking", "pg", start, n, steady(800, 0.0, 5, onset, func() (int64, float64, float64) { return 800, 0.25, 15 })),
			},
			events: []Event{
				ev(KindDeploy, "gateway", at(-9*time.Minute), "gateway 3.1"),
				ev(KindTicket, "pg", at(-9*time.Minute), "pgbouncer rolling restart"),
			},
			want: want{origin: "pg", linked: true, first: "ticket/pg", notOrigin: []string{"gateway"}},
		},
		{
			name:  "a cache fails behind a connection pool: the surge through the pool is the cache's fallback",
			focus: "search",
			edges: []EdgeActivity{
				traffic("search", "rates", start, n, steady(300, 0.001, 40, onset+2, func() (int64, float64, float64) { return 300, 0.05, 200 })),
				traffic("rates", "cache", start, n, steady(1000, 0.0, 1, onset, func() (int64, float64, float64) { return 1000, 0.0, 6 })),
				traffic("rates", "pool", start, n, steady(100, 0.0, 8, onset+1, func() (int64, float64, float64) { return 600, 0.06, 60 })),
				traffic("pool", "db", start, n, steady(100, 0.0, 6, onset+1, func() (int64, float64, float64) { return 600, 0.04, 35 })),
			},
			events: []Event{
				ev(KindConfig, "pool", at(-70*time.Minute), "pool size"),
			},
			want: want{origin: "cache", linked: true, first: "degradation/cache", notOrigin: []string{"rates", "db", "pool"}},
		},
		{
			name:  "a batch's scans lead into the shared database; the others' retries follow and blame nobody",
			focus: "orders",
			edges: []EdgeActivity{
				traffic("api", "orders", start, n, steady(600, 0.001, 30, onset+2, func() (int64, float64, float64) { return 900, 0.12, 240 })),
				traffic("orders", "db", start, n, steady(800, 0.0, 5, onset+1, func() (int64, float64, float64) { return 1300, 0.06, 80 })),
				traffic("tracking", "db", start, n, steady(400, 0.0, 4, onset+1, func() (int64, float64, float64) { return 600, 0.03, 40 })),
				traffic("batch", "db", start, n, steady(10, 0.0, 40, onset, func() (int64, float64, float64) { return 6000, 0.0, 240 })),
			},
			events: []Event{
				ev(KindDeploy, "orders", at(-9*time.Minute), "orders 8.2"),
				ev(KindConfig, "batch", at(-12*time.Minute), "batch schedule every 2 h"),
			},
			want: want{origin: "db", linked: true, first: "config/batch",
				reasonParts: []string{"calls from batch to db ×"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &memSource{edges: tc.edges, events: tc.events}
			focus := tc.focus
			if focus == "" {
				focus = tc.edges[0].From
			}
			q := withWindow(ContextQuery{Service: focus, At: breach, Breach: &Breach{ID: "b", Service: focus, StartedAt: breach}})
			c, err := BuildContext(context.Background(), src, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Origins) == 0 || c.Origins[0].Service != tc.want.origin || c.Origins[0].Linked != tc.want.linked {
				t.Fatalf("origins = %+v; want %s first (linked %v)", c.Origins, tc.want.origin, tc.want.linked)
			}
			// What a service's own dependencies explain is at most a weak
			// origin (the latency it adds itself), never a strong one.
			for _, o := range c.Origins {
				for _, not := range tc.want.notOrigin {
					if o.Service == not && o.Strength > 0.3 {
						t.Errorf("%s is an origin of strength %.2f: its own dependency explains it", not, o.Strength)
					}
				}
			}
			top := c.Changes[0]
			if got := string(top.Event.Kind) + "/" + top.Event.Service; got != tc.want.first {
				t.Fatalf("first = %s (%q); want %s", got, top.Reasons, tc.want.first)
			}
			reasons := strings.Join(top.Reasons, "\n")

			for _, part := range tc.want.reasonParts {
				if !strings.Contains(reasons, part) && !strings.Contains(c.Origins[0].healthyOut, part) {
					t.Errorf("reasons lack %q:\n%s", part, reasons)
				}
			}
			if len(top.Evidence) == 0 {
				t.Error("the top entry cites no evidence")
			}
		})
	}
}
