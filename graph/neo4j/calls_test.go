package neo4j

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// Call buckets are stored one row per (edge, hour, producer); these tests
// check the minutes inside those rows.

type hist = [graph.LatencyBuckets]int64

func callAt(from, to, producer string, at time.Time, calls, errs int64, h hist) graph.CallBucket {
	return graph.CallBucket{From: from, To: to, Start: at, Producer: producer, Calls: calls, Errors: errs,
		LatencySum: time.Duration(calls) * time.Millisecond, Latency: h}
}

// bucketsOf returns the buckets of the edge from→to that EdgesTouching
// reports for services in [start, end), as "hh:mm calls/errors".
func bucketsOf(t *testing.T, s *Store, services []string, from, to string, start, end time.Time) []string {
	t.Helper()
	acts, err := s.EdgesTouching(context.Background(), services, start, end)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range acts {
		if a.From != from || a.To != to {
			continue
		}
		for _, b := range a.Buckets {
			out = append(out, fmt.Sprintf("%s %d/%d", b.Start().Format("15:04"), b.Calls, b.Errors))
		}
	}
	return out
}

func checkBuckets(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: buckets %v; want %v", what, got, want)
	}
}

func checkLatency(t *testing.T, s *Store, from, to string, start, end time.Time, wantSum time.Duration, wantHist hist, wantCalls int64) {
	t.Helper()
	sum, h, calls, err := s.EdgeLatency(context.Background(), from, to, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if sum != wantSum || h != wantHist || calls != wantCalls {
		t.Errorf("latency %s->%s in [%s, %s) = %s, %v, %d calls; want %s, %v, %d calls",
			from, to, start.Format("15:04:05"), end.Format("15:04:05"), sum, h, calls, wantSum, wantHist, wantCalls)
	}
}

// TestCallBucketsReplaceAndAdd: rewriting a bucket replaces its minute
// and leaves the others of its hour alone, a later bucket in the same
// batch wins, producers add up, and a bucket without calls or histogram
// is still a bucket.
func TestCallBucketsReplaceAndAdd(t *testing.T) {
	s := MustOpen(t, Options{Now: graphtest.Now})
	ctx := context.Background()
	t0 := graphtest.T0 // the start of an hour
	minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{
		callAt("api", "db", "p1", minute(-2), 10, 1, hist{0: 10}),
		callAt("api", "db", "p1", minute(-1), 20, 2, hist{1: 20}),
		callAt("api", "db", "p1", minute(0), 30, 3, hist{2: 30}),
		callAt("api", "db", "p1", minute(1).Add(20*time.Second), 40, 4, hist{3: 40}),
		callAt("api", "db", "p1", minute(1), 41, 0, hist{}), // the same minute later in the batch: replaces
	}})
	batch := graph.Batch{Calls: []graph.CallBucket{
		callAt("api", "db", "p1", minute(0), 35, 5, hist{4: 35}), // replaces p1's minute 0 only
		callAt("api", "db", "p2", minute(0), 5, 1, hist{}),       // adds to minute 0
		callAt("api", "db", "p2", minute(30), 0, 0, hist{}),      // a bucket without calls
	}}
	graphtest.MustApply(t, s, batch)
	graphtest.MustApply(t, s, batch) // a redelivery changes nothing
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{
		callAt("api", "db", "p1", minute(-2), 12, 1, hist{}),   // drops the minute's histogram, keeps the hour's others
		callAt("api", "db", "p2", minute(5), 3, 0, hist{5: 3}), // the first histogram of p2's hour
	}})
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{callAt("api", "db", "p1", minute(-1), 20, 7, hist{1: 20})}})

	all := []string{"13:58 12/1", "13:59 20/7", "14:00 40/6", "14:01 41/0", "14:05 3/0", "14:30 0/0"}
	checkBuckets(t, "from the caller", bucketsOf(t, s, []string{"api"}, "api", "db", minute(-60), minute(60)), all...)
	checkBuckets(t, "from the callee", bucketsOf(t, s, []string{"db"}, "api", "db", minute(-60), minute(60)), all...)
	checkBuckets(t, "from both ends", bucketsOf(t, s, []string{"api", "db"}, "api", "db", minute(-60), minute(60)), all...)
	among, err := s.EdgesAmong(ctx, []string{"api", "db"}, minute(-60), minute(60))
	if err != nil {
		t.Fatal(err)
	}
	if len(among) != 1 || len(among[0].Buckets) != len(all) || !among[0].FirstSeen.Equal(minute(-2)) || !among[0].LastSeen.Equal(minute(30)) {
		t.Errorf("edges among api and db = %+v; want api→db with %d buckets, seen from 13:58 to 14:30", among, len(all))
	}
	if among, err := s.EdgesAmong(ctx, []string{"api", "web"}, minute(-60), minute(60)); err != nil || len(among) != 0 {
		t.Errorf("edges among api and web = %+v, %v; want none", among, err)
	}

	// p1's minutes -2 and 1 were rewritten without a histogram; p2
	// recorded one in minute 5 only.
	checkLatency(t, s, "api", "db", minute(-60), minute(60),
		(12+20+35+5+41+3)*time.Millisecond, hist{1: 20, 4: 35, 5: 3}, 12+20+35+5+41+3)
	checkLatency(t, s, "api", "db", minute(0), minute(1), 40*time.Millisecond, hist{4: 35}, 40)
	checkLatency(t, s, "api", "db", minute(5), minute(6), 3*time.Millisecond, hist{5: 3}, 3)
	checkLatency(t, s, "db", "api", minute(-60), minute(60), 0, hist{}, 0)

	// A rewrite of the only bucket of a row that changes one count.
	only := callAt("api", "cache", "p1", minute(7), 10, 1, hist{0: 10})
	for _, step := range []struct {
		what   string
		change func(*graph.CallBucket)
		want   string
		sum    time.Duration
		hist   hist
	}{
		{"written", func(*graph.CallBucket) {}, "14:07 10/1", 10 * time.Millisecond, hist{0: 10}},
		{"errors", func(c *graph.CallBucket) { c.Errors = 3 }, "14:07 10/3", 10 * time.Millisecond, hist{0: 10}},
		{"latency sum", func(c *graph.CallBucket) { c.LatencySum = 99 * time.Millisecond }, "14:07 10/3", 99 * time.Millisecond, hist{0: 10}},
		{"histogram", func(c *graph.CallBucket) { c.Latency = hist{1: 10} }, "14:07 10/3", 99 * time.Millisecond, hist{1: 10}},
		{"no histogram", func(c *graph.CallBucket) { c.Latency = hist{} }, "14:07 10/3", 99 * time.Millisecond, hist{}},
	} {
		step.change(&only)
		graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{only}})
		checkBuckets(t, "after a change of "+step.what, bucketsOf(t, s, []string{"cache"}, "api", "cache", minute(0), minute(60)), step.want)
		checkLatency(t, s, "api", "cache", minute(0), minute(60), step.sum, step.hist, 10)
	}
}

// TestCallBucketWindows: a window that starts or ends inside an hour, or
// inside a minute, holds exactly the buckets that start in it.
func TestCallBucketWindows(t *testing.T) {
	s := MustOpen(t, Options{Now: graphtest.Now})
	t0 := graphtest.T0
	minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var calls []graph.CallBucket
	for m := -90; m < 90; m++ {
		calls = append(calls, callAt("web", "api", "p", minute(m), int64(100+m), 0, hist{9: 1}))
	}
	graphtest.MustApply(t, s, graph.Batch{Calls: calls})
	for _, c := range []struct {
		name       string
		start, end time.Time
		want       []string
	}{
		{"mid-hour to mid-hour", minute(-2), minute(3), []string{"13:58 98/0", "13:59 99/0", "14:00 100/0", "14:01 101/0", "14:02 102/0"}},
		{"inside minutes", minute(-1).Add(-time.Second), minute(1).Add(time.Second), []string{"13:59 99/0", "14:00 100/0", "14:01 101/0"}},
		{"one minute", minute(17), minute(18), []string{"14:17 117/0"}},
		{"a minute's middle", minute(17).Add(time.Second), minute(18).Add(-time.Second), nil},
		{"hour to hour", minute(0), minute(60), nil}, // checked by count below
		{"empty", minute(5), minute(5), nil},
	} {
		got := bucketsOf(t, s, []string{"web"}, "web", "api", c.start, c.end)
		if c.name == "hour to hour" {
			if len(got) != 60 || got[0] != "14:00 100/0" || got[59] != "14:59 159/0" {
				t.Errorf("%s: %d buckets from %v; want the 60 of 14:00", c.name, len(got), got[:1])
			}
			continue
		}
		checkBuckets(t, c.name, got, c.want...)
	}
	checkLatency(t, s, "web", "api", minute(-1).Add(-time.Second), minute(1).Add(time.Second),
		(99+100+101)*time.Millisecond, hist{9: 3}, 99+100+101)
	checkLatency(t, s, "web", "api", minute(-90), minute(90), 180*100*time.Millisecond-90*time.Millisecond, hist{9: 180}, 180*100-90)
}

// TestRetentionAcrossHours: retention at an instant inside an hour removes
// the earlier hours' rows and the minutes before it from the row of its
// hour, counting each (edge, minute, producer) bucket once, and a row
// left without buckets goes.
func TestRetentionAcrossHours(t *testing.T) {
	s := MustOpen(t, Options{Now: graphtest.Now})
	ctx := context.Background()
	t0 := graphtest.T0
	minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{
		callAt("api", "db", "p1", minute(-61), 1, 0, hist{0: 1}), // 12:59
		callAt("api", "db", "p1", minute(-60), 2, 0, hist{0: 2}), // 13:00
		callAt("api", "db", "p1", minute(-31), 3, 0, hist{0: 3}), // 13:29
		callAt("api", "db", "p1", minute(-30), 4, 1, hist{0: 4}), // 13:30, before the cut at 13:30:30
		callAt("api", "db", "p1", minute(-29), 5, 1, hist{1: 5}), // 13:31
		callAt("api", "db", "p1", minute(0), 6, 0, hist{2: 6}),   // 14:00
		callAt("api", "db", "p2", minute(-50), 7, 0, hist{}),     // 13:10: its row empties
		callAt("api", "db", "p3", minute(-15), 0, 0, hist{}),     // 13:45, without calls
	}})
	cut := minute(-30).Add(30 * time.Second)
	events, buckets, err := s.DeleteBefore(ctx, cut)
	if err != nil || events != 0 || buckets != 5 {
		t.Fatalf("delete before 13:30:30 = %d events, %d buckets, %v; want 0 and 5", events, buckets, err)
	}
	checkBuckets(t, "after retention", bucketsOf(t, s, []string{"db"}, "api", "db", minute(-180), minute(60)),
		"13:31 5/1", "13:45 0/0", "14:00 6/0")
	checkLatency(t, s, "api", "db", minute(-180), minute(60), 11*time.Millisecond, hist{1: 5, 2: 6}, 11)
	if events, buckets, err := s.DeleteBefore(ctx, cut); err != nil || events != 0 || buckets != 0 {
		t.Errorf("the same retention again = %d events, %d buckets, %v; want nothing", events, buckets, err)
	}
	// The rows left are p1's of 13:00 and 14:00 and p3's: p2's went with
	// its last bucket.
	rows, buckets, err := s.deleteInBatches(ctx, cypherDeleteCallHoursBefore, map[string]any{"before": minute(60)})
	if err != nil || rows != 3 || buckets != 3 {
		t.Errorf("rows left = %d holding %d buckets, %v; want 3 rows holding 3", rows, buckets, err)
	}
	// Retention at the start of an hour leaves the hour's row alone.
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{
		callAt("api", "db", "p1", minute(-1), 1, 0, hist{}),
		callAt("api", "db", "p1", minute(0), 2, 0, hist{}),
		callAt("api", "db", "p1", minute(59), 3, 0, hist{}),
	}})
	if _, buckets, err := s.DeleteBefore(ctx, minute(0)); err != nil || buckets != 1 {
		t.Errorf("delete before 14:00 = %d buckets, %v; want 1", buckets, err)
	}
	// Retention in an hour's last minute removes the whole hour.
	if _, buckets, err := s.DeleteBefore(ctx, minute(59).Add(time.Second)); err != nil || buckets != 2 {
		t.Errorf("delete before 14:59:01 = %d buckets, %v; want 2", buckets, err)
	}
	checkBuckets(t, "after retention to the end of the hour", bucketsOf(t, s, []string{"api"}, "api", "db", minute(-180), minute(120)))
}

// TestFormerBucketLayoutIgnored: a call bucket of the former per-minute
// layout is neither read nor removed, and does not fail a read.
func TestFormerBucketLayoutIgnored(t *testing.T) {
	s := MustOpen(t, Options{Now: graphtest.Now})
	ctx := context.Background()
	t0 := graphtest.T0
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{callAt("api", "db", "p1", t0, 5, 1, hist{0: 5})}})
	if _, _, err := s.writeCounts(ctx, cypherCreateFormerCallBucket, map[string]any{
		"from": "api", "to": "db", "key": "api\x00db\x00" + t0.Format(time.RFC3339Nano) + "\x00p1", "start": t0, "producer": "p1",
		"calls": int64(100), "errors": int64(10), "latencySum": int64(1000), "latency": []int64{100, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	}); err != nil {
		t.Fatal(err)
	}
	checkBuckets(t, "with a former bucket", bucketsOf(t, s, []string{"api", "db"}, "api", "db", t0.Add(-time.Hour), t0.Add(time.Hour)), "14:00 5/1")
	checkLatency(t, s, "api", "db", t0.Add(-time.Hour), t0.Add(time.Hour), 5*time.Millisecond, hist{0: 5}, 5)
	if _, buckets, err := s.DeleteBefore(ctx, t0.Add(time.Hour)); err != nil || buckets != 1 {
		t.Errorf("retention = %d buckets, %v; want 1", buckets, err)
	}
}

// TestCallHourRows checks the rows a batch's buckets are sent as, without
// a server: one per (edge, hour, producer) in key order, holding the
// batch's minutes in minute order, the last bucket of a minute winning.
func TestCallHourRows(t *testing.T) {
	t0 := graphtest.T0
	minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	rows := callHourRows([]graph.CallBucket{
		callAt("a", "b", "p", minute(6), 6, 0, hist{}),
		callAt("a", "b", "p", minute(3), 3, 1, hist{2: 3}),
		callAt("a", "b", "p", minute(4).Add(30*time.Second), 4, 0, hist{}),
		callAt("a", "b", "p", minute(3), 30, 2, hist{}), // replaces minute 3
		callAt("a", "b", "p", minute(-1), 1, 0, hist{}), // the hour before
		callAt("a", "b", "q", minute(6), 7, 0, hist{}),  // another producer
	})
	got := make([]string, len(rows))
	for i, r := range rows {
		var runs []string
		for _, run := range r["runs"].([]map[string]any) {
			runs = append(runs, fmt.Sprintf("%d+%d@%d", run["minute"], run["length"], run["offset"]))
		}
		got[i] = fmt.Sprintf("%s %s %v %v %v %v", r["hour"].(time.Time).Format("15:04"), r["producer"], r["calls"], r["errors"], runs, r["latency"])
	}
	want := []string{
		"13:00 p [1] [0] [59+1@0] <nil>",
		"14:00 p [30 4 6] [2 0 0] [3+2@0 6+1@2] <nil>",
		"14:00 q [7] [0] [6+1@0] <nil>",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	for _, r := range rows {
		if r["latency"] != nil {
			t.Errorf("row %s: latency %#v; want none (no histogram)", r["key"], r["latency"])
		}
	}
	withHist := callHourRows([]graph.CallBucket{
		callAt("a", "b", "p", minute(1), 3, 0, hist{}),
		callAt("a", "b", "p", minute(2), 3, 0, hist{9: 3}),
	})
	if l, ok := withHist[0]["latency"].([]int64); !ok || fmt.Sprint(l) != "[0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 3]" {
		t.Errorf("latency %#v; want minute 1 without a histogram, then minute 2's", withHist[0]["latency"])
	}
}

// TestEdgeWrittenBeforeConnectionTypes reads a call edge stored without a
// connection, as edges written before connection types are, as a direct
// call, until a bucket of its latest minute names its type.
func TestEdgeWrittenBeforeConnectionTypes(t *testing.T) {
	s := MustOpen(t, Options{Now: graphtest.Now})
	ctx := context.Background()
	t0 := graphtest.T0
	db := callAt("api", "orders-db", "p1", t0, 5, 0, hist{0: 5})
	db.ConnectionType = graph.ConnectionDatabase
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{db}})
	if n, _, err := s.writeCounts(ctx, cypherForgetConnection, map[string]any{"from": "api", "to": "orders-db"}); err != nil || n != 1 {
		t.Fatalf("forget the connection: %d edges, %v", n, err)
	}
	conn := func() graph.ConnectionType {
		t.Helper()
		acts, err := s.EdgesTouching(ctx, []string{"api"}, t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil || len(acts) != 1 {
			t.Fatalf("edges %+v, %v", acts, err)
		}
		return acts[0].ConnectionType
	}
	if c := conn(); c != graph.ConnectionNone {
		t.Errorf("an edge without a connection reads as %q", c)
	}
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{db}})
	if c := conn(); c != graph.ConnectionDatabase {
		t.Errorf("after a typed bucket of its latest minute: %q", c)
	}
}
