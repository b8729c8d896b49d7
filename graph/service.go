package graph

import (
	"encoding/base64"
	"strings"
	"time"
)

// Service is a node of the graph.
type Service struct {
	Name        string    `json:"name"`
	Environment string    `json:"environment,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
}

// Seen returns the span a written Service says it was seen in: its
// FirstSeen and LastSeen, each taken as now when zero.
func (s Service) Seen(now time.Time) (first, last time.Time) {
	first, last = s.FirstSeen, s.LastSeen
	if first.IsZero() {
		first = now
	}
	if last.IsZero() {
		last = now
	}
	return first, last
}

// Dependency is a declared edge: From depends on (calls) To, whatever the
// traces say. Declared edges are always part of the graph.
type Dependency struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Source string `json:"source"`
}

// Validate reports a missing or malformed end.
func (d Dependency) Validate() error {
	switch {
	case strings.TrimSpace(d.From) == "":
		return Invalidf("dependency needs a service (the caller)")
	case strings.TrimSpace(d.To) == "":
		return Invalidf("dependency needs attributes.target (the service called)")
	case d.From == d.To:
		return Invalidf("dependency of %q on itself", d.From)
	case len(d.From) > MaxNameLen || len(d.To) > MaxNameLen:
		return Invalidf("dependency service name longer than %d characters", MaxNameLen)
	}
	return nil
}

// BucketWidth is the width of the time buckets that trace-derived call
// counts are aggregated into.
const BucketWidth = time.Minute

// CallBucket is what one producer observed on one edge in one time bucket.
// Producer names the aggregator that made the observation (for example a
// Kafka partition, or an HTTP request's content hash), so writing the same
// observation again replaces it instead of adding to it; the counts of an
// edge in a bucket are the sum over producers.
type CallBucket struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Start    time.Time `json:"start"`
	Producer string    `json:"producer"`
	Calls    int64     `json:"calls"`
	Errors   int64     `json:"errors"`
	// LatencySum is the sum of call durations, for a mean.
	LatencySum time.Duration `json:"latencySum"`
	// Latency counts calls by duration: Latency[i] holds the calls that
	// took at most LatencyBounds[i] (and more than the bound before), the
	// last slot those slower than every bound. All zero means the producer
	// recorded no histogram.
	Latency [LatencyBuckets]int64 `json:"latency,omitzero"`
	// ConnectionType says what kind of connection the calls went over
	// (ConnectionNone for a plain request/response call).
	ConnectionType ConnectionType `json:"connectionType,omitempty"`
}

// LatencyBounds are the upper bounds of the latency histogram slots of a
// CallBucket, fastest first.
var LatencyBounds = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
}

// LatencyBuckets is the number of latency histogram slots: one per bound
// and one for calls slower than every bound.
const LatencyBuckets = len(LatencyBounds) + 1

// LatencySlot returns the histogram slot a call of duration d counts in:
// the first bound d does not exceed, or the overflow slot.
func LatencySlot(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return LatencyBuckets - 1
}

// Validate reports a malformed bucket.
func (c CallBucket) Validate() error {
	switch {
	case c.From == "" || c.To == "":
		return Invalidf("call bucket needs both services")
	case c.Start.IsZero() || c.Start.Before(Earliest) || c.Start.After(Latest):
		return Invalidf("call bucket start %s out of range", c.Start)
	case c.Calls < 0 || c.Errors < 0 || c.Errors > c.Calls:
		return Invalidf("call bucket %s->%s has %d errors in %d calls", c.From, c.To, c.Errors, c.Calls)
	case c.Producer == "":
		return Invalidf("call bucket needs a producer")
	case !c.ConnectionType.Valid():
		return Invalidf("call bucket %s->%s has unknown connection type %q", c.From, c.To, c.ConnectionType)
	}
	var n int64
	for i, v := range c.Latency {
		if v < 0 {
			return Invalidf("call bucket %s->%s has %d calls in latency slot %d", c.From, c.To, v, i)
		}
		n += v
		if n > c.Calls || n < 0 {
			return Invalidf("call bucket %s->%s has more calls in its latency histogram than its %d calls", c.From, c.To, c.Calls)
		}
	}
	return nil
}

// Batch is one idempotent write: what ingest hands a store.
type Batch struct {
	Events       []Event
	Dependencies []Dependency
	Calls        []CallBucket
	Services     []Service
	// Replace marks a batch that is the whole truth about its events (a
	// scenario loaded again with a new anchor, such as the demo after a
	// restart): each event replaces the stored one with its ID (Replace)
	// instead of merging with it as a source's report does (Merge).
	// Repeats within the batch still merge.
	Replace bool `json:",omitempty"`
}

// Validate checks what every store relies on: events normalised (with an
// ID, a known kind, a time in range), names every store can key by, and
// well-formed dependencies and call buckets. It reports the first problem.
func (b *Batch) Validate() error {
	for i := range b.Events {
		e := &b.Events[i]
		switch {
		case e.ID == "":
			return Invalidf("event %d has no id (normalise it first)", i)
		case !e.Kind.Valid():
			return Invalidf("event %s has unknown kind %q", e.ID, e.Kind)
		case e.At.Before(Earliest) || e.At.After(Latest):
			return Invalidf("event %s: at %s out of range", e.ID, e.At)
		case e.End != nil && e.End.Before(e.At):
			return Invalidf("event %s ends before it starts", e.ID)
		}
		if err := validName("service of event "+e.ID, e.Service); err != nil {
			return err
		}
	}
	for _, d := range b.Dependencies {
		if err := d.Validate(); err != nil {
			return err
		}
		if err := validName("dependency service", d.From); err != nil {
			return err
		}
		if err := validName("dependency service", d.To); err != nil {
			return err
		}
	}
	for _, c := range b.Calls {
		if err := c.Validate(); err != nil {
			return err
		}
		if err := validName("call bucket service", c.From); err != nil {
			return err
		}
		if err := validName("call bucket service", c.To); err != nil {
			return err
		}
		if strings.IndexByte(c.Producer, 0) >= 0 {
			return Invalidf("call bucket producer %q contains NUL", c.Producer)
		}
	}
	for _, sv := range b.Services {
		if err := validName("service", sv.Name); err != nil {
			return err
		}
	}
	return nil
}

// validName rejects service names that no store can key by.
func validName(what, name string) error {
	switch {
	case name == "":
		return Invalidf("%s is required", what)
	case strings.ContainsAny(name, "\x00\n/"):
		return Invalidf("%s %q contains NUL, a newline or '/'", what, name)
	}
	return nil
}

// Len counts the items in b.
func (b Batch) Len() int {
	return len(b.Events) + len(b.Dependencies) + len(b.Calls) + len(b.Services)
}

// Written says what a write did.
type Written struct {
	// Inserted events were new; Updated events replaced an older version
	// of themselves (a resolve, a newer revision); Duplicates were already
	// stored as they are.
	Inserted, Updated, Duplicates int
	// New holds the events that were inserted or updated, as stored, for
	// live subscribers.
	New []Event
}

// Add adds what another write did to w.
func (w *Written) Add(o Written) {
	w.Inserted += o.Inserted
	w.Updated += o.Updated
	w.Duplicates += o.Duplicates
	w.New = append(w.New, o.New...)
}

// ServiceFilter selects services by a case-insensitive substring of the
// name. Results come in name order.
type ServiceFilter struct {
	Query string
	First int
	// After is a cursor (EncodeNameCursor) from a previous page.
	After string
}

// Validate fills defaults and checks ranges.
func (f *ServiceFilter) Validate() error {
	if f.First == 0 {
		f.First = DefaultFirst
	}
	if f.First < 1 || f.First > MaxFirst {
		return Invalidf("first %d is out of range: want 1..%d", f.First, MaxFirst)
	}
	if f.After != "" {
		if _, err := DecodeNameCursor(f.After); err != nil {
			return err
		}
	}
	return nil
}

// Matches reports whether s passes the query (not the cursor).
func (f *ServiceFilter) Matches(name string) bool {
	return f.Query == "" || strings.Contains(strings.ToLower(name), strings.ToLower(f.Query))
}

// EncodeNameCursor makes the cursor that points just past name.
func EncodeNameCursor(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

// DecodeNameCursor reverses EncodeNameCursor.
func DecodeNameCursor(c string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", Invalidf("malformed cursor %q", c)
	}
	return string(raw), nil
}
