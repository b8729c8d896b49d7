package graph

import (
	"math"
	"testing"
)

// series builds n minutes of calls per minute with an error ratio and a
// mean latency (ms), then applies change from minute at on: it returns the
// new (calls, ratio, latency) of minute i. jitter spreads the values the
// way real minutes differ, deterministically.
func series(n, at int, calls, ratio, latency float64, change func(i int) (float64, float64, float64)) minuteSeries {
	s := minuteSeries{calls: make([]float64, n), errors: make([]float64, n), latency: make([]float64, n)}
	for i := range n {
		c, r, l := calls, ratio, latency
		if i >= at && change != nil {
			c, r, l = change(i)
		}
		j := 1 + 0.08*math.Sin(float64(i)*1.7)
		s.calls[i] = math.Round(c * j)
		s.errors[i] = math.Floor(s.calls[i]*r*(1+0.2*math.Sin(float64(i)*2.3)) + 0.5)
		s.latency[i] = s.calls[i] * l * (1 + 0.05*math.Cos(float64(i)*1.3))
	}
	return s
}

func TestShifts(t *testing.T) {
	const n, base = 180, 60
	tests := []struct {
		name string
		s    minuteSeries
		// want lists the signals expected to shift, with the onset each
		// should find (within tol minutes) and whether it goes up.
		want []struct {
			sig   Signal
			onset int
			up    bool
		}
		tol int
	}{
		{name: "quiet edge", s: series(n, 0, 200, 0.002, 40, nil)},
		{name: "error step", s: series(n, 150, 200, 0.002, 40, func(int) (float64, float64, float64) { return 200, 0.09, 40 }),
			want: []struct {
				sig   Signal
				onset int
				up    bool
			}{{SignalErrors, 150, true}}},
		{name: "latency step", s: series(n, 140, 200, 0.002, 40, func(int) (float64, float64, float64) { return 200, 0.002, 280 }),
			want: []struct {
				sig   Signal
				onset int
				up    bool
			}{{SignalLatency, 140, true}}},
		{name: "slow latency ramp is dated from where it leaves the baseline", tol: 6,
			s: series(n, 90, 200, 0.002, 40, func(i int) (float64, float64, float64) {
				return 200, 0.002, 40 * (1 + 4*float64(i-90)/90)
			}),
			want: []struct {
				sig   Signal
				onset int
				up    bool
			}{{SignalLatency, 90, true}}},
		{name: "surge", s: series(n, 120, 300, 0.002, 40, func(int) (float64, float64, float64) { return 1200, 0.002, 40 }),
			want: []struct {
				sig   Signal
				onset int
				up    bool
			}{{SignalCalls, 120, true}}},
		{name: "drop", s: series(n, 130, 300, 0.002, 40, func(int) (float64, float64, float64) { return 60, 0.002, 40 }),
			want: []struct {
				sig   Signal
				onset int
				up    bool
			}{{SignalCalls, 130, false}}},
		{name: "a small lasting rise is not an onset", s: series(n, 100, 200, 0.002, 40, func(int) (float64, float64, float64) { return 230, 0.004, 46 })},
		{name: "a two-minute blip is not an onset", s: series(n, 150, 200, 0.002, 40, func(i int) (float64, float64, float64) {
			if i < 152 {
				return 200, 0.5, 40
			}
			return 200, 0.002, 40
		})},
		{name: "a quiet edge's one failed call is not an error rate", s: series(n, 150, 1, 0, 40, func(i int) (float64, float64, float64) {
			if i%20 == 0 {
				return 1, 1, 40
			}
			return 1, 0, 40
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.shifts(base)
			if len(got) != len(tc.want) {
				t.Fatalf("shifts = %+v; want %d of them", got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Signal != w.sig || g.Up != w.up || abs(g.Onset-w.onset) > tc.tol {
					t.Errorf("shift %d = %s up=%v at %d; want %s up=%v at %d (±%d)", i, g.Signal, g.Up, g.Onset, w.sig, w.up, w.onset, tc.tol)
				}
				if w.up && !(g.After > g.Before) || !w.up && !(g.After < g.Before) {
					t.Errorf("shift %d: %v → %v goes the wrong way", i, g.Before, g.After)
				}
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestBestRun(t *testing.T) {
	tests := []struct {
		scores          []int8
		lo, hi, wantSum int
	}{
		{nil, 0, 0, 0},
		{[]int8{-1, -1, -1}, 0, 0, 0},
		{[]int8{-1, 1, 1, 1, -1}, 1, 4, 3},
		{[]int8{1, 1, -1, 1, 1, 1, -1, -1, -1, -1}, 0, 6, 4},
		{[]int8{1, -1, -1, -1, 1, 1}, 4, 6, 2},
		{[]int8{0, 0, 1, 0, 1, 1}, 2, 6, 3},
	}
	for _, tc := range tests {
		lo, hi, sum := bestRun(tc.scores)
		if lo != tc.lo || hi != tc.hi || sum != tc.wantSum {
			t.Errorf("bestRun(%v) = [%d, %d) sum %d; want [%d, %d) sum %d", tc.scores, lo, hi, sum, tc.lo, tc.hi, tc.wantSum)
		}
	}
}

// TestMayShiftIsExact holds the pre-test to never rule out a shift that
// the full search finds, on steps just past every threshold.
func TestMayShiftIsExact(t *testing.T) {
	const n, base = 120, 60
	found := 0
	for seed := range 300 {
		step := []float64{1.31, 1.36, 1.45, 1.52, 1.58, 1.7, 0.58, 0.55, 0.4}[seed%9]
		level := make([]float64, n)
		for i := range level {
			level[i] = 100 * (1 + 0.03*math.Sin(float64(seed*31+i*7)))
			if i > base+seed%50 {
				level[i] *= step
			}
		}
		for _, sig := range []Signal{SignalLatency, SignalCalls} {
			_, ok := findLevelShift(level, base, sig)
			if ok {
				found++
			}
			if ok && !mayShift(level, base, sig) {
				t.Fatalf("seed %d %s: the search finds a shift (step ×%.2f) that the pre-test rules out", seed, sig, step)
			}
		}
	}
	if found < 100 {
		t.Fatalf("only %d of 600 series shifted: the test does not exercise the pre-test", found)
	}
}
