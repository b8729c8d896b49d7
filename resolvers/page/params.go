package page

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// params are the knobs of a context page: which service, around which
// instant, how wide a window, how deep and which way. The breach page takes
// the service and the instant from the breach and the rest from its query
// string.
type params struct {
	Service   string
	At        time.Time
	Before    time.Duration
	After     time.Duration
	Depth     int
	Direction graph.Direction
}

// Bounds of the window links: narrowing stops at MinBefore, widening at
// graph.MaxWindow.
const MinBefore = 5 * time.Minute

// problem is one bad query parameter: its name, what was wrong, and what is
// accepted.
type problem struct {
	Param    string
	Message  string
	Accepted string
}

// What each parameter accepts, shown on the 400 page.
var accepted = map[string]string{
	"service":   "a service name, as it appears in events and traces (e.g. checkout)",
	"at":        "an instant: RFC 3339 (2026-11-21T11:50:00Z), or Unix time in seconds or milliseconds (1795261800000)",
	"before":    "a duration: Go syntax (90m, 2h30m), days (1d) or ISO 8601 (PT2H); default 2h",
	"after":     "a duration: Go syntax (15m), days (1d) or ISO 8601 (PT15M); default 15m",
	"depth":     fmt.Sprintf("a whole number of hops from 1 to %d; default %d", graph.MaxDepth, graph.DefaultDepth),
	"direction": "DEPENDENCIES (services it calls), DEPENDENTS (services that call it) or BOTH (the default)",
}

// parseWindow reads before, after, depth and direction from v over the
// defaults, collecting every problem rather than stopping at the first.
func parseWindow(v url.Values) (params, []problem) {
	p := params{Before: graph.DefaultBefore, After: graph.DefaultAfter, Depth: graph.DefaultDepth, Direction: graph.Both}
	var probs []problem
	bad := func(name, format string, args ...any) {
		probs = append(probs, problem{Param: name, Message: fmt.Sprintf(format, args...), Accepted: accepted[name]})
	}
	for _, side := range []struct {
		name string
		dst  *time.Duration
	}{{"before", &p.Before}, {"after", &p.After}} {
		s, ok := first(v, side.name)
		if !ok {
			continue
		}
		d, err := graph.ParseDuration(s)
		switch {
		case err != nil:
			bad(side.name, "%s", messageOf(err))
		case d < 0:
			bad(side.name, "%s is negative", s)
		default:
			*side.dst = d
		}
	}
	if p.Before+p.After > graph.MaxWindow {
		bad("before", "the window of %s before and %s after is longer than the maximum of %s", formatDuration(p.Before), formatDuration(p.After), formatDuration(graph.MaxWindow))
	}
	if s, ok := first(v, "depth"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		switch {
		case err != nil:
			bad("depth", "%q is not a whole number", s)
		case n < 1 || n > graph.MaxDepth:
			bad("depth", "%d is out of range", n)
		default:
			p.Depth = n
		}
	}
	if s, ok := first(v, "direction"); ok {
		d, err := graph.ParseDirection(s)
		if err != nil {
			bad("direction", "%s", messageOf(err))
		} else {
			p.Direction = d
		}
	}
	return p, probs
}

// parseContext reads the /context query string: service (required), at
// (defaults to now) and the window.
func parseContext(v url.Values, now time.Time) (params, []problem) {
	p, probs := parseWindow(v)
	service, _ := first(v, "service")
	p.Service = strings.TrimSpace(service)
	switch {
	case p.Service == "":
		probs = append([]problem{{Param: "service", Message: "service is required", Accepted: accepted["service"]}}, probs...)
	case len(p.Service) > graph.MaxNameLen:
		probs = append([]problem{{Param: "service", Message: fmt.Sprintf("longer than %d characters", graph.MaxNameLen), Accepted: accepted["service"]}}, probs...)
	case strings.ContainsAny(p.Service, "\x00\n\r\t/"):
		probs = append([]problem{{Param: "service", Message: "contains a control character or '/'", Accepted: accepted["service"]}}, probs...)
	}
	p.At = now.UTC().Truncate(time.Second)
	if s, ok := first(v, "at"); ok {
		at, err := parseInstant(s)
		if err != nil {
			probs = append(probs, problem{Param: "at", Message: err.Error(), Accepted: accepted["at"]})
		} else {
			p.At = at
		}
	}
	return p, probs
}

// parseInstant reads RFC 3339 or Unix seconds or milliseconds (the form
// Grafana's time macros produce).
func parseInstant(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty")
	}
	var t time.Time
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		// Anything past 10^11 is read as milliseconds: seconds that large
		// would be beyond the year 5000.
		if n > 1e11 || n < -1e11 {
			t = time.UnixMilli(n)
		} else {
			t = time.Unix(n, 0)
		}
	} else {
		parsed, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// A '+' in an offset arrives as a space when the link was not
			// URL-encoded.
			if parsed2, err2 := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "+", 1)); err2 == nil {
				parsed, err = parsed2, nil
			}
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time or a Unix time", s)
		}
		t = parsed
	}
	t = t.UTC()
	if t.Before(graph.Earliest) || t.After(graph.Latest) {
		return time.Time{}, fmt.Errorf("%s is outside the accepted range %d..%d", t.Format(time.RFC3339), graph.Earliest.Year(), graph.Latest.Year())
	}
	return t, nil
}

func first(v url.Values, name string) (string, bool) {
	vs, ok := v[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// messageOf returns the user-facing text of a graph error, and a generic
// one for anything else.
func messageOf(err error) string {
	if m := graph.Message(err); m != "" {
		return m
	}
	return "not accepted"
}

// query is the graph query the params ask for.
func (p params) query(b *graph.Breach, first int) graph.ContextQuery {
	return graph.ContextQuery{
		Service: p.Service, At: p.At, Before: p.Before, After: p.After,
		Depth: p.Depth, Direction: p.Direction, First: first, Breach: b,
	}
}

// values renders the params as a query string. The service and instant
// go in only for the context page (a breach page has its own); the rest
// only when they differ from the defaults, to keep links short.
func (p params) values(withFocus bool) url.Values {
	v := url.Values{}
	if withFocus {
		v.Set("service", p.Service)
		v.Set("at", p.At.UTC().Format(time.RFC3339))
	}
	if p.Before != graph.DefaultBefore {
		v.Set("before", formatDuration(p.Before))
	}
	if p.After != graph.DefaultAfter {
		v.Set("after", formatDuration(p.After))
	}
	if p.Depth != graph.DefaultDepth {
		v.Set("depth", strconv.Itoa(p.Depth))
	}
	if p.Direction != graph.Both {
		v.Set("direction", string(p.Direction))
	}
	return v
}

// formatDuration renders a duration the short way people type it: 2h,
// 90m -> 1h30m, 1d for whole days.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0m"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
