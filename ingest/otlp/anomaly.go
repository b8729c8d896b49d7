package otlp

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// AnomalyConfig holds the thresholds of the derived ANOMALY events (the
// package documentation explains them). Zero fields get the defaults.
type AnomalyConfig struct {
	// Recent is the window that is judged (default 5m) against the
	// Baseline before it (default 1h).
	Recent, Baseline time.Duration
	// MinCalls is the fewest calls each window needs (default 50).
	MinCalls int64
	// ErrorRatio and ErrorDelta: the recent error ratio must be at least
	// ErrorRatio times the baseline's (default 3) and at least ErrorDelta
	// above it (default 0.02, two percentage points).
	ErrorRatio, ErrorDelta float64
	// LatencyRatio: the recent mean latency must be at least LatencyRatio
	// times the baseline's (default 2).
	LatencyRatio float64
}

// Defaults of AnomalyConfig.
const (
	DefaultAnomalyRecent       = 5 * time.Minute
	DefaultAnomalyBaseline     = time.Hour
	DefaultAnomalyMinCalls     = 50
	DefaultAnomalyErrorRatio   = 3.0
	DefaultAnomalyErrorDelta   = 0.02
	DefaultAnomalyLatencyRatio = 2.0
)

func (c *AnomalyConfig) fill() {
	if c.Recent <= 0 {
		c.Recent = DefaultAnomalyRecent
	}
	if c.Baseline <= 0 {
		c.Baseline = DefaultAnomalyBaseline
	}
	if c.MinCalls <= 0 {
		c.MinCalls = DefaultAnomalyMinCalls
	}
	if c.ErrorRatio <= 0 {
		c.ErrorRatio = DefaultAnomalyErrorRatio
	}
	if c.ErrorDelta <= 0 {
		c.ErrorDelta = DefaultAnomalyErrorDelta
	}
	if c.LatencyRatio <= 0 {
		c.LatencyRatio = DefaultAnomalyLatencyRatio
	}
}

type edgeKey struct{ from, to string }

// slot is one bucket of an edge's rolling history.
type slot struct {
	start int64
	tally
}

// history keeps, per edge, the buckets of the last Recent+Baseline in a
// ring, for anomaly detection. It sums what this process counted; it is
// not persisted.
type history struct {
	cfg   AnomalyConfig
	width int64
	n     int64
	edges map[edgeKey][]slot
	// lastEnd is the end of the last judged window.
	lastEnd int64
	// active holds the signals that were anomalous at the last judgement,
	// so a lasting anomaly is reported once, when it starts.
	active map[string]bool
}

func newHistory(cfg AnomalyConfig, width time.Duration) *history {
	w := int64(width)
	return &history{
		cfg: cfg, width: w,
		n:      int64(cfg.Recent+cfg.Baseline)/w + 2,
		edges:  map[edgeKey][]slot{},
		active: map[string]bool{},
	}
}

func (h *history) add(from, to string, start, dur int64, failed bool) {
	k := edgeKey{from, to}
	ring := h.edges[k]
	if ring == nil {
		ring = make([]slot, h.n)
		h.edges[k] = ring
	}
	b := start - start%h.width
	s := &ring[(b/h.width)%h.n]
	switch {
	case s.start == b:
	case s.start < b:
		*s = slot{start: b}
	default:
		return // older than the ring holds
	}
	s.add(dur, failed)
}

// window sums ring's buckets starting in [from, to).
func (h *history) window(ring []slot, from, to int64) tally {
	var t tally
	for i := range ring {
		if s := &ring[i]; s.start >= from && s.start < to && s.calls > 0 {
			t.calls += s.calls
			t.errors += s.errors
			t.latency += s.latency
		}
	}
	return t
}

// evaluate judges the Recent window that ends at the last bucket boundary
// before settled (buckets before settled can no longer grow), once per
// window end, and returns the anomalies that started, dated at the window
// end: when the rise was seen. now bounds event times for validation.
func (h *history) evaluate(settled, now time.Time) []graph.Event {
	end := settled.UnixNano()
	end -= end % h.width
	if end <= h.lastEnd {
		return nil
	}
	h.lastEnd = end
	mid := end - int64(h.cfg.Recent)
	begin := mid - int64(h.cfg.Baseline)
	keys := make([]edgeKey, 0, len(h.edges))
	for k, ring := range h.edges {
		if t := h.window(ring, begin, end); t.calls == 0 {
			delete(h.edges, k) // nothing left in the horizon
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].from != keys[j].from {
			return keys[i].from < keys[j].from
		}
		return keys[i].to < keys[j].to
	})
	type pairT struct{ recent, base tally }
	inbound := map[string]*pairT{}
	inboundEdges := map[string]int{}
	var out []graph.Event
	active := map[string]bool{}
	at := time.Unix(0, end).UTC()
	for _, k := range keys {
		ring := h.edges[k]
		recent, base := h.window(ring, mid, end), h.window(ring, begin, mid)
		p := inbound[k.to]
		if p == nil {
			p = &pairT{}
			inbound[k.to] = p
		}
		addTally(&p.recent, recent)
		addTally(&p.base, base)
		inboundEdges[k.to]++
		subject := fmt.Sprintf("calls %s → %s", k.from, k.to)
		id := fmt.Sprintf("edge:%s->%s", k.from, k.to)
		out = h.judge(out, active, id, subject, k.to, map[string]any{"from": k.from, "to": k.to}, recent, base, at, now)
	}
	services := make([]string, 0, len(inbound))
	for s := range inbound {
		if inboundEdges[s] > 1 {
			services = append(services, s)
		}
	}
	sort.Strings(services)
	for _, s := range services {
		p := inbound[s]
		out = h.judge(out, active, "service:"+s, "calls into "+s, s, map[string]any{"to": s}, p.recent, p.base, at, now)
	}
	h.active = active
	return out
}

func addTally(dst *tally, t tally) {
	dst.calls += t.calls
	dst.errors += t.errors
	dst.latency += t.latency
}

// judge compares recent with base for one edge or service and appends the
// anomalies that started.
func (h *history) judge(out []graph.Event, active map[string]bool, id, subject, service string, attrs map[string]any,
	recent, base tally, at, now time.Time) []graph.Event {
	if recent.calls < h.cfg.MinCalls || base.calls < h.cfg.MinCalls {
		return out
	}
	rr, br := float64(recent.errors)/float64(recent.calls), float64(base.errors)/float64(base.calls)
	rl, bl := float64(recent.latency)/float64(recent.calls), float64(base.latency)/float64(base.calls)
	window := fmt.Sprintf("in the %s to %s", formatWindow(h.cfg.Recent), at.Format("15:04 MST"))
	for _, sig := range []struct {
		name    string
		hit     bool
		summary string
	}{
		{"error-ratio", rr >= h.cfg.ErrorRatio*br && rr-br >= h.cfg.ErrorDelta,
			fmt.Sprintf("error ratio of %s rose to %.1f%% %s, from %.1f%% in the %s before (%d calls)",
				subject, 100*rr, window, 100*br, formatWindow(h.cfg.Baseline), recent.calls)},
		{"latency", bl > 0 && rl >= h.cfg.LatencyRatio*bl,
			fmt.Sprintf("mean latency of %s rose to %s %s, from %s in the %s before (%d calls)",
				subject, roundDur(rl), window, roundDur(bl), formatWindow(h.cfg.Baseline), recent.calls)},
	} {
		key := id + ":" + sig.name
		if !sig.hit {
			continue
		}
		active[key] = true
		if h.active[key] {
			continue // still the same anomaly
		}
		a := map[string]any{
			"signal":          sig.name,
			"recentCalls":     float64(recent.calls),
			"recentErrors":    float64(recent.errors),
			"baselineCalls":   float64(base.calls),
			"baselineErrors":  float64(base.errors),
			"recentRatio":     round4(rr),
			"baselineRatio":   round4(br),
			"recentMeanMs":    round4(rl / 1e6),
			"baselineMeanMs":  round4(bl / 1e6),
			"windowMinutes":   h.cfg.Recent.Minutes(),
			"baselineMinutes": h.cfg.Baseline.Minutes(),
		}
		for k, v := range attrs {
			a[k] = v
		}
		e := graph.Event{
			Kind: graph.KindAnomaly, Service: service, At: at, Source: Source,
			ExternalID: key + "@" + at.Format(time.RFC3339),
			Summary:    sig.summary, Attributes: a,
		}
		if err := e.Normalize(now); err != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }

func roundDur(ns float64) time.Duration {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// formatWindow writes d the way the anomaly summaries do ("5 min", "1 h").
func formatWindow(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return fmt.Sprintf("%d min", d/time.Minute)
}
