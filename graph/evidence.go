package graph

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Evidence is one signal that moved on one edge: what a reason cites.
type Evidence struct {
	Signal Signal `json:"signal"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Onset is the minute the shift began.
	Onset time.Time `json:"onset"`
	// Before and After are the levels before and during the shift: error
	// ratios (0..1), mean latencies in milliseconds, or calls per minute.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
}

// Sentence says what e shows, the way a responder reads it.
func (e Evidence) Sentence() string {
	at := e.Onset.UTC().Format("15:04")
	switch e.Signal {
	case SignalErrors:
		return fmt.Sprintf("errors on %s→%s rose from %s to %s at %s", e.From, e.To, pct(e.Before), pct(e.After), at)
	case SignalLatency:
		return fmt.Sprintf("latency on %s→%s %s → %s from %s", e.From, e.To, millis(e.Before), millis(e.After), at)
	}
	if e.After >= e.Before {
		return fmt.Sprintf("calls from %s to %s ×%.1f from %s (%.0f → %.0f a minute)", e.From, e.To, e.After/e.Before, at, e.Before, e.After)
	}
	return fmt.Sprintf("calls from %s to %s fell to %.0f%% from %s (%.0f → %.0f a minute)", e.From, e.To, 100*e.After/e.Before, at, e.Before, e.After)
}

func millis(ms float64) string {
	if ms >= 10 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// severity is how strongly a health shift (errors or latency) degrades a
// service, 0..1: five points of error ratio, or latency tripled, is full.
func (e Evidence) severity() float64 {
	switch e.Signal {
	case SignalErrors:
		return math.Min(1, (e.After-e.Before)/0.05)
	case SignalLatency:
		if e.Before <= 0 {
			return 0
		}
		return math.Min(1, (e.After/e.Before-1)/2)
	}
	return 0
}

func (e Evidence) health() bool { return e.Signal == SignalErrors || e.Signal == SignalLatency }

// Origin is a service where a degradation starts: calls into it went bad
// while what it calls stayed healthy (or went bad later, or less).
type Origin struct {
	Service string    `json:"service"`
	Onset   time.Time `json:"onset"`
	// Strength is how bad the degradation is times how little its own
	// dependencies explain it, 0..1.
	Strength float64 `json:"strength"`
	// Linked is true when the breached service reaches the origin along
	// calls that degraded too: the breach is this degradation's effect.
	Linked bool `json:"linked"`
	// Evidence holds the shifts on calls into the origin, strongest first.
	Evidence []Evidence `json:"evidence"`
	// Surges holds the callers' calls into it that rose around the onset.
	Surges []Evidence `json:"surges,omitempty"`
	// CallerSpecific is true when only some callers' calls into it
	// degraded (most of its traffic, or most of its callers, stayed
	// healthy): the callers are where to look.
	CallerSpecific bool `json:"callerSpecific,omitempty"`
	// SharedInput is true when the degradation is in what the origin
	// sends: its calls into two or more services that share no failing
	// dependency degraded together (a message they cannot read, a
	// malformed request). Evidence then holds those calls, and the
	// services feeding it are where to look as well as the origin itself.
	SharedInput bool `json:"sharedInput,omitempty"`
	// fed lists, for a shared input, the services that failed on it and
	// those that failed on what they passed on.
	fed []string
	// healthyOut is the sentence saying what it calls stayed healthy.
	healthyOut string
	// severity is how bad the degradation is, before what explains it.
	severity float64
}

// analysis is what the telemetry of a neighbourhood says about a breach.
type analysis struct {
	origins []Origin
	// shifts by edge key.
	shifts map[string][]Evidence
	// into lists, per service, the keys of edges into it.
	into, outOf map[string][]string
	edges       map[string]*EdgeActivity
	// away lists, per caller, its calls the walk read into services
	// outside the neighbourhood: they lead away from the breach, and are
	// read only to compare a caller's callees (see sharedInputs).
	away map[string][]*EdgeActivity
	// fetched holds the services whose every edge the walk read; unread
	// lists the services a shared input may feed whose edges it has not
	// read yet (see sharedInputs).
	fetched map[string]bool
	unread  []string
	// frame places an edge's buckets on the analysis's minutes.
	frame seriesFrame
	// measured holds every edge's shifts measured on frame, empty ones
	// included, by edge key: a later analysis of the same query (the
	// neighbourhood widened) measures only the edges it had not read.
	measured map[string][]Evidence
}

// seriesFrame is the minutes an analysis reads: n minutes from start, of
// which the first base are the baseline and at is the breach's.
type seriesFrame struct {
	start       time.Time
	first       int64
	n, base, at int
	scratch     []float64
}

// sameMinutes reports whether f and g place buckets on the same minutes.
func (f seriesFrame) sameMinutes(g seriesFrame) bool {
	return f.start.Equal(g.start) && f.first == g.first && f.n == g.n && f.base == g.base && f.at == g.at
}

// measure returns the shifts on edge k, measured once per frame.
func (a *analysis) measure(k string, act *EdgeActivity) []Evidence {
	if sh, ok := a.measured[k]; ok {
		return sh
	}
	sh := a.frame.shifts(act)
	a.measured[k] = sh
	return sh
}

// shifts measures the shifts on one edge. One scratch series serves
// every edge in turn.
func (f *seriesFrame) shifts(act *EdgeActivity) []Evidence {
	if len(act.Buckets) == 0 {
		return nil
	}
	n := f.n
	clear(f.scratch[:2*n])
	s := minuteSeries{calls: f.scratch[:n], errors: f.scratch[n : 2*n]}
	for _, b := range act.Buckets {
		if i := int(b.Minute - f.first); i >= 0 && i < n {
			s.calls[i] += float64(b.Calls)
			s.errors[i] += float64(b.Errors)
			if b.Latency > 0 {
				if s.latency == nil {
					s.latency = f.scratch[2*n : 3*n]
					for j := range s.latency {
						s.latency[j] = math.NaN()
					}
				}
				s.latency[i] = float64(b.Latency) / float64(time.Millisecond)
			}
		}
	}
	s.mean = f.scratch[3*n:]
	s, skip, b := s.baseline(f.base, f.at)
	var out []Evidence
	for _, sh := range s.shifts(b) {
		out = append(out, Evidence{Signal: sh.Signal, From: act.From, To: act.To,
			Onset: f.start.Add(time.Duration(skip+sh.Onset) * BucketWidth), Before: sh.Before, After: sh.After})
	}
	return out
}

// Evidence tuning (documented in the README's evidence table).
const (
	// EffectTolerance: an onset this long after the breach started is an
	// effect, not where it started.
	EffectTolerance = 5 * time.Minute
	// PropagationSlack: a dependency's shift explains its caller's when it
	// began at most this much later.
	PropagationSlack = 2 * time.Minute
	// MinOriginStrength keeps weak degradations out of the answer.
	MinOriginStrength = 0.15
)

// analyse finds the shifts on every edge a neighbourhood walk read and
// localises where the degradation the breach belongs to started.
func analyse(q ContextQuery, nb *Neighbourhood) *analysis { return reanalyse(q, nb, nil) }

// reanalyse is analyse reusing what prev, an analysis of the same query
// over fewer edges, measured on the same minutes.
func reanalyse(q ContextQuery, nb *Neighbourhood, prev *analysis) *analysis {
	a := &analysis{shifts: map[string][]Evidence{}, into: map[string][]string{}, outOf: map[string][]string{},
		edges: map[string]*EdgeActivity{}, away: map[string][]*EdgeActivity{}, fetched: nb.fetched}
	grace := q.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	// The first whole minute the walk read (it reads buckets that start
	// at or after From-grace).
	start := q.From().Add(-grace)
	if t := start.Truncate(BucketWidth); !t.Equal(start) {
		start = t.Add(BucketWidth)
	}
	first := MinuteOf(start)
	// The series end with the last minute any edge carried calls in: a
	// window reaching past the data (asked about a breach minutes old)
	// must not read the minutes to come as calls that stopped.
	last := MinuteOf(start)
	for _, act := range nb.around {
		if k := len(act.Buckets); k > 0 {
			last = max(last, act.Buckets[k-1].Minute)
		}
	}
	n := int(min(MinuteOf(q.To().Add(BucketWidth-1)), last+1) - first)
	base := int(MinuteOf(q.From()) - first)
	at := int(MinuteOf(q.At) - first)
	if n <= base || base <= 0 {
		return a
	}
	a.frame = seriesFrame{start: start, first: first, n: n, base: base, at: at}
	a.measured = map[string][]Evidence{}
	if prev != nil && prev.frame.sameMinutes(a.frame) {
		a.frame.scratch, a.measured = prev.frame.scratch, prev.measured
	} else {
		a.frame.scratch = make([]float64, 4*n)
	}
	rel := make(map[string]Direction, len(nb.Services))
	for _, s := range nb.Services {
		rel[s.Service] = s.Relation
	}
	keys := make([]string, 0, len(nb.around))
	for k, act := range nb.around {
		// A caller's calls to services outside the neighbourhood lead
		// away from the breach: no degradation it belongs to is there.
		if _, in := rel[act.To]; !in && rel[act.From] == Dependents {
			a.away[act.From] = append(a.away[act.From], act)
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		act := nb.around[k]
		a.edges[k] = act
		a.into[act.To] = append(a.into[act.To], k)
		a.outOf[act.From] = append(a.outOf[act.From], k)
		if sh := a.measure(k, act); len(sh) > 0 {
			a.shifts[k] = sh
		}
	}
	for _, acts := range a.away {
		sort.Slice(acts, func(i, j int) bool { return acts[i].To < acts[j].To })
	}
	a.localise(q, nb)
	return a
}

// healthShifts returns the error and latency shifts on edge k that began
// no later than latest.
func (a *analysis) healthShifts(k string, latest time.Time) []Evidence {
	var out []Evidence
	for _, e := range a.shifts[k] {
		if e.health() && !e.Onset.After(latest) {
			out = append(out, e)
		}
	}
	return out
}

// degradedOnset is the earliest health shift on calls into s, and whether
// there is one.
func (a *analysis) degradedOnset(s string, latest time.Time) (time.Time, bool) {
	var t time.Time
	for _, k := range a.into[s] {
		for _, e := range a.healthShifts(k, latest) {
			if t.IsZero() || e.Onset.Before(t) {
				t = e.Onset
			}
		}
	}
	return t, !t.IsZero()
}

func (a *analysis) localise(q ContextQuery, nb *Neighbourhood) {
	latest := q.At.Add(EffectTolerance)
	services := make([]string, 0, len(a.into))
	for s := range a.into {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, s := range services {
		var in []Evidence
		for _, k := range a.into[s] {
			in = append(in, a.healthShifts(k, latest)...)
		}
		if len(in) == 0 {
			continue
		}
		o := Origin{Service: s}
		var sev float64
		for _, e := range in {
			if o.Onset.IsZero() || e.Onset.Before(o.Onset) {
				o.Onset = e.Onset
			}
			sev = math.Max(sev, e.severity())
		}
		unexplained, by := a.explainedBelow(s, in, latest)
		o.severity = sev
		o.Strength = unexplained
		if by == "" {
			o.healthyOut = fmt.Sprintf("%s calls nothing that degraded before it", s)
		} else {
			o.healthyOut = fmt.Sprintf("what %s calls degraded less (%s)", s, by)
		}
		sort.SliceStable(in, func(i, j int) bool { return in[i].severity() > in[j].severity() })
		o.Evidence = in
		o.CallerSpecific = a.callerSpecific(s, latest)
		o.Surges = a.surgesInto(s, o.Onset, latest)
		a.origins = append(a.origins, o)
	}
	a.attributeFallbacks(latest)
	a.sharedInputs(latest)
	strong := a.origins[:0]
	for _, o := range a.origins {
		o.Strength = math.Round(o.Strength*1000) / 1000
		if o.Strength >= MinOriginStrength {
			strong = append(strong, o)
		}
	}
	a.origins = strong
	linked := a.reach(q.Service, latest)
	inside := make(map[string]bool, len(nb.Services))
	for _, s := range nb.Services {
		inside[s.Service] = true
	}
	kept := a.origins[:0]
	for _, o := range a.origins {
		// A degradation outside the neighbourhood matters only when the
		// breach reaches it: the changes ranked are on services inside.
		o.Linked = linked[o.Service]
		for _, v := range o.fed {
			o.Linked = o.Linked || linked[v]
		}
		if inside[o.Service] || o.Linked {
			kept = append(kept, o)
		}
	}
	a.origins = kept
	sort.SliceStable(a.origins, func(i, j int) bool {
		x, y := a.origins[i], a.origins[j]
		if x.Linked != y.Linked {
			return x.Linked
		}
		if x.Strength != y.Strength {
			return x.Strength > y.Strength
		}
		return x.Onset.Before(y.Onset)
	})
}

// surgesInto returns the callers' calls into s that rose no later than
// PropagationSlack after s's onset. When more than one caller's calls
// rose, a caller's rise counts only when it began before the other
// callers' calls into s degraded: the rest are retries, a reaction to
// the failure, not its cause.
func (a *analysis) surgesInto(s string, onset, latest time.Time) []Evidence {
	var surges []Evidence
	for _, k := range a.into[s] {
		for _, e := range a.shifts[k] {
			if e.Signal == SignalCalls && e.After > e.Before && !e.Onset.After(onset.Add(PropagationSlack)) {
				surges = append(surges, e)
			}
		}
	}
	if len(surges) < 2 {
		return surges
	}
	led := surges[:0]
	for _, e := range surges {
		var others time.Time
		for _, k := range a.into[s] {
			if a.edges[k].From == e.From {
				continue
			}
			for _, h := range a.healthShifts(k, latest) {
				if others.IsZero() || h.Onset.Before(others) {
					others = h.Onset
				}
			}
		}
		if others.IsZero() || e.Onset.Before(others) {
			led = append(led, e)
		}
	}
	return led
}

// explainedBelow compares each signal that degraded on calls into s
// (errors, latency) with what s's own dependencies show no later than
// that signal's onset (plus PropagationSlack), and returns the largest
// severity left unexplained, 0..1, and the dependency edge that explains
// most. A dependency's rise explains the same signal in proportion to its
// size; failing calls below explain latency above (retries) and slow
// calls below explain failures above (timeouts) by their own severity.
func (a *analysis) explainedBelow(s string, in []Evidence, latest time.Time) (float64, string) {
	left, by, bestShare := 0.0, "", 0.0
	for _, sig := range []Signal{SignalErrors, SignalLatency} {
		var rise, sev float64
		var onset time.Time
		for _, e := range in {
			if e.Signal != sig {
				continue
			}
			rise, sev = math.Max(rise, e.After-e.Before), math.Max(sev, e.severity())
			if onset.IsZero() || e.Onset.Before(onset) {
				onset = e.Onset
			}
		}
		if sev == 0 {
			continue
		}
		share := func(e Evidence) float64 {
			if e.Signal == sig && rise > 0 {
				return math.Min(1, (e.After-e.Before)/rise)
			}
			return e.severity()
		}
		deadline := onset.Add(PropagationSlack)
		best, what := 0.0, ""
		for _, k := range a.outOf[s] {
			act := a.edges[k]
			if act.Declared && len(act.Buckets) == 0 {
				// A declared dependency carries the evidence of the
				// traced calls into its target.
				for _, k2 := range a.into[act.To] {
					for _, e := range a.healthShifts(k2, deadline) {
						if f := share(e); f > best {
							best, what = f, fmt.Sprintf("%s, declared, degraded from %s", act.To, e.Onset.UTC().Format("15:04"))
						}
					}
				}
				continue
			}
			for _, e := range a.healthShifts(k, deadline) {
				if f := share(e); f > best {
					best, what = f, e.Sentence()
				}
			}
		}
		left = math.Max(left, sev*(1-best))
		if best > bestShare {
			bestShare, by = best, what
		}
	}
	return left, by
}

// callerSpecific reports whether most calls into s (by volume, over edges
// with a baseline) stayed healthy although some degraded.
func (a *analysis) callerSpecific(s string, latest time.Time) bool {
	var healthy, all int64
	var fine, failing int
	for _, k := range a.into[s] {
		act := a.edges[k]
		var c int64
		for _, b := range act.Buckets {
			c += b.Calls
		}
		if c == 0 {
			continue
		}
		all += c
		if len(a.healthShifts(k, latest)) == 0 {
			healthy += c
			fine++
		} else {
			failing++
		}
	}
	// Most of the calls, or most of the callers (at least two): one busy
	// caller failing while the others do not is still that caller's.
	return all > 0 && (healthy*2 >= all || fine >= 2 && fine > failing)
}

// reach returns the services the focus reaches along calls that degraded
// (and declared dependencies whose target degraded), the focus included.
func (a *analysis) reach(focus string, latest time.Time) map[string]bool {
	seen := map[string]bool{focus: true}
	queue := []string{focus}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, k := range a.outOf[s] {
			act := a.edges[k]
			if seen[act.To] {
				continue
			}
			bad := len(a.healthShifts(k, latest)) > 0
			if !bad && act.Declared && len(act.Buckets) == 0 {
				_, bad = a.degradedOnset(act.To, latest)
			}
			if bad {
				seen[act.To] = true
				queue = append(queue, act.To)
			}
		}
	}
	return seen
}

// surgeInto returns the shift of calls from caller into o that rose around
// o's onset, if any.
func (o *Origin) surgeFrom(caller string) (Evidence, bool) {
	for _, e := range o.Surges {
		if e.From == caller {
			return e, true
		}
	}
	return Evidence{}, false
}

// degradedFrom returns the health shift on calls from caller into o.
func (o *Origin) degradedFrom(caller string) (Evidence, bool) {
	for _, e := range o.Evidence {
		if e.From == caller {
			return e, true
		}
	}
	return Evidence{}, false
}

// addSiblings adds to nb the callers from outside it whose calls into a
// degraded service surged around its onset (a noisy neighbour sharing a
// dependency with the breached service), with their edges.
func (a *analysis) addSiblings(q ContextQuery, nb *Neighbourhood) {
	where := make(map[string]NearbyService, len(nb.Services))
	for _, s := range nb.Services {
		where[s.Service] = s
	}
	for _, o := range a.origins {
		host, ok := where[o.Service]
		if !ok {
			continue
		}
		for _, surge := range o.Surges {
			if _, in := where[surge.From]; in {
				continue
			}
			n := NearbyService{Service: surge.From, Hops: host.Hops + 1, Relation: Siblings,
				Path: append(append([]string(nil), host.Path...), surge.From)}
			where[n.Service] = n
			nb.Services = append(nb.Services, n)
			k := edgeKey(surge.From, o.Service)
			nb.addEdge(k, a.edges[k], q.From(), q.To())
		}
	}
	nb.sortEdges()
}

// attributeFallbacks moves the blame for a surge-driven degradation to
// where the surge came from: when a caller's calls into O surged right
// after another of its dependencies degraded (a cache that stopped
// answering, a fallback path), O is a victim of that dependency. The
// surge no longer points at the caller, O's strength falls by the share
// of the surging callers so explained, and the dependency is at least as
// strong an origin as O was.
func (a *analysis) attributeFallbacks(latest time.Time) {
	at := make(map[string]int, len(a.origins))
	for i, o := range a.origins {
		at[o.Service] = i
	}
	for i := range a.origins {
		o := &a.origins[i]
		if len(o.Surges) == 0 {
			continue
		}
		var kept []Evidence
		var fallback []string
		for _, surge := range o.Surges {
			dep := a.degradedBefore(surge.From, o.Service, surge.Onset.Add(PropagationSlack), latest)
			if dep == "" {
				dep = a.relayedFallback(surge, latest)
			}
			if dep == "" {
				kept = append(kept, surge)
				continue
			}
			fallback = append(fallback, dep)
		}
		if len(fallback) == 0 {
			continue
		}
		share := float64(len(fallback)) / float64(len(o.Surges))
		o.Surges = kept
		for _, dep := range fallback {
			j, ok := at[dep]
			if !ok {
				continue
			}
			d := &a.origins[j]
			if v := o.severity * share; v > d.Strength {
				d.Strength = v
				d.healthyOut = fmt.Sprintf("%s; the calls that fell through to %s surged and degraded it", d.healthyOut, o.Service)
			}
		}
		o.Strength *= 1 - share
	}
}

// sharedInputs finds callers whose calls into two or more services
// degraded together (within PropagationSlack) while those services share
// no dependency that degraded: what the caller sends them is where it
// starts, not each service that fails on it. The caller becomes an origin
// of that strength; the services it fed lose the strength their calls
// from it gave them, and so do the services only they call that degraded
// from the same minute on (the bad input passed on).
func (a *analysis) sharedInputs(latest time.Time) {
	at := make(map[string]int, len(a.origins))
	var callers []string
	for i, o := range a.origins {
		at[o.Service] = i
		for _, e := range o.Evidence {
			callers = append(callers, e.From)
		}
	}
	sort.Strings(callers)
	callers = slices.Compact(callers)
	for _, c := range callers {
		fed := a.degradedTogether(c, latest)
		if len(fed) < 2 || a.shareFailingDependency(fed, latest) {
			continue
		}
		names := make([]string, len(fed))
		var sev float64
		for i, e := range fed {
			names[i] = e.To
			sev = math.Max(sev, e.severity())
		}
		sort.SliceStable(fed, func(i, j int) bool { return fed[i].severity() > fed[j].severity() })
		o := Origin{Service: c, Onset: fed[0].Onset, Strength: sev, severity: sev, Evidence: fed, SharedInput: true,
			healthyOut: fmt.Sprintf("calls from %s into %s degraded together, and those share no dependency that failed: what %s sends them is where it starts",
				c, joinAnd(names), c)}
		for _, e := range fed {
			o.Onset = minTime(o.Onset, e.Onset)
		}
		if a.widespreadBeyond(c, names, o.Onset) {
			continue
		}
		o.fed = a.passOn(c, names, at, o.Onset)
		if i, ok := at[c]; ok {
			// Already an origin through its own callers: what it sends
			// is the stronger account only when it is stronger.
			if a.origins[i].Strength >= sev {
				continue
			}
			o.Surges = a.origins[i].Surges
			a.origins[i] = o
			continue
		}
		at[c] = len(a.origins)
		a.origins = append(a.origins, o)
	}
}

// widespreadBeyond reports whether, besides c and the services it feeds
// (and what those call), enough services began failing within a minute of
// onset to make c one of Widespread independent origins, counted by
// strength: then the cause is wider than what c sends.
func (a *analysis) widespreadBeyond(c string, fed []string, onset time.Time) bool {
	chain := map[string]bool{c: true}
	for _, s := range fed {
		chain[s] = true
		for _, k := range a.outOf[s] {
			chain[a.edges[k].To] = true
		}
	}
	// Counted by strength, as the common-cause rule counts them.
	weight := 1.0
	for _, o := range a.origins {
		if !chain[o.Service] && absDuration(o.Onset.Sub(onset)) <= BucketWidth {
			weight += o.Strength
		}
	}
	return weight >= Widespread
}

// degradedTogether returns, per callee of c (those the walk read beyond
// the neighbourhood included), the strongest health shift on c's calls
// into it, keeping the callees whose shift began within PropagationSlack
// of the first and that fail on c's calls alone: c's calls into them did
// not surge, no other caller's calls into them degraded, and nothing they
// call degraded before them. A
// callee whose edges the walk has not read is listed in a.unread and left
// out until they are.
func (a *analysis) degradedTogether(c string, latest time.Time) []Evidence {
	var fed []Evidence
	add := func(shifts []Evidence) {
		var best Evidence
		var onset time.Time
		for _, e := range shifts {
			if e.Signal == SignalCalls && e.After > e.Before {
				// c sends it more, not something else: a surge (see
				// attributeFallbacks).
				return
			}
			if !e.health() || e.Onset.After(latest) {
				continue
			}
			if e.severity() > best.severity() || best.Signal == "" {
				best = e
			}
			if onset.IsZero() || e.Onset.Before(onset) {
				onset = e.Onset
			}
		}
		if best.Signal == "" {
			return
		}
		best.Onset = onset
		if !a.fetched[best.To] {
			a.unread = append(a.unread, best.To)
			return
		}
		if a.failsOnItsOwn(c, best.To, onset, latest) {
			return
		}
		fed = append(fed, best)
	}
	for _, k := range a.outOf[c] {
		add(a.shifts[k])
	}
	if len(fed) == 0 && len(a.unread) == 0 {
		// Nothing c calls inside the neighbourhood failed on c's calls:
		// the calls leading away are not worth reading.
		return nil
	}
	for _, act := range a.away[c] {
		add(a.measure(edgeKey(act.From, act.To), act))
	}
	if len(fed) < 2 {
		return nil
	}
	first := fed[0].Onset
	for _, e := range fed {
		first = minTime(first, e.Onset)
	}
	kept := fed[:0]
	for _, e := range fed {
		if !e.Onset.After(first.Add(PropagationSlack)) {
			kept = append(kept, e)
		}
	}
	return kept
}

// failsOnItsOwn reports whether x's degradation from onset is not c's
// calls' alone: another caller's calls into x degraded too, or calls x
// makes degraded before.
func (a *analysis) failsOnItsOwn(c, x string, onset, latest time.Time) bool {
	for _, k := range a.into[x] {
		if a.edges[k].From != c && len(a.healthShifts(k, latest)) > 0 {
			return true
		}
	}
	for _, k := range a.outOf[x] {
		if len(a.healthShifts(k, onset.Add(-BucketWidth))) > 0 {
			return true
		}
	}
	return false
}

// shareFailingDependency reports whether two of the services fed call
// one dependency whose calls degraded: then the failure is below them,
// not in what they were sent.
func (a *analysis) shareFailingDependency(fed []Evidence, latest time.Time) bool {
	callers := map[string]int{}
	for _, e := range fed {
		for _, k := range a.outOf[e.To] {
			if len(a.healthShifts(k, latest)) > 0 {
				callers[a.edges[k].To]++
			}
		}
	}
	for _, n := range callers {
		if n >= 2 {
			return true
		}
	}
	return false
}

// passOn takes from the origins among fed the strength their calls from
// c gave them and, in turn, from the services they call that degraded
// from the shared input's onset on, the strength their calls from the
// services so fed gave them; it returns all of those services.
func (a *analysis) passOn(c string, fed []string, at map[string]int, onset time.Time) []string {
	victims := map[string]bool{}
	for _, s := range fed {
		victims[s] = true
	}
	out := append([]string(nil), fed...)
	for i := 0; i < len(out); i++ {
		v := out[i]
		if j, ok := at[v]; ok && i < len(fed) {
			a.origins[j].Strength *= 1 - a.callerShare(&a.origins[j], false, func(caller string) bool { return caller == c })
		}
		for _, k := range a.outOf[v] {
			d := a.edges[k].To
			j, ok := at[d]
			if !ok || victims[d] || d == c || a.origins[j].Onset.Before(onset.Add(-PropagationSlack)) {
				continue
			}
			share := a.callerShare(&a.origins[j], false, func(caller string) bool { return victims[caller] })
			if share == 0 {
				continue
			}
			a.origins[j].Strength *= 1 - share
			victims[d] = true
			out = append(out, d)
		}
	}
	return out
}

// joinAnd lists names the way a sentence does: "a", "a and b", "a, b and c".
func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// relayedFallback follows a surge back through the service it came from
// (a connection pool, a proxy) when the calls into that service surged
// too, no later: it names a dependency of one of those callers that
// degraded before its own calls surged, or "".
func (a *analysis) relayedFallback(surge Evidence, latest time.Time) string {
	for _, k := range a.into[surge.From] {
		for _, e := range a.shifts[k] {
			if e.Signal != SignalCalls || e.After <= e.Before || e.Onset.After(surge.Onset.Add(PropagationSlack)) {
				continue
			}
			if dep := a.degradedBefore(e.From, surge.From, e.Onset.Add(PropagationSlack), latest); dep != "" {
				return dep
			}
		}
	}
	return ""
}

// degradedBefore names a dependency of caller other than except whose
// calls degraded no later than by, or "".
func (a *analysis) degradedBefore(caller, except string, by, latest time.Time) string {
	for _, k := range a.outOf[caller] {
		act := a.edges[k]
		if act.To == except {
			continue
		}
		for _, e := range a.healthShifts(k, latest) {
			if !e.Onset.After(by) {
				return act.To
			}
		}
	}
	return ""
}

// answerOrigin is the index of the linked origin the answer is about
// (the first orderByAnswer would put first), or -1.
func (a *analysis) answerOrigin(explained []float64) int {
	best, at := -1.0, -1
	for i, o := range a.origins {
		if k := math.Max(explained[i], a.weight(o)*DegradationFactor); o.Linked && k > best {
			best, at = k, i
		}
	}
	return at
}

// orderByAnswer puts first the origins the answer is about: linked ones
// first, then by how well a change explains them (or, unexplained, by
// their verdict's score), then by strength. explained is indexed like
// a.origins and is reordered with it.
func (a *analysis) orderByAnswer(explained []float64) {
	idx := make([]int, len(a.origins))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 { return math.Max(explained[i], a.weight(a.origins[i])*DegradationFactor) }
	sort.SliceStable(idx, func(x, y int) bool {
		i, j := idx[x], idx[y]
		if a.origins[i].Linked != a.origins[j].Linked {
			return a.origins[i].Linked
		}
		if key(i) != key(j) {
			return key(i) > key(j)
		}
		return a.origins[i].Strength > a.origins[j].Strength
	})
	origins := make([]Origin, len(idx))
	scores := make([]float64, len(idx))
	for k, i := range idx {
		origins[k], scores[k] = a.origins[i], explained[i]
	}
	copy(a.origins, origins)
	copy(explained, scores)
}
