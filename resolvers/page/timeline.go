package page

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/sregraph/sregraph/graph"
)

// Timeline geometry, in SVG user units. The drawing scales with the page
// down to minTimelineWidth, below which its figure scrolls sideways.
const (
	timelineWidth  = 960.0
	laneLabelWidth = 150.0
	// timelinePadL keeps markers at the very start of the window whole.
	timelinePadL = 14.0
	timelinePadR = 24.0
	timelineTop  = 30.0
	laneHeight   = 44.0
	axisHeight   = 30.0
	// openAnomaly is how long an anomaly without an end is shaded for.
	openAnomaly = 5 * time.Minute

	// onsetRow is a second row of labels above the lanes, for the onset's,
	// so that it never runs into the breach's label.
	onsetRow = 16.0
)

// timeline is the server-drawn timeline: one lane per service that has
// events in the window (and the focus), the changes as markers, the breach
// start as a dashed line, where the degradation starts as a solid one, and
// the breach episode and anomalies shaded.
type timeline struct {
	Width, Height  float64
	PlotX, PlotEnd float64
	// ViewX and ViewW are the part of the drawing right of the lane names,
	// drawn as its own SVG so that it can scroll while the names stay.
	ViewX, ViewW float64
	AxisY        float64
	Lanes        []lane
	Ticks        []tick
	AtX          float64
	AtLabel      string
	AtTitle      string
	Band         *shade
	Shades       []shade
	Markers      []marker
	Summary      string

	// Onset is where the degradation starts, when the context has an
	// origin whose onset is in the window.
	Onset *onsetMark
}

type lane struct {
	Service string
	Y, Mid  float64
	Label   string
	Hint    string
	Focus   bool
	Href    string
	Odd     bool
}

// onsetMark is the line at the minute the degradation starts, with its
// label to one side of it.
type onsetMark struct {
	X       float64
	Label   string
	LabelX  float64
	Anchor  string // start or end
	Title   string
	Service string
}

type tick struct {
	X     float64
	Label string
}

type shade struct {
	X, Y, W, H float64
	Kind       graph.Kind
	Service    string
	Title      string
}

type marker struct {
	X, Y    float64
	Kind    graph.Kind
	Style   kindStyle
	Title   string
	EventID string
	Service string
	Rank    int
	Top     bool
	Symptom bool
	// Href leads to the change's card, where its details are.
	Href string
}

// layoutTimeline draws c over [c.From, c.To]; anchors name, per change,
// the element of the page its marker links to (cardAnchors).
func layoutTimeline(c *graph.Context, l linker, anchors []string) timeline {
	byService := map[string][]int{}
	for i := range c.Changes {
		s := c.Changes[i].Event.Service
		byService[s] = append(byService[s], i)
	}
	t := timeline{Width: timelineWidth, PlotX: laneLabelWidth, PlotEnd: timelineWidth - timelinePadR}
	t.ViewX = t.PlotX - timelinePadL
	t.ViewW = t.Width - t.ViewX
	span := c.To.Sub(c.From)
	x := func(at time.Time) float64 {
		if span <= 0 {
			return t.PlotX
		}
		f := float64(at.Sub(c.From)) / float64(span)
		f = min(1, max(0, f))
		return t.PlotX + f*(t.PlotEnd-t.PlotX)
	}
	top := timelineTop
	if o, ok := firstOrigin(c); ok && !o.Onset.Before(c.From) && !o.Onset.After(c.To) {
		t.Onset = onsetOf(o, c, x(o.Onset), t.ViewX, t.Width)
		top += onsetRow
	}
	topRank := 0
	for _, ch := range c.Changes {
		if !ch.Symptom {
			topRank = ch.Rank
			break
		}
	}
	for _, s := range c.Services {
		if s.Service != c.Focus && len(byService[s.Service]) == 0 {
			continue
		}
		y := top + float64(len(t.Lanes))*laneHeight
		ln := lane{
			Service: s.Service, Y: y, Mid: y + laneHeight/2, Label: shorten(s.Service, 18),
			Hint: laneHint(s), Focus: s.Service == c.Focus, Href: l.focusHref(s.Service), Odd: len(t.Lanes)%2 == 1,
		}
		t.Lanes = append(t.Lanes, ln)
		// Markers in one lane that would overlap step up and down.
		lastX := map[int]float64{}
		for _, i := range sortedByTime(c.Changes, byService[s.Service]) {
			ch := &c.Changes[i]
			e := ch.Event
			mx := x(e.At)
			level := 0 // when every level is taken, overlap at the centre
			for _, lv := range []int{0, -1, 1} {
				if last, ok := lastX[lv]; !ok || mx-last >= 18 {
					level = lv
					break
				}
			}
			lastX[level] = mx
			st := styleOf(e.Kind)
			m := marker{
				X: mx, Y: ln.Mid + float64(level)*12, Kind: e.Kind, Style: st, EventID: e.ID, Service: e.Service,
				Rank: ch.Rank, Top: ch.Rank == topRank && !ch.Symptom, Symptom: ch.Symptom, Href: "#" + anchors[i],
				Title: fmt.Sprintf("#%d %s on %s at %s (%s): %s", ch.Rank, st.Label, e.Service, e.At.UTC().Format("15:04 UTC"), relative(e.At, c.At, ""), e.Summary),
			}
			t.Markers = append(t.Markers, m)
			if e.Kind.Symptom() {
				end := e.At.Add(openAnomaly)
				if e.End != nil {
					end = *e.End
				}
				sx := x(e.At)
				w := max(3, x(end)-sx)
				t.Shades = append(t.Shades, shade{
					X: sx, Y: y + 3, W: w, H: laneHeight - 6, Kind: e.Kind, Service: e.Service,
					Title: fmt.Sprintf("%s on %s, %s – %s: %s", st.Label, e.Service, e.At.UTC().Format("15:04"), end.UTC().Format("15:04 UTC"), e.Summary),
				})
			}
		}
	}
	t.AxisY = top + float64(len(t.Lanes))*laneHeight
	t.Height = t.AxisY + axisHeight
	t.AtX = x(c.At)
	if c.Breach != nil {
		t.AtLabel = "breach " + c.At.UTC().Format("15:04")
		t.AtTitle = fmt.Sprintf("breach of %s started %s", c.Breach.SLO, c.At.UTC().Format("2006-01-02 15:04 UTC"))
		end := c.To
		endText := "still open at the end of the window"
		if c.Breach.ResolvedAt != nil && c.Breach.ResolvedAt.Before(c.To) {
			end = *c.Breach.ResolvedAt
			endText = "resolved " + end.UTC().Format("15:04 UTC")
		}
		t.Band = &shade{
			X: t.AtX, Y: top, W: max(2, x(end)-t.AtX), H: t.AxisY - top, Kind: graph.KindSLOBreach, Service: c.Focus,
			Title: fmt.Sprintf("breach of %s on %s: started %s, %s", c.Breach.SLO, c.Focus, c.At.UTC().Format("15:04 UTC"), endText),
		}
	} else {
		t.AtLabel = "at " + c.At.UTC().Format("15:04")
		t.AtTitle = "the instant asked about: " + c.At.UTC().Format("2006-01-02 15:04 UTC")
	}
	t.Ticks = ticks(c.From, c.To, x)
	t.Summary = fmt.Sprintf("%d changes on %d services between %s and %s", len(c.Changes), len(t.Lanes), c.From.UTC().Format("15:04"), c.To.UTC().Format("15:04 UTC"))
	if t.Onset != nil {
		t.Summary += fmt.Sprintf("; the solid line, %s, is where the degradation starts, at %s", t.Onset.Label, t.Onset.Service)
	}
	return t
}

// onsetOf draws o's onset at x: a label naming the signal that moved
// first ("errors start 11:43") on the side away from the breach line,
// unless that side would cut it off at the edge of the drawing [left,
// right].
func onsetOf(o graph.Origin, c *graph.Context, x, left, right float64) *onsetMark {
	at := o.Onset.UTC().Format("15:04")
	first := o.Evidence[0]
	for _, e := range o.Evidence {
		if e.Onset.Equal(o.Onset) {
			first = e
			break
		}
	}
	m := &onsetMark{X: x, Service: o.Service, Label: "onset " + at}
	switch first.Signal {
	case graph.SignalErrors:
		m.Label = "errors start " + at
	case graph.SignalLatency:
		m.Label = "latency rises " + at
	}
	m.Title = fmt.Sprintf("%s: the degradation starts at %s, %s UTC (%s): %s", m.Label, o.Service, at, relativeToAt(o.Onset, c), o.Evidence[0].Sentence())
	if !o.Linked {
		m.Title += fmt.Sprintf("; %s does not reach %s along degraded calls", c.Focus, o.Service)
	}
	// 12px bold runs about 0.62em a character.
	w := float64(utf8.RuneCountInString(m.Label)) * 12 * 0.62
	m.Anchor, m.LabelX = "end", x-5
	if o.Onset.After(c.At) || x-5-w < left {
		m.Anchor, m.LabelX = "start", x+5
	}
	if m.Anchor == "start" && x+5+w > right {
		m.Anchor, m.LabelX = "end", x-5
	}
	return m
}

func laneHint(s graph.NearbyService) string {
	switch {
	case s.Hops == 0:
		return "focus"
	case s.Relation == graph.Dependents:
		return fmt.Sprintf("caller · %d", s.Hops)
	case s.Relation == graph.Siblings:
		if dep, ok := siblingOf(s.Path); ok {
			return "also calls " + shorten(dep, 13)
		}
		return fmt.Sprintf("sibling · %d", s.Hops)
	default:
		return fmt.Sprintf("dependency · %d", s.Hops)
	}
}

// sortedByTime returns the indexes idx ordered oldest first.
func sortedByTime(changes []graph.RankedChange, idx []int) []int {
	out := append([]int(nil), idx...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && changes[out[j]].Event.At.Before(changes[out[j-1]].Event.At); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// tickSteps are the axis intervals, smallest first.
var tickSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour,
}

// ticks picks the smallest step giving at most eight ticks, aligned to
// whole steps in UTC.
func ticks(from, to time.Time, x func(time.Time) float64) []tick {
	span := to.Sub(from)
	if span <= 0 {
		return nil
	}
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 8 {
			step = s
			break
		}
	}
	layout := "15:04"
	if step >= 24*time.Hour {
		layout = "Jan 2"
	}
	var out []tick
	for t := from.UTC().Truncate(step); !t.After(to); t = t.Add(step) {
		if t.Before(from) {
			continue
		}
		out = append(out, tick{X: x(t), Label: t.Format(layout)})
	}
	return out
}

// shorten cuts s to n runes with an ellipsis; the full name is in the
// element's title.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
