package page

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

func TestParseContext(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 10, 30, 0, time.UTC)
	at := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	tests := []struct {
		query string
		want  params
		bad   []string
	}{
		{"service=checkout&at=2026-11-21T11:50:00Z", params{"checkout", at, 2 * time.Hour, 15 * time.Minute, 2, graph.Both}, nil},
		{"service=+checkout+&at=2026-11-21T12:50:00%2B01:00", params{"checkout", at, 2 * time.Hour, 15 * time.Minute, 2, graph.Both}, nil},
		{"service=checkout&at=1795261800", params{"checkout", at, 2 * time.Hour, 15 * time.Minute, 2, graph.Both}, nil},
		{"service=checkout&at=1795261800000", params{"checkout", at, 2 * time.Hour, 15 * time.Minute, 2, graph.Both}, nil},
		{"service=checkout", params{"checkout", now.Truncate(time.Second), 2 * time.Hour, 15 * time.Minute, 2, graph.Both}, nil},
		{"service=checkout&at=2026-11-21T11:50:00Z&before=PT4H&after=1d&depth=5&direction=upstream",
			params{"checkout", at, 4 * time.Hour, 24 * time.Hour, 5, graph.Dependents}, nil},
		{"service=checkout&at=2026-11-21T11:50:00Z&before=0m&direction=dependencies",
			params{"checkout", at, 0, 15 * time.Minute, 2, graph.Dependencies}, nil},
		{"service=checkout&service=payments&at=2026-11-21T11:50:00Z", params{"checkout", at, 2 * time.Hour, 15 * time.Minute, 2, graph.Both}, nil},
		{"", params{}, []string{"service"}},
		{"service=&at=x&depth=0&before=-5m&after=x&direction=?", params{}, []string{"service", "before", "after", "depth", "direction", "at"}},
		{"service=checkout&before=30d&after=2d", params{}, []string{"before"}},
		{"service=" + strings.Repeat("s", graph.MaxNameLen+1), params{}, []string{"service"}},
		{"service=a%0Ab", params{}, []string{"service"}},
		{"service=checkout&at=1999-12-31T23:59:59Z", params{}, []string{"at"}},
		{"service=checkout&at=99999999999999999999", params{}, []string{"at"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, probs := parseContext(v, now)
			var names []string
			for _, p := range probs {
				names = append(names, p.Param)
				if p.Message == "" || p.Accepted == "" {
					t.Errorf("problem %+v lacks a message or what is accepted", p)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.bad, ",") {
				t.Fatalf("problems with %v, want %v (%+v)", names, tt.bad, probs)
			}
			if len(tt.bad) > 0 {
				return
			}
			if !got.At.Equal(tt.want.At) || got.At.Location() != time.UTC {
				t.Errorf("at = %s, want %s in UTC", got.At, tt.want.At)
			}
			got.At = tt.want.At
			if got != tt.want {
				t.Errorf("params = %+v, want %+v", got, tt.want)
			}
			// Whatever parses is a query the engine accepts.
			q := got.query(nil, rankedChanges)
			if err := q.Validate(); err != nil {
				t.Errorf("accepted params make an invalid query: %v", err)
			}
		})
	}
}

func TestParamsRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	for _, p := range []params{
		{"checkout", at, graph.DefaultBefore, graph.DefaultAfter, graph.DefaultDepth, graph.Both},
		{"payments", at, 90 * time.Minute, 0, 6, graph.Dependencies},
		{"a b&c", at, 3 * 24 * time.Hour, 7*time.Minute + 30*time.Second, 1, graph.Dependents},
	} {
		got, probs := parseContext(p.values(true), time.Time{})
		if len(probs) > 0 || got != p {
			t.Errorf("round trip of %+v gave %+v %v (query %s)", p, got, probs, p.values(true).Encode())
		}
	}
	if q := (params{Before: graph.DefaultBefore, After: graph.DefaultAfter, Depth: graph.DefaultDepth, Direction: graph.Both}).values(false).Encode(); q != "" {
		t.Errorf("defaults render as %q, want an empty query", q)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0m", 2 * time.Hour: "2h", 90 * time.Minute: "1h30m", 15 * time.Minute: "15m",
		7*time.Minute + 30*time.Second: "7m30s", 48 * time.Hour: "2d", 36 * time.Hour: "36h", 45 * time.Second: "45s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
		if back, err := graph.ParseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("%q does not parse back to %s: %v %v", formatDuration(d), d, back, err)
		}
	}
}

func TestRelative(t *testing.T) {
	ref := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	for _, tt := range []struct {
		at      time.Time
		refName string
		want    string
	}{
		{ref.Add(-12 * time.Minute), "", "12 min before"},
		{ref.Add(3 * time.Minute), "", "3 min after"},
		{ref, "", "at the same time"},
		{ref.Add(-95 * time.Minute), "", "1 h 35 min before"},
		{ref.Add(-26 * time.Hour), "now", "1 d 2 h ago"},
		{ref.Add(-20 * time.Second), "now", "just now"},
		{ref.Add(2 * time.Hour), "now", "in 2 h"},
	} {
		if got := relative(tt.at, ref, tt.refName); got != tt.want {
			t.Errorf("relative(%s) = %q, want %q", tt.at.Sub(ref), got, tt.want)
		}
	}
}

// FuzzParseContext: any query string either names its problems or gives
// params the engine accepts, and never panics.
func FuzzParseContext(f *testing.F) {
	for _, seed := range []string{
		"service=checkout&at=2026-11-21T11:50:00Z",
		"service=checkout&at=1795261800000&before=PT2H&after=15m&depth=3&direction=DEPENDENTS",
		"service=checkout&before=30d&after=2d",
		"service=%00&at=-1&depth=99999999999999999999",
		"service=a&at=2026-11-21T11:50:00 01:00&before=P1W",
		"depth=&direction=&before=&after=&at=",
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 11, 21, 12, 10, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, probs := parseContext(v, now)
		if len(probs) > 0 {
			for _, pr := range probs {
				if pr.Param == "" || pr.Message == "" {
					t.Fatalf("unnamed problem %+v", pr)
				}
			}
			return
		}
		q := p.query(nil, rankedChanges)
		if err := q.Validate(); err != nil {
			t.Fatalf("%q parsed to %+v, which the engine rejects: %v", raw, p, err)
		}
		// The links built from accepted params parse back to the same.
		back, probs := parseContext(p.values(true), now)
		if len(probs) > 0 || !back.At.Equal(p.At.Truncate(time.Second)) || back.Service != p.Service || back.Depth != p.Depth ||
			back.Direction != p.Direction || back.Before != p.Before || back.After != p.After {
			t.Fatalf("%+v renders as %q, which parses to %+v %v", p, p.values(true).Encode(), back, probs)
		}
	})
}
