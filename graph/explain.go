package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// KindDegradation is sregraph's own verdict, never ingested: a service
// degraded and no change explains it. It appears in a context's changes,
// on the origin service, at the onset.
const KindDegradation Kind = "degradation"

// Explanation weights (documented in the README's evidence table).
const (
	// UnlinkedFactor weighs a degradation the breached service does not
	// reach along degraded calls.
	UnlinkedFactor = 0.3
	// OnOrigin, SurgedInto, CallerOf and CallerOfShared weigh where a
	// change is: on the origin; on a caller whose calls into it surged; on
	// a caller whose own calls into it degraded while the origin's other
	// callers stayed healthy; on one caller among many that degraded.
	OnOrigin       = 1.0
	OnSharedOrigin = 0.6
	SurgedInto     = 0.9
	CallerOf       = 1.0
	CallerOfShared = 0.4
	// Feeds weighs a change on a service whose calls feed an origin with
	// a shared input (see Origin.SharedInput), times its share of the
	// calls into it: what the origin sends may be what it was sent (a
	// queue relays its producers' messages), so time decides between
	// them.
	Feeds = 1.0
	// SlowCallee scales CallerOfShared when calls into the origin got
	// markedly slower (latency at least doubled).
	SlowCallee = 0.5
	// MinTolerance is the shortest time half-life from a change to the
	// onset it explains; the half-life grows to half of how long before
	// the breach the onset was, so a change hours before a slow climb can
	// still explain it.
	MinTolerance = 30 * time.Minute
	// WindowTolerance: the half-life is at least the responder's window
	// divided by this, so widening the window to look for a slow cause
	// widens the tolerance with it (the default window keeps
	// MinTolerance).
	WindowTolerance = 4
	// AfterOnset scores a change made after the onset (an effect or a
	// mitigation), beyond OnsetSlack.
	AfterOnset = 0.1
	OnsetSlack = 3 * time.Minute
	// HopTieBreak separates otherwise equal explanations by distance.
	HopTieBreak = 0.97
	// UnexplainedFactor scales the prior of a change that explains none
	// of the degradations.
	UnexplainedFactor = 0.15
	// DegradationFactor is the score, times the origin's weight, of the
	// verdict "no change explains this"; a change must beat it.
	DegradationFactor = 0.3
	// Widespread is how many origins reached from the breach must begin
	// in the same minute for a common cause to be likely: a change just
	// before that minute then explains them wherever it is, scoring
	// CommonCause times its time and kind factors, and each origin's own
	// verdict is divided by the square root of their number.
	Widespread  = 3
	CommonCause = 0.5
)

// explainKind weighs kinds as causes of a degradation they precede.
func explainKind(k Kind) float64 {
	switch k {
	case KindDeploy, KindRollback, KindConfig, KindFlag:
		return 1
	case KindScale:
		return 0.8
	case KindTicket:
		return 0.7
	case KindIncident:
		return 0.5
	}
	return 0
}

func (a *analysis) weight(o Origin) float64 {
	if o.Linked {
		return o.Strength
	}
	return o.Strength * UnlinkedFactor
}

type explanation struct {
	// scores holds, per origin, how well the change explains it.
	scores   map[int]float64
	score    float64
	when     string
	reasons  []string
	evidence []Evidence
}

// explain finds the origin e explains best and how well (see the
// constants above); it returns the origin's index.
func (a *analysis) explain(q ContextQuery, e Event, hops int) (explanation, bool) {
	var best explanation
	scores := map[int]float64{}
	at := -1
	for i := range a.origins {
		o := &a.origins[i]
		kind := explainKind(e.Kind)
		if kind == 0 {
			continue
		}
		var loc float64
		var x explanation
		if surge, ok := o.surgeFrom(e.Service); ok && e.Service != o.Service {
			loc = SurgedInto
			x.evidence = []Evidence{surge, o.Evidence[0]}
			x.reasons = []string{surge.Sentence() + ", and then " + o.Evidence[0].Sentence()}
		} else if e.Service == o.Service {
			loc = OnOrigin
			if o.CallerSpecific {
				loc = OnSharedOrigin
			}
			x.evidence = o.Evidence[:1]
			x.reasons = []string{fmt.Sprintf("%s is where it starts: %s; %s", o.Service, o.Evidence[0].Sentence(), o.healthyOut)}
		} else if share := a.feedShare(o, e.Service); share > 0 {
			loc = Feeds * share
			x.evidence = o.Evidence[:1]
			x.reasons = []string{fmt.Sprintf("%s feeds %s, and %s; %s", e.Service, o.Service, o.Evidence[0].Sentence(), o.healthyOut)}
		} else if ev, ok := o.degradedFrom(e.Service); ok {
			// One caller among several whose calls degraded: it explains
			// its own share of the degraded calls at most.
			loc = CallerOfShared * a.share(o, e.Service)
			reason := fmt.Sprintf("%s, from the service this change is on", ev.Sentence())
			if !o.CallerSpecific && o.slowed() {
				// The callee answers slowly for everyone: that is the
				// callee's, not how a caller calls it.
				loc *= SlowCallee
				reason += fmt.Sprintf("; but %s got slow for its callers, which a caller's change rarely does", o.Service)
			}
			if o.CallerSpecific {
				loc = CallerOf
				reason += fmt.Sprintf("; most calls into %s from other callers stayed healthy", o.Service)
			}
			x.evidence = []Evidence{ev}
			x.reasons = []string{reason}
		} else {
			continue
		}
		d := o.Onset.Sub(e.At)
		onset := o.Onset.UTC().Format("15:04")
		var t float64
		switch {
		case d < -OnsetSlack:
			t = AfterOnset
			x.when = fmt.Sprintf("%s after the degradation began at %s: an effect or a mitigation", FormatAgo(-d), onset)
		case d <= 0 && AddsCapacity(e):
			// An autoscaler adding replicas as the load rose is answering
			// the degradation, whatever minute it is dated to.
			t = AfterOnset
			x.when = fmt.Sprintf("an autoscaler adding capacity as the degradation began at %s: an effect", onset)
		case d < 0:
			// Inside the slack an onset is dated to the minute, and a
			// change's event may come when its rollout ended.
			t = 1 - 0.5*float64(-d)/float64(OnsetSlack)
			x.when = fmt.Sprintf("as the degradation began at %s", onset)
		case d == 0:
			t = 1
			x.when = fmt.Sprintf("as the degradation began at %s", onset)
		default:
			h := max(MinTolerance, q.At.Sub(o.Onset)/2, (q.Before+q.After)/WindowTolerance)
			t = math.Pow(0.5, float64(d)/float64(h))
			x.when = fmt.Sprintf("%s before the degradation began at %s", FormatAgo(d), onset)
		}
		if e.Kind == KindRollback && d < -OnsetSlack {
			x.reasons = append(x.reasons, a.afterRollback(o, e))
		}
		x.score = a.weight(*o) * loc * t * kind * math.Pow(HopTieBreak, float64(hops))
		scores[i] = x.score
		if x.score > best.score {
			best, at = x, i
		}
	}
	best.scores = scores
	return best, at >= 0
}

// share is caller's part of the calls on o's degraded incoming edges.
func (a *analysis) share(o *Origin, caller string) float64 {
	return a.callerShare(o, true, func(c string) bool { return c == caller })
}

// callerShare is the share of o's degraded callers for which pick is
// true, each weighed by its calls in the hour from its onset when byCalls,
// counted once otherwise.
func (a *analysis) callerShare(o *Origin, byCalls bool, pick func(caller string) bool) float64 {
	var mine, all int64
	seen := map[string]bool{}
	for _, ev := range o.Evidence {
		if seen[ev.From] {
			continue
		}
		seen[ev.From] = true
		w := int64(1)
		if byCalls {
			w, _ = a.edges[edgeKey(ev.From, ev.To)].Totals(ev.Onset, ev.Onset.Add(time.Hour))
		}
		all += w
		if pick(ev.From) {
			mine += w
		}
	}
	if all == 0 {
		return 0
	}
	return float64(mine) / float64(all)
}

// feedShare is caller's share of the calls into o when o's degradation
// is in what it sends, 0 otherwise.
func (a *analysis) feedShare(o *Origin, caller string) float64 {
	if !o.SharedInput || caller == o.Service {
		return 0
	}
	var mine, all int64
	for _, k := range a.into[o.Service] {
		act := a.edges[k]
		c, _ := act.Totals(o.Onset.Add(-time.Hour), o.Onset)
		all += c
		if act.From == caller {
			mine += c
		}
	}
	if all == 0 {
		return 0
	}
	return float64(mine) / float64(all)
}

// afterRollback says whether the origin's signal came back after a
// rollback made during the degradation.
func (a *analysis) afterRollback(o *Origin, e Event) string {
	ev := o.Evidence[0]
	for _, k := range a.into[o.Service] {
		act := a.edges[k]
		if act.From != ev.From {
			continue
		}
		c, x := act.Totals(e.At.Add(5*time.Minute), e.At.Add(20*time.Minute))
		if ev.Signal == SignalErrors && c > 0 {
			r := float64(x) / float64(c)
			if r <= ev.Before+errorFloor {
				return fmt.Sprintf("errors on %s→%s went back to %s after this rollback", ev.From, ev.To, pct(r))
			}
			return fmt.Sprintf("errors on %s→%s stayed at %s after this rollback: it did not clear the cause", ev.From, ev.To, pct(r))
		}
	}
	return "made after the degradation began"
}

// unexplained says why a change explains none of the degradations.
func (a *analysis) unexplained(e Event) string {
	o := a.origins[0]
	if o.Service == e.Service {
		return fmt.Sprintf("%s degraded from %s, but this %s does not fit that time", o.Service, o.Onset.UTC().Format("15:04"), e.Kind)
	}
	return fmt.Sprintf("explains none of the degradation: it starts at %s (%s)", o.Service, o.Evidence[0].Sentence())
}

// degradation is the verdict entry for an origin no change explains.
// When a change explains the origin better than the verdict scores, the
// verdict stays in the answer, below it, as the alternative.
func (a *analysis) degradation(q ContextQuery, o Origin, n NearbyService, explainedBetter bool) RankedChange {
	onset := o.Onset.UTC().Format("15:04")
	e := Event{ID: fmt.Sprintf("degradation:%s@%d", o.Service, o.Onset.Unix()), Kind: KindDegradation, Service: o.Service,
		At: o.Onset, Source: "sregraph",
		Summary: fmt.Sprintf("%s degraded at %s and no change explains it", o.Service, onset)}
	rc := RankedChange{Event: e, Hops: n.Hops, Relation: n.Relation, Path: n.Path, Evidence: o.Evidence}
	if explainedBetter {
		e.Summary = fmt.Sprintf("%s degraded at %s: on its own, unless a change ranked above caused it", o.Service, onset)
		rc.Event = e
		rc.Reasons = append(rc.Reasons, fmt.Sprintf("if no change ranked above caused it, it degraded on its own: %s", o.Evidence[0].Sentence()))
	} else {
		rc.Reasons = append(rc.Reasons, fmt.Sprintf("no change explains this: %s", o.Evidence[0].Sentence()))
	}
	rc.Reasons = append(rc.Reasons, o.healthyOut)
	if len(o.Evidence) > 1 {
		var more []string
		for _, ev := range o.Evidence[1:min(len(o.Evidence), 3)] {
			more = append(more, ev.Sentence())
		}
		rc.Reasons = append(rc.Reasons, "also "+strings.Join(more, "; "))
	}
	rc.Reasons = append(rc.Reasons, pathReason(q.Service, n))
	return rc
}

// slowed reports whether calls into the origin got at least twice as slow.
func (o *Origin) slowed() bool {
	for _, e := range o.Evidence {
		if e.Signal == SignalLatency && e.After >= 2*e.Before {
			return true
		}
	}
	return false
}

// AddsCapacity reports whether e is an autoscaler scaling out on rising
// load: the direction the decoders record ("up"), more replicas than
// before, or a metric above its target.
func AddsCapacity(e Event) bool {
	if !Automatic(e) {
		return false
	}
	if dir, ok := e.Attributes["direction"].(string); ok {
		return dir == "up"
	}
	from, okFrom := number(e.Attributes["fromReplicas"])
	to, okTo := number(e.Attributes["toReplicas"])
	if okFrom && okTo {
		return to > from
	}
	msg, _ := e.Attributes["message"].(string)
	return strings.Contains(strings.ToLower(e.Summary+" "+msg), "above target")
}

// number reads a numeric attribute, as JSON or a decoder stores it.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// Automatic reports whether a scale event is an autoscaler acting on its
// policy (a Kubernetes HorizontalPodAutoscaler rescale, a cloud
// autoscaling group's policy) rather than a person's change.
func Automatic(e Event) bool {
	if e.Kind != KindScale {
		return false
	}
	str := func(k string) string { s, _ := e.Attributes[k].(string); return s }
	switch {
	case str("objectKind") == "HorizontalPodAutoscaler", str("component") == "horizontal-pod-autoscaler",
		str("reason") == "SuccessfulRescale":
		return true
	case strings.Contains(str("cause"), "triggered policy"):
		return true
	}
	sum := strings.ToLower(e.Summary)
	return strings.Contains(sum, "above target") || strings.Contains(sum, "below target") ||
		strings.Contains(sum, "horizontalpodautoscaler")
}

// creditPolicies passes an automatic scale event's explanation to the
// configuration change on the same service before it: the autoscaler did
// what that change told it to, so the change is the cause and the scale
// its mechanism. The change ranks just above the scale, with a reason
// naming it.
func creditPolicies(out []RankedChange) {
	for i := range out {
		c := &out[i]
		if c.Event.Kind != KindConfig {
			continue
		}
		var by *RankedChange
		for j := range out {
			sc := &out[j]
			if !Automatic(sc.Event) || len(sc.Evidence) == 0 || sc.Event.Service != c.Event.Service || !c.Event.At.Before(sc.Event.At) {
				continue
			}
			if by == nil || sc.Score > by.Score {
				by = sc
			}
		}
		// An explained change's reasons are its time, its onset, its
		// evidence and its path: the middle is what to pass on.
		if by == nil || c.Score >= by.Score || len(by.Reasons) < 3 || !lastConfigBefore(out, c, by.Event) {
			continue
		}
		c.Score = roundScore(by.Score * 1.01)
		c.Evidence = by.Evidence
		c.explained = true
		c.Reasons = append([]string{c.Reasons[0], fmt.Sprintf("the autoscaler acted on this change %s later (%s), and %s",
			FormatAgo(by.Event.At.Sub(c.Event.At)), by.Event.Summary, strings.Join(by.Reasons[1:len(by.Reasons)-1], "; "))}, c.Reasons[1:]...)
	}
}

// lastConfigBefore reports whether c is the latest configuration change on
// its service before e.
func lastConfigBefore(out []RankedChange, c *RankedChange, e Event) bool {
	for _, o := range out {
		if o.Event.Kind == KindConfig && o.Event.Service == c.Event.Service && o.Event.At.After(c.Event.At) && o.Event.At.Before(e.At) {
			return false
		}
	}
	return true
}

// widespread returns the onset minute and the services of the origins
// reached from the breach that began within a minute of the first of
// them, when there are at least Widespread of them.
func (a *analysis) widespread() (time.Time, []string) {
	var first time.Time
	for _, o := range a.origins {
		if o.Linked && (first.IsZero() || o.Onset.Before(first)) {
			first = o.Onset
		}
	}
	var group []string
	var weight float64
	for _, o := range a.origins {
		if o.Linked && o.Onset.Sub(first) <= BucketWidth {
			group = append(group, o.Service)
			weight += o.Strength
		}
	}
	// Counted by strength: a strong degradation beside blips elsewhere
	// is that service's, not a failure spread wide.
	if weight < Widespread {
		return time.Time{}, nil
	}
	return first, group
}

// creditCommonCause scores every change made shortly before a widespread
// onset as a possible common cause, when that beats what it explains on
// its own.
func (a *analysis) creditCommonCause(q ContextQuery, out []RankedChange, onset time.Time, group []string) {
	names := group[:min(3, len(group))]
	for i := range out {
		c := &out[i]
		kind := explainKind(c.Event.Kind)
		if c.Symptom || kind == 0 || c.Event.Kind == KindDegradation {
			continue
		}
		d := onset.Sub(c.Event.At)
		if d < -OnsetSlack || d > MinTolerance {
			continue
		}
		t := 1.0
		if d > 0 {
			t = math.Pow(0.5, float64(d)/float64(MinTolerance))
		} else if d < 0 {
			t = 1 - 0.5*float64(-d)/float64(OnsetSlack)
		}
		score := CommonCause * t * kind * math.Pow(HopTieBreak, float64(c.Hops))
		if score <= c.Score {
			continue
		}
		c.Score = roundScore(score)
		c.explained = true
		when := "as they began"
		if d > 0 {
			when = FormatAgo(d) + " before that"
		}
		c.Reasons = append([]string{c.Reasons[0], fmt.Sprintf("%d services began failing in the same minute, %s (%s…): a change made %s is a likely common cause",
			len(group), onset.UTC().Format("15:04"), strings.Join(names, ", "), when)}, c.Reasons[1:]...)
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
