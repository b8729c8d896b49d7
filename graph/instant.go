package graph

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Instant is a moment as a user names it on the command line: an RFC 3339
// time, a duration meaning that long ago ("15m", "2h", "PT1H"), "now", or
// "breach", the start of the focus service's latest breach, which only a
// store can tell (see LatestBreach).
type Instant struct {
	// Time is the instant; for Breach it is the present, which the
	// breach's start replaces once it has been looked up.
	Time time.Time
	// Breach is true for "breach".
	Breach bool
}

// ParseInstant reads s relative to now. Times are kept to the second, in
// UTC.
func ParseInstant(s string, now time.Time) (Instant, error) {
	now = now.UTC().Truncate(time.Second)
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", "now":
		return Instant{Time: now}, nil
	case "breach":
		return Instant{Time: now, Breach: true}, nil
	}
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(s)); err == nil {
		return Instant{Time: t.UTC()}, nil
	}
	if d, err := ParseDuration(s); err == nil {
		if d < 0 {
			return Instant{}, Invalidf("%q is in the future: give how long ago, such as 15m", s)
		}
		return Instant{Time: now.Add(-d)}, nil
	}
	return Instant{}, Invalidf("%q: want \"breach\" (when the service's latest breach started), an RFC 3339 time (2026-11-21T11:50:00Z), how long ago (15m, 2h) or \"now\"", s)
}

// LatestBreach returns the latest breach of service that started at or
// before t, open or resolved, and an error of kind ErrNotFound when it
// has none.
func LatestBreach(ctx context.Context, src EventSource, service string, t time.Time) (Breach, error) {
	p, err := src.Events(ctx, EventFilter{Services: []string{service}, Kinds: []Kind{KindSLOBreach}, To: t, First: 1})
	if err != nil {
		return Breach{}, fmt.Errorf("latest breach of %s: %w", service, err)
	}
	if len(p.Items) == 0 {
		return Breach{}, NotFoundf("%s has no breach before %s: give --at a time instead", service, t.Format(time.RFC3339))
	}
	return BreachOf(p.Items[0]), nil
}
