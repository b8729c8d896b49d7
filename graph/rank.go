package graph

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// RankedChange is one event in a breach context with its suspicion score.
type RankedChange struct {
	// Rank is 1 for the most suspect change.
	Rank int `json:"rank"`
	// Score is in 0..1; it is the product of the factors in ScoringModel.
	Score    float64   `json:"score"`
	Event    Event     `json:"event"`
	Hops     int       `json:"hops"`
	Relation Direction `json:"relation"`
	Path     []string  `json:"path"`
	// Reasons are plain sentences a responder can read.
	Reasons []string `json:"reasons"`
	// Symptom is true for breaches and anomalies: context, never a cause.
	Symptom bool `json:"symptom,omitempty"`
	// Evidence holds the telemetry shifts the change explains.
	Evidence []Evidence `json:"evidence,omitempty"`
	// explained is set once a rule finds the change explains a
	// degradation (ranking only).
	explained bool
}

// Scoring constants. The README's scoring table documents them; change
// both together.
const (
	// TimeHalfLife halves a change's time factor for every hour it happened
	// before the reference instant.
	TimeHalfLife = time.Hour
	// AfterFactor scales changes made after the reference instant
	// (mitigations), which also halve every AfterHalfLife.
	AfterFactor    = 0.15
	AfterHalfLife  = 15 * time.Minute
	HopFactor      = 0.75
	DependentScale = 0.6
	SupersededBy   = 0.35
	// Corroboration window and thresholds: errors on calls into the changed
	// service in CorroborationWindow after the change against the same
	// length before it, each side needing MinCalls calls.
	CorroborationWindow = 30 * time.Minute
	MinCalls            = 20
	RiseRatio           = 2.0
	RiseAbsolute        = 0.01
	CorroboratedFactor  = 1.0
	NoRiseFactor        = 0.6
	NoCallDataFactor    = 0.8
)

// KindPrior weighs a kind by how often it causes breaches.
func KindPrior(k Kind) float64 {
	switch k {
	case KindDeploy, KindRollback, KindConfig, KindFlag:
		return 1.0
	case KindScale:
		return 0.6
	case KindIncident:
		return 0.35
	case KindTicket:
		return 0.3
	case KindAnomaly:
		return 0.2
	default:
		return 0.1
	}
}

// deployLike kinds supersede each other on one service.
func deployLike(k Kind) bool {
	return k == KindDeploy || k == KindRollback || k == KindConfig || k == KindFlag
}

// Rank scores events in a neighbourhood around q.At: see rank.
func Rank(q ContextQuery, nb *Neighbourhood, events []Event) []RankedChange {
	return rank(q, nb, analyse(q, nb), events)
}

// rank scores events by how well they explain where the degradation
// starts (a's origins). Without any degradation in the telemetry, the
// score is the prior alone: time from the breach, hops and kind, with the
// error check of corroborate. Causes come first by score; symptoms
// follow them, scored no higher than the weakest cause. Ties break by time
// (newest first) and then ID, so the order is total.
func rank(q ContextQuery, nb *Neighbourhood, a *analysis, events []Event) []RankedChange {
	where := make(map[string]NearbyService, len(nb.Services))
	for _, s := range nb.Services {
		where[s.Service] = s
	}
	ref := "the breach"
	if q.Breach == nil {
		ref = q.At.Format("15:04 MST")
	}
	latest := latestDeployBefore(events, q.At)
	into := callsInto(nb)
	explained := make([]float64, len(a.origins))
	var unexplained []int
	out := make([]RankedChange, 0, len(events)+len(a.origins))
	for _, e := range events {
		n, ok := where[e.Service]
		if !ok {
			continue
		}
		rc := RankedChange{Event: e, Hops: n.Hops, Relation: n.Relation, Path: n.Path, Symptom: e.Kind.Symptom()}
		score := timeFactor(e.At, q.At) * math.Pow(HopFactor, float64(n.Hops)) * KindPrior(e.Kind)
		rc.Reasons = append(rc.Reasons, timeReason(e, q.At, ref))
		rc.Reasons = append(rc.Reasons, pathReason(q.Service, n))
		if n.Relation == Dependents {
			score *= DependentScale
		}
		if rc.Symptom {
			rc.Reasons = append(rc.Reasons, "a symptom, shown for context: it cannot be the cause")
		}
		if len(a.origins) == 0 && deployLike(e.Kind) {
			if later, ok := latest[e.Service]; ok && later.ID != e.ID && later.At.After(e.At) {
				score *= SupersededBy
				rc.Reasons = append(rc.Reasons, fmt.Sprintf("superseded by a later %s on %s %s after it", later.Kind, e.Service, FormatAgo(later.At.Sub(e.At))))
			}
		}
		if len(a.origins) == 0 && (deployLike(e.Kind) || e.Kind == KindScale) {
			f, reason := corroborate(into, e, q.To())
			score *= f
			if reason != "" {
				rc.Reasons = append(rc.Reasons, reason)
			}
		}
		if len(a.origins) > 0 && !rc.Symptom {
			if x, ok := a.explain(q, e, n.Hops); ok {
				score = x.score
				rc.Reasons = append([]string{rc.Reasons[0], x.when}, x.reasons...)
				rc.Reasons = append(rc.Reasons, pathReason(q.Service, n))
				rc.Evidence = x.evidence
				for i, sc := range x.scores {
					explained[i] = math.Max(explained[i], sc)
				}
			} else {
				// Said once the origins are in the answer's order.
				score *= UnexplainedFactor
				unexplained = append(unexplained, len(out))
			}
		}
		rc.Score = roundScore(score)
		out = append(out, rc)
	}
	if len(a.origins) > 0 {
		creditPolicies(out)
	}
	onset, group := a.widespread()
	if len(group) > 0 {
		a.creditCommonCause(q, out, onset, group)
	}
	main := a.answerOrigin(explained)
	for i, o := range a.origins {
		n, inside := where[o.Service]
		w := a.weight(o)
		if len(group) > 0 && o.Linked && absDuration(o.Onset.Sub(onset)) <= BucketWidth {
			// One of many that broke in the same minute: unlikely to have
			// broken on its own.
			w /= math.Sqrt(float64(len(group)))
		}
		better := w*DegradationFactor <= explained[i]
		if !inside || better && i != main {
			continue
		}
		rc := a.degradation(q, o, n, better)
		rc.Score = roundScore(w * DegradationFactor)
		if better {
			// The degradation the answer is about keeps its verdict
			// even when a change explains it, so that widening the
			// window (which lets older changes explain it) never drops
			// "it degraded on its own" from the answer: scored by the
			// share the change leaves unexplained.
			rc.Score = roundScore(w * DegradationFactor * max(0, 1-explained[i]/w))
		}
		out = append(out, rc)
	}
	a.orderByAnswer(explained)
	for _, i := range unexplained {
		// A rule above may have given it an explanation since.
		if !out[i].explained {
			out[i].Reasons = append(out[i].Reasons, a.unexplained(out[i].Event))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Symptom != b.Symptom {
			return !a.Symptom
		}
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return EventLess(a.Event, b.Event)
	})
	floor := 1.0
	for i := range out {
		if !out[i].Symptom {
			floor = out[i].Score
		} else if out[i].Score > floor {
			out[i].Score = floor
		}
		out[i].Rank = i + 1
	}
	return out
}

func roundScore(s float64) float64 { return math.Round(math.Min(1, math.Max(0, s))*1000) / 1000 }

func timeFactor(at, ref time.Time) float64 {
	d := ref.Sub(at)
	if d >= 0 {
		return math.Pow(0.5, float64(d)/float64(TimeHalfLife))
	}
	return AfterFactor * math.Pow(0.5, float64(-d)/float64(AfterHalfLife))
}

func latestDeployBefore(events []Event, ref time.Time) map[string]Event {
	latest := map[string]Event{}
	for _, e := range events {
		if !deployLike(e.Kind) || e.At.After(ref) {
			continue
		}
		if old, ok := latest[e.Service]; !ok || e.At.After(old.At) {
			latest[e.Service] = e
		}
	}
	return latest
}

var verbs = map[Kind]string{
	KindDeploy: "deployed", KindRollback: "rolled back", KindScale: "scaled", KindConfig: "config changed",
	KindFlag: "feature flag changed", KindTicket: "ticket updated", KindIncident: "incident opened",
	KindSLOBreach: "SLO breached", KindAnomaly: "anomaly seen",
}

func timeReason(e Event, ref time.Time, refName string) string {
	d := ref.Sub(e.At)
	switch {
	case d == 0:
		return fmt.Sprintf("%s at the same moment as %s", verbs[e.Kind], refName)
	case d > 0:
		return fmt.Sprintf("%s %s before %s", verbs[e.Kind], FormatAgo(d), refName)
	case deployLike(e.Kind) || e.Kind == KindScale:
		return fmt.Sprintf("%s %s after %s started (a mitigation?)", verbs[e.Kind], FormatAgo(d), refName)
	default:
		return fmt.Sprintf("%s %s after %s started", verbs[e.Kind], FormatAgo(d), refName)
	}
}

func pathReason(focus string, n NearbyService) string {
	plural := "hops"
	if n.Hops == 1 {
		plural = "hop"
	}
	switch {
	case n.Hops == 0:
		return fmt.Sprintf("on %s itself", focus)
	case n.Relation == Siblings:
		dep := n.Path[len(n.Path)-2]
		return fmt.Sprintf("%s also calls %s, which %s depends on (a sibling)", n.Service, dep, focus)
	case n.Relation == Dependencies && n.Hops == 1:
		return fmt.Sprintf("%s calls %s (1 hop)", focus, n.Service)
	case n.Relation == Dependencies:
		return fmt.Sprintf("%s depends on %s through %s (%d %s)", focus, n.Service, strings.Join(n.Path, " → "), n.Hops, plural)
	case n.Hops == 1:
		return fmt.Sprintf("%s calls %s (1 hop, a caller)", n.Service, focus)
	default:
		rev := make([]string, len(n.Path))
		for i, s := range n.Path {
			rev[len(n.Path)-1-i] = s
		}
		return fmt.Sprintf("%s reaches %s through %s (%d %s, a caller)", n.Service, focus, strings.Join(rev, " → "), n.Hops, plural)
	}
}

// callsInto indexes a neighbourhood's edges by callee, each list in edge
// order (caller name), so corroboration is the same on every run.
func callsInto(nb *Neighbourhood) map[string][]*EdgeActivity {
	keys := make([]string, 0, len(nb.Activity))
	for k := range nb.Activity {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	into := make(map[string][]*EdgeActivity, len(keys))
	for _, k := range keys {
		a := nb.Activity[k]
		into[a.To] = append(into[a.To], a)
	}
	return into
}

// corroborate is applied to changes (deploy, rollback, config, flag,
// scale) only: tickets and incidents record what people saw, not what
// they changed. It compares the error ratio of calls into the changed service
// before and after the change and returns the factor and a reason.
func corroborate(into map[string][]*EdgeActivity, e Event, windowEnd time.Time) (float64, string) {
	afterEnd := e.At.Add(CorroborationWindow)
	if afterEnd.After(windowEnd) {
		afterEnd = windowEnd
	}
	span := afterEnd.Sub(e.At)
	if span < BucketWidth {
		return NoCallDataFactor, ""
	}
	beforeStart := e.At.Add(-span)
	bucketOf := e.At.Truncate(BucketWidth)
	type rise struct {
		edge          string
		before, after float64
	}
	var best *rise
	var quiet *rise
	for _, a := range into[e.Service] {
		bc, be := a.Totals(beforeStart, bucketOf)
		ac, ae := a.Totals(bucketOf.Add(BucketWidth), afterEnd.Add(BucketWidth))
		if bc < MinCalls || ac < MinCalls {
			continue
		}
		r := rise{edge: a.From + "→" + a.To, before: float64(be) / float64(bc), after: float64(ae) / float64(ac)}
		if r.after >= RiseRatio*r.before && r.after-r.before >= RiseAbsolute {
			if best == nil || r.after-r.before > best.after-best.before {
				best = &r
			}
		} else if quiet == nil {
			quiet = &r
		}
	}
	// The sentence names the spans it compares, so that it cannot be
	// mistaken for the error ratio of the whole window.
	each := FormatAgo(span)
	switch {
	case best != nil:
		return CorroboratedFactor, fmt.Sprintf("errors on %s rose from %s in the %s before this change to %s in the %s after it", best.edge, pct(best.before), each, pct(best.after), each)
	case quiet != nil:
		return NoRiseFactor, fmt.Sprintf("no error rise on %s in the %s after this change (%s before, %s after)", quiet.edge, each, pct(quiet.before), pct(quiet.after))
	}
	return NoCallDataFactor, ""
}

func pct(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.1f%%", r*100)
	}
	return fmt.Sprintf("%.0f%%", r*100)
}
