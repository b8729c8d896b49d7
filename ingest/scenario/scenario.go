// Package scenario loads scenario files: a few days of services, call
// traffic and events written as offsets from one breach, expanded into the
// batches a store takes. The demo and the backtest suite are scenarios.
package scenario

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
)

// File is the name Load looks for when it is given a
// directory.
const File = "scenario.json"

// Producer is the producer name of every call bucket a scenario
// expands into, so that loading a scenario again replaces its buckets
// instead of adding to them.
const Producer = "demo"

// Limits on a scenario file: offsets, and how many call buckets its
// traffic may expand into.
const (
	maxScenarioOffset  = graph.MaxWindow
	maxScenarioBuckets = 500_000
)

// Scenario is a compact description of a few days in the life of a set of
// services, with every time written as an offset from one reference
// instant (the breach the scenario is built around). Expand turns
// it into a graph.Batch anchored at a real instant.
type Scenario struct {
	// Name and Description say what the scenario shows.
	Name        string `json:"name"`
	Description string `json:"description"`
	// Seed makes the traffic jitter reproducible.
	Seed uint64 `json:"seed"`
	// Environment is the default environment of services and events.
	Environment string `json:"environment"`
	// Traffic lists the time windows, as offsets, for which call edges are
	// expanded into per-minute call buckets.
	Traffic  []Window           `json:"traffic"`
	Services []Service          `json:"services"`
	Edges    []Edge             `json:"edges"`
	Episodes []Episode          `json:"episodes"`
	Declared []graph.Dependency `json:"dependencies"`
	Events   []Event            `json:"events"`
	// Native holds events as their sources send them.
	Native []Native `json:"native"`
	// Expect, when set, is the breach a responder opened and what caused
	// it: what a backtest scores the ranking against.
	Expect *Expect `json:"expect"`
}

// Native is one payload as a source sends it (a webhook body). In any
// string of Body, $at(OFFSET) stands for the instant of that offset in
// RFC 3339.
type Native struct {
	// Format names the decoder: one of ingest.Formats.
	Format  string            `json:"format"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// Expect is a scenario's answer: the breach and its cause.
type Expect struct {
	// Breach is the id (external id) of the slo_breach event the responder
	// opened.
	Breach string `json:"breach"`
	// Culprit is the id of the event that caused the breach.
	Culprit string `json:"culprit"`
	// Degradation, instead of Culprit, names the service that degraded on
	// its own when no change caused the breach.
	Degradation string `json:"degradation"`
	// Pattern names the public postmortem the scenario is modelled on.
	Pattern string `json:"pattern"`
	// Asked is when the responder asks, as an offset (default +20m).
	Asked string `json:"asked"`
	// Before, After and Depth are how the responder asks (defaults 2h,
	// 15m, 2).
	Before string `json:"before"`
	After  string `json:"after"`
	Depth  int    `json:"depth"`
}

// Window is a time range given as two offsets, such as "-6h" and
// "30m".
type Window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Service is one service of a scenario.
type Service struct {
	Name        string `json:"name"`
	Owner       string `json:"owner"`
	Environment string `json:"environment"`
	// Description is for readers of the file; it is not stored.
	Description string `json:"description"`
}

// Edge is a call edge with its usual traffic.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// CallsPerMinute is the mean call rate.
	CallsPerMinute float64 `json:"callsPerMinute"`
	// ErrorRatio is the usual fraction of calls that fail (0.002 = 0.2%).
	ErrorRatio float64 `json:"errorRatio"`
	// LatencyMs is the usual mean call duration in milliseconds.
	LatencyMs float64 `json:"latencyMs"`
}

// Episode changes an edge's traffic between two offsets. Zero
// fields leave the edge's usual value alone.
type Episode struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Start string `json:"start"`
	End   string `json:"end"`
	// ErrorRatio replaces the edge's usual error ratio.
	ErrorRatio float64 `json:"errorRatio"`
	// LatencyFactor multiplies the usual latency.
	LatencyFactor float64 `json:"latencyFactor"`
	// CallsFactor multiplies the usual call rate (retries, a traffic drop).
	CallsFactor float64 `json:"callsFactor"`
	// Ramp, an offset length such as "2h", builds the change up linearly
	// from the usual values over that long after Start (a leak, a slow
	// climb). Empty means a step.
	Ramp string `json:"ramp"`
	// Note is for readers of the file.
	Note string `json:"note"`
}

// Event is a canonical event (see the contract) whose at and end
// are offsets instead of RFC 3339 instants.
type Event struct {
	ID          string         `json:"id"`
	Kind        string         `json:"kind"`
	Service     string         `json:"service"`
	Environment string         `json:"environment"`
	At          string         `json:"at"`
	End         string         `json:"end"`
	Source      string         `json:"source"`
	Summary     string         `json:"summary"`
	URL         string         `json:"url"`
	Attributes  map[string]any `json:"attributes"`
}

// Load reads a scenario file (or the File in a directory)
// and expands it with Expand, into a Replace batch. breachAt is the instant offset zero
// stands for; nothing later than now is produced.
func Load(path string, breachAt, now time.Time) (graph.Batch, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, File)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return graph.Batch{}, fmt.Errorf("read scenario: %w", err)
	}
	b, err := Decode(data, breachAt, now)
	if err != nil {
		return graph.Batch{}, fmt.Errorf("%s: %w", path, err)
	}
	// A scenario is the whole truth about its events: loaded again with
	// a new anchor (the demo after a restart), it moves them.
	b.Replace = true
	return b, nil
}

// Decode parses a scenario document and expands it: see
// Parse and Expand.
func Decode(data []byte, breachAt, now time.Time) (graph.Batch, error) {
	s, err := Parse(data)
	if err != nil {
		return graph.Batch{}, err
	}
	return Expand(s, breachAt, now)
}

// Parse decodes a scenario document strictly (unknown fields are
// errors) and validates it. Errors are of kind graph.ErrInvalid and name
// the JSON path of the problem, such as `edges[3].to`.
func Parse(data []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, graph.Invalidf("scenario: %s", scenarioJSONError(err, data))
	}
	if dec.More() {
		return nil, graph.Invalidf("scenario: more than one JSON value")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// scenarioJSONError names the field and the line of a decoding error.
func scenarioJSONError(err error, data []byte) string {
	lineAt := func(offset int) int {
		return 1 + bytes.Count(data[:min(max(offset, 0), len(data))], []byte("\n"))
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field == "" {
		return fmt.Sprintf("want a JSON object, not JSON %s", typ.Value)
	}
	if errors.As(err, &typ) {
		want := ingest.JSONTypeName(typ.Type.String())
		switch typ.Type.Kind() {
		case reflect.Float64, reflect.Int, reflect.Int64, reflect.Uint64:
			want = "a number"
		case reflect.Slice:
			want = "a JSON array"
		case reflect.Struct:
			want = "a JSON object"
		}
		return fmt.Sprintf("%s (line %d): want %s, not JSON %s", typ.Field, lineAt(int(typ.Offset)), want, typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		// encoding/json does not say where; the first use of the name as a
		// key is almost always it.
		if key, uerr := strconv.Unquote(name); uerr == nil {
			if at := bytes.Index(data, []byte(strconv.Quote(key)+":")); at >= 0 {
				return fmt.Sprintf("unknown field %s (line %d)", name, lineAt(at))
			}
		}
		return "unknown field " + name
	}
	return ingest.JSONError(err, data)
}

// Validate reports the first problem with s, naming its JSON path.
func (s *Scenario) Validate() error {
	v := validator{s: s}
	for _, check := range []func() error{v.checkServices, v.checkTraffic, v.checkEdges, v.checkEpisodes,
		v.checkDeclared, v.checkEvents, v.checkNative, v.checkExpect} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validator checks a scenario part by part; each part may use what the
// parts before it gathered.
type validator struct {
	s        *Scenario
	services map[string]int
	edges    map[[2]string]int
	windows  [][2]time.Duration
}

func (v *validator) bad(path, format string, args ...any) error {
	return graph.Invalidf("%s: %s", path, fmt.Sprintf(format, args...))
}

func (v *validator) known(path, name string) error {
	if _, ok := v.services[name]; !ok {
		return v.bad(path, "unknown service %q: declare it under services first", name)
	}
	return nil
}

func (v *validator) checkServices() error {
	s := v.s
	if len(s.Services) == 0 {
		return v.bad("services", "a scenario needs at least one service")
	}
	v.services = make(map[string]int, len(s.Services))
	for i, sv := range s.Services {
		p := fmt.Sprintf("services[%d]", i)
		if err := checkName(sv.Name); err != nil {
			return v.bad(p+".name", "%s", err)
		}
		if j, dup := v.services[sv.Name]; dup {
			return v.bad(p+".name", "service %q is already declared at services[%d]", sv.Name, j)
		}
		v.services[sv.Name] = i
	}
	return nil
}

func (v *validator) checkTraffic() error {
	s := v.s
	for i, w := range s.Traffic {
		p := fmt.Sprintf("traffic[%d]", i)
		start, end, err := windowOffsets(p, w.Start, w.End, true)
		if err != nil {
			return err
		}
		if start%graph.BucketWidth != 0 || end%graph.BucketWidth != 0 {
			return v.bad(p, "traffic windows must start and end on whole minutes")
		}
		for j, o := range v.windows {
			if start < o[1] && o[0] < end {
				return v.bad(p, "overlaps traffic[%d]", j)
			}
		}
		v.windows = append(v.windows, [2]time.Duration{start, end})
	}
	return nil
}

func (v *validator) checkEdges() error {
	s := v.s
	v.edges = make(map[[2]string]int, len(s.Edges))
	for i, e := range s.Edges {
		p := fmt.Sprintf("edges[%d]", i)
		if err := v.known(p+".from", e.From); err != nil {
			return err
		}
		if err := v.known(p+".to", e.To); err != nil {
			return err
		}
		if e.From == e.To {
			return v.bad(p, "an edge from %q to itself", e.From)
		}
		if j, dup := v.edges[[2]string{e.From, e.To}]; dup {
			return v.bad(p, "edge %s → %s is already declared at edges[%d]", e.From, e.To, j)
		}
		v.edges[[2]string{e.From, e.To}] = i
		if !(e.CallsPerMinute > 0) || e.CallsPerMinute > 1e7 {
			return v.bad(p+".callsPerMinute", "want a positive rate up to 10000000, not %v", e.CallsPerMinute)
		}
		if err := checkRatio(e.ErrorRatio); err != nil {
			return v.bad(p+".errorRatio", "%s", err)
		}
		if e.LatencyMs < 0 || e.LatencyMs > 3.6e6 {
			return v.bad(p+".latencyMs", "want 0..3600000 milliseconds, not %v", e.LatencyMs)
		}
	}
	return nil
}

func (v *validator) checkEpisodes() error {
	s := v.s
	var minutes int64
	for _, w := range v.windows {
		minutes += int64((w[1] - w[0]) / graph.BucketWidth)
	}
	if n := minutes * int64(len(s.Edges)); n > maxScenarioBuckets {
		return v.bad("traffic", "%d edges over %d minutes would make %d call buckets, more than %d", len(s.Edges), minutes, n, maxScenarioBuckets)
	}
	for i, ep := range s.Episodes {
		p := fmt.Sprintf("episodes[%d]", i)
		if _, ok := v.edges[[2]string{ep.From, ep.To}]; !ok {
			return v.bad(p, "no edge %s → %s under edges", ep.From, ep.To)
		}
		if _, _, err := windowOffsets(p, ep.Start, ep.End, false); err != nil {
			return err
		}
		if err := checkRatio(ep.ErrorRatio); err != nil {
			return v.bad(p+".errorRatio", "%s", err)
		}
		if ep.LatencyFactor < 0 || ep.LatencyFactor > 1000 {
			return v.bad(p+".latencyFactor", "want 0..1000, not %v", ep.LatencyFactor)
		}
		if ep.CallsFactor < 0 || ep.CallsFactor > 1000 {
			return v.bad(p+".callsFactor", "want 0..1000, not %v", ep.CallsFactor)
		}
		if ep.Ramp != "" {
			if r, err := ParseOffset(ep.Ramp); err != nil || r <= 0 {
				return v.bad(p+".ramp", "want a positive length such as 90m or 2h, not %q", ep.Ramp)
			}
		}
	}
	return nil
}

func (v *validator) checkDeclared() error {
	s := v.s
	for i, d := range s.Declared {
		p := fmt.Sprintf("dependencies[%d]", i)
		if err := v.known(p+".from", d.From); err != nil {
			return err
		}
		if err := v.known(p+".to", d.To); err != nil {
			return err
		}
		if err := d.Validate(); err != nil {
			return v.bad(p, "%s", graph.Message(err))
		}
	}
	return nil
}

func (v *validator) checkEvents() error {
	s := v.s
	ids := map[[2]string]int{}
	for i, e := range s.Events {
		p := fmt.Sprintf("events[%d]", i)
		if strings.EqualFold(strings.TrimSpace(e.Kind), "dependency") {
			return v.bad(p+".kind", "declare dependencies under dependencies, not as events")
		}
		if _, err := graph.ParseKind(e.Kind); err != nil {
			return v.bad(p+".kind", "%s", graph.Message(err))
		}
		if err := v.known(p+".service", e.Service); err != nil {
			return err
		}
		at, err := ParseOffset(e.At)
		if err != nil {
			return v.bad(p+".at", "%s", graph.Message(err))
		}
		if e.End != "" {
			end, err := ParseOffset(e.End)
			if err != nil {
				return v.bad(p+".end", "%s", graph.Message(err))
			}
			if end < at {
				return v.bad(p+".end", "%s is before at %s", e.End, e.At)
			}
		}
		if strings.TrimSpace(e.Source) == "" {
			return v.bad(p+".source", "source is required")
		}
		key := [2]string{strings.TrimSpace(e.Source), scenarioEventID(e, at)}
		if j, dup := ids[key]; dup {
			return v.bad(p+".id", "events[%d] has the same source and id, so one would overwrite the other", j)
		}
		ids[key] = i
	}
	return nil
}

func (v *validator) checkNative() error {
	s := v.s
	for i, n := range s.Native {
		p := fmt.Sprintf("native[%d]", i)
		if _, ok := ingest.FormatDecoder(n.Format); !ok {
			return v.bad(p+".format", "unknown format %q: want one of %s", n.Format, strings.Join(ingest.Formats, ", "))
		}
		if len(bytes.TrimSpace(n.Body)) == 0 {
			return v.bad(p+".body", "body is required: the payload as the source sends it")
		}
	}
	return nil
}

func (v *validator) checkExpect() error {
	s := v.s
	if s.Expect != nil {
		if err := s.Expect.validate(v.services); err != nil {
			return err
		}
	}
	return nil
}

func (x *Expect) validate(services map[string]int) error {
	bad := func(path, format string, args ...any) error {
		return graph.Invalidf("expect.%s: %s", path, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(x.Breach) == "" {
		return bad("breach", "the id of the slo_breach event the responder opened is required")
	}
	switch {
	case x.Culprit == "" && x.Degradation == "":
		return bad("culprit", "give the culprit's event id, or degradation: the service that degraded on its own")
	case x.Culprit != "" && x.Degradation != "":
		return bad("degradation", "give either culprit or degradation, not both")
	}
	if x.Degradation != "" {
		if _, ok := services[x.Degradation]; !ok {
			return bad("degradation", "unknown service %q: declare it under services first", x.Degradation)
		}
	}
	for _, f := range []struct{ name, v string }{{"asked", x.Asked}, {"before", x.Before}, {"after", x.After}} {
		if f.v == "" {
			continue
		}
		d, err := ParseOffset(f.v)
		if err != nil {
			return bad(f.name, "%s", graph.Message(err))
		}
		if f.name != "asked" && d < 0 {
			return bad(f.name, "want a length such as 2h, not %q", f.v)
		}
	}
	if x.Depth < 0 || x.Depth > graph.MaxDepth {
		return bad("depth", "want 1..%d, not %d", graph.MaxDepth, x.Depth)
	}
	return nil
}

func checkName(name string) error {
	switch {
	case strings.TrimSpace(name) != name || name == "":
		return errors.New("a service name must be non-empty, without surrounding spaces")
	case len(name) > graph.MaxNameLen:
		return fmt.Errorf("service name longer than %d characters", graph.MaxNameLen)
	case strings.ContainsAny(name, "\x00\n\r\t/"):
		return fmt.Errorf("service name %q contains a control character or '/'", name)
	}
	return nil
}

func checkRatio(r float64) error {
	if !(r >= 0 && r <= 1) {
		return fmt.Errorf("want a ratio between 0 and 1 (0.002 is 0.2%%), not %v", r)
	}
	return nil
}

func windowOffsets(path, start, end string, required bool) (time.Duration, time.Duration, error) {
	s, err := ParseOffset(start)
	if err != nil {
		return 0, 0, graph.Invalidf("%s.start: %s", path, graph.Message(err))
	}
	if end == "" && !required {
		return s, maxScenarioOffset, nil
	}
	e, err := ParseOffset(end)
	if err != nil {
		return 0, 0, graph.Invalidf("%s.end: %s", path, graph.Message(err))
	}
	if e <= s {
		return 0, 0, graph.Invalidf("%s: end %s is not after start %s", path, end, start)
	}
	return s, e, nil
}

// ParseOffset reads a signed offset from the reference instant: "0",
// "-7m", "+15m", "-2d3h", "-1d2h9m30s". A day is 24 hours. Units must come
// in decreasing order and each at most once.
func ParseOffset(s string) (time.Duration, error) {
	raw := s
	s = strings.TrimSpace(s)
	bad := func() (time.Duration, error) {
		return 0, graph.Invalidf("bad offset %q: want a signed duration such as -7m, -2d3h or 15m", raw)
	}
	if s == "" {
		return bad()
	}
	sign := time.Duration(1)
	switch s[0] {
	case '-':
		sign, s = -1, s[1:]
	case '+':
		s = s[1:]
	}
	switch s {
	case "0":
		return 0, nil
	case "":
		return bad()
	}
	units := []struct {
		suffix byte
		d      time.Duration
	}{{'d', 24 * time.Hour}, {'h', time.Hour}, {'m', time.Minute}, {'s', time.Second}}
	var total time.Duration
	next := 0
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 6 {
			return bad()
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return bad()
		}
		u := next
		for u < len(units) && units[u].suffix != s[i] {
			u++
		}
		if u == len(units) {
			return bad()
		}
		total += time.Duration(n) * units[u].d
		if total > maxScenarioOffset {
			return 0, graph.Invalidf("offset %q is beyond %s", raw, graph.FormatAgo(maxScenarioOffset))
		}
		next = u + 1
		s = s[i+1:]
	}
	return sign * total, nil
}

// scenarioEventID is the event's external id: its own, or one derived
// from what it is and its offset. It never includes an absolute instant,
// so loading the scenario again later updates the same events.
func scenarioEventID(e Event, at time.Duration) string {
	if id := strings.TrimSpace(e.ID); id != "" {
		return id
	}
	kind, _ := graph.ParseKind(e.Kind)
	return fmt.Sprintf("demo:%s:%s:%s", kind, strings.TrimSpace(e.Service), at)
}

// Expand anchors s at breachAt: offsets become instants, call
// edges become per-minute call buckets over the traffic windows, and
// events are normalised with stable external ids. Nothing that would
// happen after now is produced: later events are left out, an end after
// now is left open, and only buckets that have ended by now are kept. The
// result is the same for the same arguments.
func Expand(s *Scenario, breachAt, now time.Time) (graph.Batch, error) {
	if breachAt.Before(graph.Earliest.Add(maxScenarioOffset)) || breachAt.After(graph.Latest.Add(-maxScenarioOffset)) {
		return graph.Batch{}, graph.Invalidf("scenario anchor %s is out of range", breachAt.Format(time.RFC3339))
	}
	if err := s.Validate(); err != nil {
		return graph.Batch{}, err
	}
	breachAt = breachAt.UTC()
	now = now.UTC()
	var b graph.Batch
	env := func(own string) string {
		if own != "" {
			return own
		}
		return s.Environment
	}
	seen := map[string][2]time.Time{}
	sight := func(name string, t time.Time) {
		v, ok := seen[name]
		if !ok || t.Before(v[0]) {
			v[0] = t
		}
		if t.After(v[1]) {
			v[1] = t
		}
		seen[name] = v
	}
	for i, se := range s.Events {
		at, _ := ParseOffset(se.At)
		e := graph.Event{
			Service: se.Service, Environment: se.Environment, At: breachAt.Add(at),
			Source: se.Source, ExternalID: scenarioEventID(se, at), Summary: se.Summary, URL: se.URL,
		}
		if e.Environment == "" {
			e.Environment = env(s.Services[indexOfService(s, se.Service)].Environment)
		}
		e.Kind, _ = graph.ParseKind(se.Kind)
		if e.At.After(now) {
			continue
		}
		if se.End != "" {
			d, _ := ParseOffset(se.End)
			if end := breachAt.Add(d); !end.After(now) {
				e.End = &end
			}
		}
		if len(se.Attributes) > 0 {
			attrs, err := cloneAttributes(se.Attributes)
			if err != nil {
				return graph.Batch{}, graph.Invalidf("events[%d].attributes: %s", i, err)
			}
			e.Attributes = attrs
		}
		if err := e.Normalize(now); err != nil {
			return graph.Batch{}, graph.Invalidf("events[%d]: %s", i, graph.Message(err))
		}
		sight(e.Service, e.At)
		b.Events = append(b.Events, e)
	}
	for i, n := range s.Native {
		items, err := expandNative(n, breachAt, now)
		if err != nil {
			return graph.Batch{}, graph.Invalidf("native[%d] (%s): %s", i, n.Format, graph.Message(err))
		}
		for _, it := range items {
			switch {
			case it.Event != nil && !it.Event.At.After(now):
				sight(it.Event.Service, it.Event.At)
				b.Events = append(b.Events, *it.Event)
			case it.Dependency != nil:
				b.Dependencies = append(b.Dependencies, *it.Dependency)
			}
		}
	}
	for _, d := range s.Declared {
		if d.Source == "" {
			d.Source = "declared"
		}
		b.Dependencies = append(b.Dependencies, d)
	}
	b.Calls = expandTraffic(s, breachAt, now)
	for _, c := range b.Calls {
		sight(c.From, c.Start)
		sight(c.To, c.Start)
	}
	for _, sv := range s.Services {
		out := graph.Service{Name: sv.Name, Environment: env(sv.Environment), Owner: sv.Owner}
		if v, ok := seen[sv.Name]; ok {
			out.FirstSeen, out.LastSeen = v[0], v[1]
		}
		b.Services = append(b.Services, out)
	}
	return b, nil
}

func indexOfService(s *Scenario, name string) int {
	for i, sv := range s.Services {
		if sv.Name == name {
			return i
		}
	}
	return -1
}

// cloneAttributes deep-copies decoded JSON so that expanding a scenario
// twice never shares maps between the two batches.
func cloneAttributes(in map[string]any) (map[string]any, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// expandTraffic turns each edge into one call bucket per minute of every
// traffic window, with seeded jitter keyed on the offset of the minute, so
// the traffic has the same shape whatever instant the scenario is
// anchored at.
func expandTraffic(s *Scenario, breachAt, now time.Time) []graph.CallBucket {
	anchor := breachAt.Truncate(graph.BucketWidth)
	type episode struct {
		start, end, ramp time.Duration
		Episode
	}
	episodes := map[[2]string][]episode{}
	for _, ep := range s.Episodes {
		start, end, _ := windowOffsets("", ep.Start, ep.End, false)
		var ramp time.Duration
		if ep.Ramp != "" {
			ramp, _ = ParseOffset(ep.Ramp)
		}
		k := [2]string{ep.From, ep.To}
		episodes[k] = append(episodes[k], episode{start, end, ramp, ep})
	}
	windows := make([][2]time.Duration, 0, len(s.Traffic))
	for _, w := range s.Traffic {
		start, end, _ := windowOffsets("", w.Start, w.End, true)
		windows = append(windows, [2]time.Duration{start, end})
	}
	sort.Slice(windows, func(i, j int) bool { return windows[i][0] < windows[j][0] })
	var minutes int
	for _, w := range windows {
		minutes += int((w[1] - w[0]) / graph.BucketWidth)
	}
	out := make([]graph.CallBucket, 0, minutes*len(s.Edges))
	for _, e := range s.Edges {
		seed := edgeSeed(s.Seed, e.From, e.To)
		phase := unit(^seed, 0) * 2 * math.Pi
		for _, w := range windows {
			for off := w[0]; off < w[1]; off += graph.BucketWidth {
				start := anchor.Add(off)
				if start.Add(graph.BucketWidth).After(now) {
					break
				}
				minute := int64(off / graph.BucketWidth)
				rate, ratio, latency := e.CallsPerMinute, e.ErrorRatio, e.LatencyMs
				for _, ep := range episodes[[2]string{e.From, e.To}] {
					if off < ep.start || off >= ep.end {
						continue
					}
					// f is how far the change has built up: 1 for a step.
					f := 1.0
					if ep.ramp > 0 && off-ep.start < ep.ramp {
						f = float64(off-ep.start+graph.BucketWidth) / float64(ep.ramp)
					}
					if ep.ErrorRatio > 0 {
						ratio += f * (ep.ErrorRatio - ratio)
					}
					if ep.LatencyFactor > 0 {
						latency *= 1 + f*(ep.LatencyFactor-1)
					}
					if ep.CallsFactor > 0 {
						rate *= 1 + f*(ep.CallsFactor-1)
					}
				}
				// A slow swell over about three hours, plus per-minute noise.
				wave := 1 + 0.12*math.Sin(2*math.Pi*float64(minute)/180+phase)
				calls := int64(math.Round(rate * wave * (0.92 + 0.16*unit(seed, minute*4))))
				errs := int64(math.Floor(float64(calls)*ratio*(0.75+0.5*unit(seed, minute*4+1)) + unit(seed, minute*4+2)))
				errs = min(max(errs, 0), calls)
				mean := latency * (0.9 + 0.2*unit(seed, minute*4+3))
				out = append(out, graph.CallBucket{
					From: e.From, To: e.To, Start: start, Producer: Producer,
					Calls: calls, Errors: errs,
					LatencySum: time.Duration(float64(calls) * mean * float64(time.Millisecond)),
				})
			}
		}
	}
	return out
}

func edgeSeed(seed uint64, from, to string) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], seed)
	h.Write(buf[:])
	h.Write([]byte(from + "\x00" + to))
	return h.Sum64()
}

// unit returns a uniform number in [0, 1) determined by seed and n
// (splitmix64).
func unit(seed uint64, n int64) float64 {
	z := seed + uint64(n)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// expandNative replaces every $at(OFFSET) in the strings of n's body with
// that instant and decodes the body with its source's decoder.
func expandNative(n Native, breachAt, now time.Time) ([]ingest.Item, error) {
	var body any
	if err := json.Unmarshal(n.Body, &body); err != nil {
		return nil, graph.Invalidf("body: %s", ingest.JSONError(err, n.Body))
	}
	body, err := substituteTimes(body, breachAt)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	dec, _ := ingest.FormatDecoder(n.Format)
	items, err := dec(raw, ingest.NewHeaders(n.Headers), now)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Err != nil {
			return nil, it.Err
		}
	}
	return items, nil
}

// substituteTimes walks decoded JSON and rewrites $at(OFFSET) in strings.
func substituteTimes(v any, breachAt time.Time) (any, error) {
	switch x := v.(type) {
	case string:
		return substituteString(x, breachAt)
	case []any:
		for i := range x {
			y, err := substituteTimes(x[i], breachAt)
			if err != nil {
				return nil, err
			}
			x[i] = y
		}
	case map[string]any:
		for k := range x {
			y, err := substituteTimes(x[k], breachAt)
			if err != nil {
				return nil, err
			}
			x[k] = y
		}
	}
	return v, nil
}

func substituteString(s string, breachAt time.Time) (string, error) {
	var out strings.Builder
	for {
		i := strings.Index(s, "$at(")
		if i < 0 {
			out.WriteString(s)
			return out.String(), nil
		}
		j := strings.IndexByte(s[i:], ')')
		if j < 0 {
			return "", graph.Invalidf("unclosed $at( in %q", s)
		}
		d, err := ParseOffset(s[i+4 : i+j])
		if err != nil {
			return "", err
		}
		out.WriteString(s[:i])
		out.WriteString(breachAt.Add(d).Format(time.RFC3339))
		s = s[i+j+1:]
	}
}

// BreachAt returns the breach a scenario expanded at breachAt is built
// around: its slo_breach event at offset zero. The demo announces this
// one, whatever other breaches the store it is loaded into holds.
func BreachAt(b graph.Batch, breachAt time.Time) (graph.Breach, error) {
	for _, e := range b.Events {
		if e.Kind == graph.KindSLOBreach && e.At.Equal(breachAt) {
			return graph.BreachOf(e), nil
		}
	}
	return graph.Breach{}, graph.NotFoundf("the scenario has no slo_breach event at offset 0")
}
