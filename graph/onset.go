package graph

import (
	"math"
	"sort"
)

// Onset detection. Every edge carries three per-minute signals: the error
// ratio, the mean latency and the call rate. Each is compared with its
// baseline (the minutes before the window the responder asked about), and
// a minute is anomalous when it is far from it:
//
//   - errors: more errors than the baseline ratio predicts for that
//     minute's calls, beyond a binomial margin (3σ, plus one and a half
//     calls), and at least one point above the baseline ratio;
//   - latency: a mean above the baseline median by more than four robust
//     deviations (1.4826 × MAD) and at least 30%;
//   - calls: a rate at least 1.5× (a surge) or at most 0.6× (a drop) the
//     baseline median, and beyond four robust deviations.
//
// The onset is the start of the run of minutes in which anomalous minutes
// most outnumber normal ones (the maximum-sum segment of +1 for an
// anomalous minute and -1 for a normal one), walked back over the minutes
// that are at least halfway to the threshold, so a slow climb is dated
// from where it leaves the baseline rather than from where it crosses the
// threshold. Its size compares the segment's level with the baseline's.

// Signal is what moved on an edge.
type Signal string

// The signals onset detection reads.
const (
	SignalErrors  Signal = "ERRORS"
	SignalLatency Signal = "LATENCY"
	SignalCalls   Signal = "CALLS"
)

// Onset detection thresholds (documented in the README's evidence table).
const (
	onsetMinRun       = 3    // anomalous minutes a segment needs, net of normal ones
	errorSigmas       = 3.0  // binomial margin on the error count
	errorSlack        = 1.5  // calls of slack on the error count
	errorFloor        = 0.01 // a minute's ratio must exceed the baseline by this
	latencyDeviations = 4.0  // robust deviations above the baseline median
	latencyRise       = 0.3  // and at least this fraction above it
	surgeFactor       = 1.5  // calls at least this times the baseline median
	dropFactor        = 0.6  // or at most this times
	minBaselineCalls  = 30   // a baseline needs this many calls in all
	minRate           = 5    // calls per minute a rate needs to shift
)

// Shift is the onset and size of one signal's change on one edge.
type Shift struct {
	Signal Signal
	// Onset is the index of the first minute of the shift in the series.
	Onset int
	// End is the index just past its last anomalous minute.
	End int
	// Before is the baseline level and After the level during the shift:
	// error ratios (0..1), mean latencies in milliseconds, or calls per
	// minute.
	Before, After float64
	// Up is false for a drop in calls.
	Up bool
}

// minuteSeries holds one edge's per-minute counts; latency is the sum of
// call durations in milliseconds, NaN where unknown.
type minuteSeries struct {
	calls, errors, latency []float64
	// mean is scratch space for the mean latency, as long as calls.
	mean []float64
}

// median of xs (NaN for none); xs is reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// robust returns the median and the robust standard deviation
// (1.4826 × median absolute deviation) of xs.
func robust(xs []float64) (med, sigma float64) {
	c := append([]float64(nil), xs...)
	med = median(c)
	for i, x := range xs {
		c[i] = math.Abs(x - med)
	}
	return med, 1.4826 * median(c)
}

// bestRun returns the maximum-sum segment [lo, hi) of scores, and its sum.
func bestRun(scores []int8) (lo, hi, sum int) {
	best, cur, start := 0, 0, 0
	for i, s := range scores {
		if cur <= 0 {
			cur, start = 0, i
		}
		cur += int(s)
		if cur > best {
			best, lo, hi = cur, start, i+1
		}
	}
	return lo, hi, best
}

// errorShift finds a rise in the error ratio after index base (the
// baseline is [0, base)).
func errorShift(s minuteSeries, base int) (Shift, bool) {
	var bc, be float64
	for i := 0; i < base; i++ {
		bc += s.calls[i]
		be += s.errors[i]
	}
	if bc < minBaselineCalls {
		return Shift{}, false
	}
	p := be / bc
	scores := make([]int8, len(s.calls)-base)
	for i := range scores {
		c, x := s.calls[base+i], s.errors[base+i]
		if c == 0 {
			continue
		}
		want := c*p + errorSigmas*math.Sqrt(c*p*(1-p)) + errorSlack
		if x > want && x/c > p+errorFloor {
			scores[i] = 1
		} else {
			scores[i] = -1
		}
	}
	lo, hi, sum := bestRun(scores)
	if sum < onsetMinRun {
		return Shift{}, false
	}
	// Walk back over the minutes at least halfway to the threshold, so a
	// slow climb is dated from where it leaves the baseline.
	for lo > 0 {
		c, x := s.calls[base+lo-1], s.errors[base+lo-1]
		if c == 0 || x <= c*p+errorSigmas/2*math.Sqrt(c*p*(1-p))+errorSlack/2 || x/c <= p+errorFloor/2 {
			break
		}
		lo--
	}
	var ac, ae float64
	for i := base + lo; i < base+hi; i++ {
		ac += s.calls[i]
		ae += s.errors[i]
	}
	if ac == 0 {
		return Shift{}, false
	}
	return Shift{Signal: SignalErrors, Onset: base + lo, End: base + hi, Before: p, After: ae / ac, Up: true}, true
}

// levelShift finds a shift in a per-minute level (mean latency, or the
// call rate) after index base. up and down say which ways count.
func levelShift(level []float64, base int, sig Signal) (Shift, bool) {
	if !mayShift(level, base, sig) {
		return Shift{}, false
	}
	return findLevelShift(level, base, sig)
}

// findLevelShift is levelShift without the pre-test.
func findLevelShift(level []float64, base int, sig Signal) (Shift, bool) {
	var baseline []float64
	for i := 0; i < base; i++ {
		if !math.IsNaN(level[i]) {
			baseline = append(baseline, level[i])
		}
	}
	if len(baseline) < 10 {
		return Shift{}, false
	}
	med, sigma := robust(baseline)
	if !(med > 0) || (sig == SignalCalls && med < minRate) {
		return Shift{}, false
	}
	high, low := math.Inf(1), math.Inf(-1)
	switch sig {
	case SignalLatency:
		high = med + math.Max(latencyDeviations*sigma, latencyRise*med)
	case SignalCalls:
		high = med + math.Max(latencyDeviations*sigma, (surgeFactor-1)*med)
		low = med - math.Max(latencyDeviations*sigma, (1-dropFactor)*med)
	}
	best := Shift{}
	found := false
	for _, up := range []bool{true, false} {
		if !up && math.IsInf(low, -1) {
			continue
		}
		scores := make([]int8, len(level)-base)
		for i := range scores {
			v := level[base+i]
			switch {
			case math.IsNaN(v):
			case up && v > high, !up && v < low:
				scores[i] = 1
			default:
				scores[i] = -1
			}
		}
		lo, hi, sum := bestRun(scores)
		if sum < onsetMinRun || (found && sum <= best.End-best.Onset) {
			continue
		}
		// Walk back over the minutes at least halfway to the threshold.
		for lo > 0 {
			v := level[base+lo-1]
			if math.IsNaN(v) || (up && v <= (med+high)/2) || (!up && v >= (med+low)/2) {
				break
			}
			lo--
		}
		var during []float64
		for i := base + lo; i < base+hi; i++ {
			if !math.IsNaN(level[i]) {
				during = append(during, level[i])
			}
		}
		best = Shift{Signal: sig, Onset: base + lo, End: base + hi, Before: med, After: median(during), Up: up}
		found = true
	}
	return best, found
}

// shifts finds every signal's shift on one edge's series.
func (s minuteSeries) shifts(base int) []Shift {
	if base <= 0 || base >= len(s.calls) {
		return nil
	}
	var out []Shift
	if sh, ok := errorShift(s, base); ok {
		out = append(out, sh)
	}
	if s.latency != nil {
		mean := s.mean
		if len(mean) != len(s.calls) {
			mean = make([]float64, len(s.calls))
		}
		for i, c := range s.calls {
			if c > 0 && !math.IsNaN(s.latency[i]) {
				mean[i] = s.latency[i] / c
			} else {
				mean[i] = math.NaN()
			}
		}
		if sh, ok := levelShift(mean, base, SignalLatency); ok {
			out = append(out, sh)
		}
	}
	if sh, ok := levelShift(s.calls, base, SignalCalls); ok {
		out = append(out, sh)
	}
	return out
}

// mayShift is a cheap exact test that rules out a shift before any
// sorting: the thresholds are at least (1 + latencyRise) or surgeFactor
// times the baseline median, hence times its smallest minute, and a drop
// is at most dropFactor times its largest. Most edges of a quiet
// neighbourhood stop here.
func mayShift(level []float64, base int, sig Signal) bool {
	// Plain comparisons (NaN compares false with everything): this runs
	// on every edge of every answer.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range level[:base] {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if math.IsInf(lo, 1) {
		return false
	}
	up := 1 + latencyRise
	if sig == SignalCalls {
		up = surgeFactor
	}
	upper, lower := up*lo, math.Inf(-1)
	if sig == SignalCalls {
		lower = dropFactor * hi
	}
	for _, v := range level[base:] {
		if v > upper || v < lower {
			return true
		}
	}
	return false
}

// baselineMinutes is how many minutes with calls a baseline needs; with
// fewer before the window (an edge that began carrying calls inside it, a
// window widened past the data), the baseline is the first third of the
// edge's minutes before the breach, if that holds at least this many.
const baselineMinutes = 30

// baseline returns the series to search, how many minutes were cut from
// its start, and where its baseline ends: the minutes before base when
// they hold enough calls, else the first third of what the edge carried
// before at (the breach's minute).
func (s minuteSeries) baseline(base, at int) (minuteSeries, int, int) {
	busy, first := 0, -1
	for i, c := range s.calls {
		if c > 0 {
			if first < 0 {
				first = i
			}
			if i < base {
				busy++
			}
		}
	}
	if busy >= baselineMinutes || first < 0 {
		return s, 0, base
	}
	b := (at - first) / 3
	if b < baselineMinutes {
		return s, 0, base
	}
	cut := minuteSeries{calls: s.calls[first:], errors: s.errors[first:]}
	if s.latency != nil {
		cut.latency = s.latency[first:]
	}
	if s.mean != nil {
		cut.mean = s.mean[:len(cut.calls)]
	}
	return cut, first, b
}
