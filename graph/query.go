package graph

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Direction says which way along dependency edges a neighbourhood extends.
type Direction string

// Directions. Dependencies are the services the focus calls; dependents are
// the services that call the focus. Both is only the focus itself in a
// result, and both ways in a query.
const (
	Dependencies Direction = "DEPENDENCIES"
	Dependents   Direction = "DEPENDENTS"
	Both         Direction = "BOTH"
	// Siblings are other callers of a degraded dependency whose calls
	// into it surged: only in results, where the evidence adds them.
	Siblings Direction = "SIBLINGS"
)

// ParseDirection accepts the enum names case-insensitively, plus the
// synonyms downstream (dependencies) and upstream (dependents).
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "both":
		return Both, nil
	case "dependencies", "downstream", "calls":
		return Dependencies, nil
	case "dependents", "upstream", "callers":
		return Dependents, nil
	}
	return "", unknownName("direction", s, []string{string(Dependencies), string(Dependents), string(Both)})
}

// Query defaults and limits.
const (
	DefaultBefore = 2 * time.Hour
	DefaultAfter  = 15 * time.Minute
	DefaultDepth  = 2
	MaxDepth      = 6
	DefaultGrace  = time.Hour
	MaxWindow     = 31 * 24 * time.Hour
	DefaultFirst  = 50
	MaxFirst      = 1000
	// MaxContextEvents bounds how many events a breach context ranks.
	MaxContextEvents = 20000
)

// ContextQuery asks what changed near a service around an instant.
type ContextQuery struct {
	Service string
	At      time.Time
	// Before and After bound the window [At-Before, At+After]. Zero means
	// zero, not the default: callers apply DefaultBefore and DefaultAfter.
	Before    time.Duration
	After     time.Duration
	Depth     int
	Direction Direction
	// Kinds limits the changes returned; empty means every kind.
	Kinds []Kind
	First int
	// Grace extends the window back for deciding whether an edge existed,
	// so a low-traffic edge is not lost.
	Grace time.Duration
	// Breach, when set, is the breach the query is about; its own event is
	// left out of the changes and reasons speak of "the breach".
	Breach *Breach
}

// Validate fills defaults for zero values and reports the first bad field.
func (q *ContextQuery) Validate() error {
	q.Service = strings.TrimSpace(q.Service)
	if q.Service == "" {
		return Invalidf("service is required")
	}
	if q.At.IsZero() {
		return Invalidf("at is required")
	}
	if q.At.Before(Earliest) || q.At.After(Latest) {
		return Invalidf("at %s is outside the accepted range", q.At.Format(time.RFC3339))
	}
	q.At = q.At.UTC()
	if q.Before < 0 || q.After < 0 {
		return Invalidf("before and after must not be negative")
	}
	if q.Before+q.After > MaxWindow {
		return Invalidf("window of %s is longer than the maximum %s", q.Before+q.After, MaxWindow)
	}
	if q.Depth == 0 {
		q.Depth = DefaultDepth
	}
	if q.Depth < 1 || q.Depth > MaxDepth {
		return Invalidf("depth %d is out of range: want 1..%d", q.Depth, MaxDepth)
	}
	if q.Direction == "" {
		q.Direction = Both
	}
	if _, err := ParseDirection(string(q.Direction)); err != nil {
		return err
	}
	if q.First == 0 {
		q.First = DefaultFirst
	}
	if q.First < 1 || q.First > MaxFirst {
		return Invalidf("first %d is out of range: want 1..%d", q.First, MaxFirst)
	}
	if q.Grace < 0 {
		return Invalidf("grace must not be negative")
	}
	for _, k := range q.Kinds {
		if !k.Valid() {
			_, err := ParseKind(string(k))
			return err
		}
	}
	return nil
}

// From is the start of the window.
func (q *ContextQuery) From() time.Time { return q.At.Add(-q.Before) }

// To is the end of the window.
func (q *ContextQuery) To() time.Time { return q.At.Add(q.After) }

// EventFilter selects events. Zero fields do not filter. Results come in
// EventLess order (newest first).
type EventFilter struct {
	Services []string
	Kinds    []Kind
	// From and To bound At, both inclusive.
	From, To time.Time
	// OpenOnly keeps only events without an End (open breaches).
	OpenOnly bool
	First    int
	// After is a cursor from a previous page.
	After string
}

// Matches reports whether e passes the filter's kind, service, time and
// open conditions (not the cursor).
func (f *EventFilter) Matches(e *Event) bool {
	if !f.From.IsZero() && e.At.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && e.At.After(f.To) {
		return false
	}
	if f.OpenOnly && e.End != nil {
		return false
	}
	if len(f.Kinds) > 0 && !containsKind(f.Kinds, e.Kind) {
		return false
	}
	if len(f.Services) > 0 && !containsString(f.Services, e.Service) {
		return false
	}
	return true
}

// Validate fills defaults and checks ranges.
func (f *EventFilter) Validate() error {
	if f.First == 0 {
		f.First = 100
	}
	if f.First < 1 || f.First > MaxContextEvents {
		return Invalidf("first %d is out of range: want 1..%d", f.First, MaxContextEvents)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return Invalidf("to is before from")
	}
	if f.After != "" {
		if _, _, err := DecodeCursor(f.After); err != nil {
			return err
		}
	}
	return nil
}

// Page is one page of a listing.
type Page[T any] struct {
	Items   []T
	HasNext bool
}

// EncodeCursor makes the opaque cursor that points just past (at, id) in
// listing order.
func EncodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + ":" + id))
}

// DecodeCursor reverses EncodeCursor.
func DecodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", Invalidf("malformed cursor %q", c)
	}
	ns, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return time.Time{}, "", Invalidf("malformed cursor %q", c)
	}
	return time.Unix(0, n).UTC(), id, nil
}

// AfterCursor reports whether e comes after the cursor position in
// listing order.
func AfterCursor(e *Event, at time.Time, id string) bool {
	return EventLess(Event{At: at, ID: id}, *e)
}

// MaxDuration is the longest duration ParseDuration reads in days or ISO
// 8601: 3100 days, about eight and a half years.
const MaxDuration = MaxWindow * 100

func tooLong(s string) error {
	return Invalidf("duration %q is longer than the limit of %dd (about %.1f years)", s,
		int(MaxDuration/(24*time.Hour)), MaxDuration.Hours()/24/365.25)
}

// ParseDuration reads Go syntax ("90m", "2h30m"), whole days ("30d") or
// ISO 8601 ("PT2H", "P1DT2H"); a day is 24 hours.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, Invalidf("empty duration")
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if v, err := strconv.ParseFloat(n, 64); err == nil && v >= 0 {
			if v > float64(MaxDuration/(24*time.Hour)) {
				return 0, tooLong(s)
			}
			return time.Duration(v * float64(24*time.Hour)), nil
		}
	}
	u := strings.ToUpper(s)
	neg := strings.HasPrefix(u, "-")
	u = strings.TrimPrefix(u, "-")
	if !strings.HasPrefix(u, "P") || len(u) < 3 {
		return 0, Invalidf("bad duration %q: want Go syntax like 90m or ISO 8601 like PT2H", s)
	}
	var total time.Duration
	inTime := false
	num := ""
	for _, r := range u[1:] {
		switch {
		case r >= '0' && r <= '9' || r == '.':
			num += string(r)
		case r == 'T':
			if inTime || num != "" {
				return 0, Invalidf("bad ISO 8601 duration %q", s)
			}
			inTime = true
		default:
			if num == "" {
				return 0, Invalidf("bad ISO 8601 duration %q", s)
			}
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, Invalidf("bad ISO 8601 duration %q", s)
			}
			num = ""
			var unit time.Duration
			switch {
			case r == 'W' && !inTime:
				unit = 7 * 24 * time.Hour
			case r == 'D' && !inTime:
				unit = 24 * time.Hour
			case r == 'H' && inTime:
				unit = time.Hour
			case r == 'M' && inTime:
				unit = time.Minute
			case r == 'S' && inTime:
				unit = time.Second
			default:
				return 0, Invalidf("bad ISO 8601 duration %q (years and months are not fixed lengths)", s)
			}
			if v > float64(MaxDuration)/float64(unit) {
				return 0, tooLong(s)
			}
			total += time.Duration(v * float64(unit))
		}
	}
	if num != "" {
		return 0, Invalidf("bad ISO 8601 duration %q: number without unit", s)
	}
	if neg {
		total = -total
	}
	return total, nil
}

// FormatAgo renders a positive duration the way a responder reads it:
// "45 s", "7 min", "2 h 5 min", "3 d 4 h".
func FormatAgo(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 24*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	default:
		days, h := int(d.Hours())/24, int(d.Hours())%24
		if h == 0 {
			return fmt.Sprintf("%d d", days)
		}
		return fmt.Sprintf("%d d %d h", days, h)
	}
}

func containsKind(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
