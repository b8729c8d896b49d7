package otlp

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// traffic is the calls on one edge per minute, in the baseline hour and in
// the five minutes after it.
type traffic struct {
	from, to                   string
	baseCalls, baseErrors      int
	recentCalls, recentErrors  int
	baseLatency, recentLatency time.Duration
}

func TestAnomalies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edges []traffic
		want  []string
	}{
		{
			name:  "error ratio from 1% to 10%",
			edges: []traffic{{from: "checkout", to: "payments", baseCalls: 100, baseErrors: 1, recentCalls: 100, recentErrors: 10}},
			want:  []string{"payments edge:checkout->payments:error-ratio"},
		},
		{
			name:  "from 0% to 1.5% is under two points",
			edges: []traffic{{from: "checkout", to: "payments", baseCalls: 200, baseErrors: 0, recentCalls: 200, recentErrors: 3}},
		},
		{
			name:  "from 0% to 2.5% is an anomaly",
			edges: []traffic{{from: "checkout", to: "payments", baseCalls: 200, baseErrors: 0, recentCalls: 200, recentErrors: 5}},
			want:  []string{"payments edge:checkout->payments:error-ratio"},
		},
		{
			name:  "from 2% to 5% is under three times",
			edges: []traffic{{from: "checkout", to: "payments", baseCalls: 100, baseErrors: 2, recentCalls: 100, recentErrors: 5}},
		},
		{
			name:  "too few calls in the recent window",
			edges: []traffic{{from: "checkout", to: "payments", baseCalls: 9, baseErrors: 0, recentCalls: 9, recentErrors: 5}},
		},
		{
			name:  "mean latency doubled",
			edges: []traffic{{from: "checkout", to: "payments", baseCalls: 60, recentCalls: 60, baseLatency: 10 * time.Millisecond, recentLatency: 21 * time.Millisecond}},
			want:  []string{"payments edge:checkout->payments:latency"},
		},
		{
			name:  "latency up by half is not an anomaly",
			edges: []traffic{{from: "checkout", to: "payments", baseCalls: 60, recentCalls: 60, baseLatency: 10 * time.Millisecond, recentLatency: 15 * time.Millisecond}},
		},
		{
			name: "a service with two callers is judged on their sum too",
			edges: []traffic{
				{from: "checkout", to: "payments", baseCalls: 50, baseErrors: 0, recentCalls: 50, recentErrors: 5},
				{from: "refunds", to: "payments", baseCalls: 8, baseErrors: 0, recentCalls: 8, recentErrors: 4},
			},
			want: []string{
				"payments edge:checkout->payments:error-ratio",
				"payments service:payments:error-ratio",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := t0
			a := NewAggregator(Config{}, func() time.Time { return clock })
			var events []graph.Event
			trace := uint64(0)
			for m := 0; m < 66; m++ {
				var spans []sp
				for _, e := range tc.edges {
					n, errs, lat := e.baseCalls, e.baseErrors, e.baseLatency
					if m >= 60 {
						n, errs, lat = e.recentCalls, e.recentErrors, e.recentLatency
					}
					if lat == 0 {
						lat = 5 * time.Millisecond
					}
					for i := 0; i < n; i++ {
						trace++
						at := time.Duration(m)*time.Minute + time.Duration(i)*time.Second/time.Duration(n+1)
						spans = append(spans,
							sp{svc: e.from, trace: trace, id: 1, kind: client, at: at, dur: lat},
							sp{svc: e.to, trace: trace, id: 2, parent: 1, kind: server, at: at, dur: lat, failed: i < errs})
					}
				}
				clock = t0.Add(time.Duration(m+1) * time.Minute)
				if len(spans) > 0 {
					a.Add(request(spans...), fmt.Sprintf("m%d", m))
				}
				// Judging happens Wait after a minute closes.
				clock = clock.Add(DefaultWait)
				events = append(events, a.Flush(clock).Events...)
			}
			var got []string
			for _, e := range events {
				if e.Kind != graph.KindAnomaly || e.Source != Source || e.ID == "" || e.Summary == "" {
					t.Errorf("malformed event %+v", e)
				}
				// The recent window slides by a minute at a time, so the
				// rise is seen once it dominates some window ending after
				// 11:00 and by 11:05; the ID carries that window's end.
				if e.At.Before(t0.Add(61*time.Minute)) || e.At.After(t0.Add(65*time.Minute)) {
					t.Errorf("anomaly at %s, want between 11:01 and 11:05", e.At.Format(time.TimeOnly))
				}
				if want := "@" + e.At.Format(time.RFC3339); !strings.HasSuffix(e.ExternalID, want) {
					t.Errorf("external id %q does not end with %q", e.ExternalID, want)
				}
				got = append(got, e.Service+" "+strings.TrimSuffix(e.ExternalID, "@"+e.At.Format(time.RFC3339)))
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("anomalies:\n got %q\nwant %q", got, tc.want)
				for _, e := range events {
					t.Log(e.Summary)
				}
			}
		})
	}
}
