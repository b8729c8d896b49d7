package graph

import (
	"fmt"
	"math"
	"sort"
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
func analyse(q ContextQuery, nb *Neighbourhood) *analysis {
	a := &analysis{shifts: map[string][]Evidence{}, into: map[string][]string{}, outOf: map[string][]string{}, edges: map[string]*EdgeActivity{}}
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
	scratch := make([]float64, 4*n)
	rel := make(map[string]Direction, len(nb.Services))
	for _, s := range nb.Services {
		rel[s.Service] = s.Relation
	}
	keys := make([]string, 0, len(nb.around))
	for k, act := range nb.around {
		// A caller's calls to services outside the neighbourhood lead
		// away from the breach: no degradation it belongs to is there.
		if _, in := rel[act.To]; !in && rel[act.From] == Dependents {
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
		if len(act.Buckets) == 0 {
			continue
		}
		// One scratch series serves every edge in turn.
		clear(scratch[:2*n])
		s := minuteSeries{calls: scratch[:n], errors: scratch[n : 2*n]}
		for _, b := range act.Buckets {
			if i := int(b.Minute - first); i >= 0 && i < n {
				s.calls[i] += float64(b.Calls)
				s.errors[i] += float64(b.Errors)
				if b.Latency > 0 {
					if s.latency == nil {
						s.latency = scratch[2*n : 3*n]
						for j := range s.latency {
							s.latency[j] = math.NaN()
						}
					}
					s.latency[i] = float64(b.Latency) / float64(time.Millisecond)
				}
			}
		}
		s.mean = scratch[3*n:]
		s, skip, b := s.baseline(base, at)
		for _, sh := range s.shifts(b) {
			a.shifts[k] = append(a.shifts[k], Evidence{Signal: sh.Signal, From: act.From, To: act.To,
				Onset: start.Add(time.Duration(skip+sh.Onset) * BucketWidth), Before: sh.Before, After: sh.After})
		}
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
		for _, k := range a.into[s] {
			for _, e := range a.shifts[k] {
				if e.Signal == SignalCalls && e.After > e.Before && !e.Onset.After(o.Onset.Add(PropagationSlack)) {
					o.Surges = append(o.Surges, e)
				}
			}
		}
		a.origins = append(a.origins, o)
	}
	a.attributeFallbacks(latest)
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
