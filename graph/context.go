package graph

import (
	"context"
	"fmt"
	"time"
)

// EventSource lists events; stores implement it.
type EventSource interface {
	Events(ctx context.Context, f EventFilter) (Page[Event], error)
}

// ContextSource is what a breach context needs from a store.
type ContextSource interface {
	EdgeSource
	EventSource
}

// Applier is the write side of a store, and of everything that stands in
// for one (a store that also tells subscribers what changed, a test
// double). Apply writes b idempotently and returns only once it is
// durable: events are keyed by ID (Merge decides what a repeat does),
// declared dependencies by (from, to) and call buckets by (from, to,
// start, producer), where a repeat replaces the counts. An error wrapping
// ErrInvalid means the batch holds something the store refuses, which no
// retry will change; any other error is the store failing, and the same
// batch may be written again.
type Applier interface {
	Apply(ctx context.Context, b Batch) (Written, error)
}

// Context is the answer to "what changed near this service around this
// time": the neighbourhood as it was, the calls between its services, and
// the ranked changes on them.
type Context struct {
	Focus    string          `json:"focus"`
	At       time.Time       `json:"at"`
	From     time.Time       `json:"from"`
	To       time.Time       `json:"to"`
	Depth    int             `json:"depth"`
	Services []NearbyService `json:"services"`
	Edges    []Edge          `json:"edges"`
	Changes  []RankedChange  `json:"changes"`
	// Truncated is true when more changes matched than were ranked.
	Truncated bool    `json:"truncated,omitempty"`
	Breach    *Breach `json:"breach,omitempty"`
	// Origins are where the telemetry says the degradation starts, the
	// one the breach belongs to first.
	Origins []Origin `json:"origins,omitempty"`
}

// BuildContext answers q from src. It validates q (filling defaults),
// walks the neighbourhood, loads the events of its services in the window
// and ranks them.
func BuildContext(ctx context.Context, src ContextSource, q ContextQuery) (*Context, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	grace := q.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	// The events of the services the walk finds are read while it reads
	// the edges among them and the evidence is analysed (on another core
	// when there is one); those of services the evidence adds are read
	// after.
	filter := EventFilter{Kinds: q.Kinds, From: q.From(), To: q.To(), First: MaxContextEvents}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	type eventsRead struct {
		page Page[Event]
		err  error
	}
	var names []string
	early := make(chan eventsRead, 1)
	read := func(services []string) {
		names = services
		go func() {
			f := filter
			f.Services = services
			p, err := src.Events(ectx, f)
			early <- eventsRead{p, err}
		}()
	}
	nb, err := walk(ctx, src, NeighbourhoodQuery{
		Service: q.Service, From: q.From(), To: q.To(), Grace: grace, Depth: q.Depth, Direction: q.Direction,
	}, read)
	if err != nil {
		if names != nil {
			cancel()
			<-early
		}
		return nil, fmt.Errorf("neighbourhood of %s: %w", q.Service, err)
	}
	if names == nil {
		read(serviceNames(nb.Services, nil))
	}
	a, err := followDegradation(ctx, src, q, nb)
	if err != nil {
		cancel()
		<-early
		return nil, fmt.Errorf("neighbourhood of %s: %w", q.Service, err)
	}
	a.addSiblings(q, nb)
	got := <-early
	if got.err != nil {
		return nil, fmt.Errorf("events near %s: %w", q.Service, got.err)
	}
	page := got.page
	if added := serviceNames(nb.Services, names); len(added) > 0 {
		f := filter
		f.Services = added
		more, err := src.Events(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("events near %s: %w", q.Service, err)
		}
		page = mergePages(page, more, MaxContextEvents)
	}
	// The breach asked about and what responders recorded are not
	// suspects.
	events := make([]Event, 0, len(page.Items))
	for _, e := range page.Items {
		if e.Kind != KindConfirmation && (q.Breach == nil || e.ID != q.Breach.ID) {
			events = append(events, e)
		}
	}
	ranked := rank(q, nb, a, events)
	c := &Context{
		Focus: q.Service, At: q.At, From: q.From(), To: q.To(), Depth: q.Depth,
		Services: nb.Services, Edges: nb.Edges, Breach: q.Breach, Origins: a.origins,
		Truncated: page.HasNext || len(ranked) > q.First,
	}
	if len(ranked) > q.First {
		ranked = ranked[:q.First]
	}
	c.Changes = ranked
	return c, nil
}

// serviceNames lists the services' names, leaving out those in skip.
func serviceNames(services []NearbyService, skip []string) []string {
	known := make(map[string]bool, len(skip))
	for _, s := range skip {
		known[s] = true
	}
	out := make([]string, 0, len(services))
	for _, s := range services {
		if !known[s.Service] {
			out = append(out, s.Service)
		}
	}
	return out
}

// mergePages merges two pages of events in listing order (EventLess) of
// disjoint services into one of at most first.
func mergePages(x, y Page[Event], first int) Page[Event] {
	items := append(append(make([]Event, 0, len(x.Items)+len(y.Items)), x.Items...), y.Items...)
	SortEvents(items)
	out := Page[Event]{Items: items, HasNext: x.HasNext || y.HasNext}
	if len(items) > first {
		out.Items, out.HasNext = items[:first], true
	}
	return out
}

// MaxFollow is how many hops past the depth asked for the evidence
// follows a degradation the breach reaches, to where it starts.
const MaxFollow = 2

// followDegradation analyses the neighbourhood's calls and, while an
// origin the breach reaches lies on the outermost ring (whose other calls
// the walk did not read), reads that origin's calls too: its other callers
// tell its own failure from one caller's, and its dependencies may show
// the degradation starts further down. Origins found that way join the
// neighbourhood, so their changes are ranked and a verdict can name them.
func followDegradation(ctx context.Context, src EdgeSource, q ContextQuery, nb *Neighbourhood) (*analysis, error) {
	a := analyse(q, nb)
	for range MaxFollow + 1 {
		// The services a shared input may feed are read too, to tell
		// whether they fail on what they were sent or on their own.
		outer := a.unread
		for _, o := range a.origins {
			if o.Linked && !nb.fetched[o.Service] {
				outer = append(outer, o.Service)
			}
		}
		widened, err := nb.widen(ctx, src, outer)
		if err != nil || !widened {
			return a, err
		}
		a = reanalyse(q, nb, a)
		if !nb.adopt(a.origins, q.Depth+MaxFollow, q.From(), q.To()) {
			return a, nil
		}
		a = reanalyse(q, nb, a)
	}
	return a, nil
}
