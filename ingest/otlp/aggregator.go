package otlp

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/sregraph/sregraph/graph"
)

// Source is the source name of the events this package emits.
const Source = "otlp"

// Defaults for Config, the same as Grafana Tempo's service-graph processor.
const (
	DefaultWait     = 10 * time.Second
	DefaultMaxItems = 10000
	// DefaultMaxAhead is how far ahead of the server's clock serve lets a
	// span start: generous for clock skew, short of a wrong year.
	DefaultMaxAhead = time.Hour
	// DefaultVirtualCaller names the caller of a root SERVER or CONSUMER
	// span that has no peer attribute.
	DefaultVirtualCaller = "user"
)

// DefaultPeerAttributes are the span attributes, in order, that name the
// uninstrumented peer of an unpaired span (Tempo's peer_attributes).
var DefaultPeerAttributes = []string{"peer.service", "db.name", "db.system", "db.system.name"}

// DefaultDatabaseNameAttributes are the span attributes, in order, that
// mark a CLIENT or PRODUCER span as a database call and name the database
// when nothing names its server (Tempo's database_name_attributes).
var DefaultDatabaseNameAttributes = []string{"db.namespace", "db.name", "db.system", "db.system.name"}

// maxListAttributes is how many attributes of PeerAttributes and of
// DatabaseNameAttributes are read; further ones are ignored.
const maxListAttributes = 6

// Config tunes an Aggregator. Zero fields get the defaults.
type Config struct {
	// Wait is how long an unpaired span waits for its other half before it
	// expires (default 10s).
	Wait time.Duration
	// MaxItems bounds the pending store; when it is full the oldest entry
	// expires early (default 10 000).
	MaxItems int
	// BucketWidth is the width of the call buckets (default graph.BucketWidth).
	BucketWidth time.Duration
	// VersionForget is how long a service version must have been unseen
	// for its reappearance to count as a deploy again (default 1h).
	VersionForget time.Duration
	// SegmentOffsets is how many offsets of a Kafka partition make one
	// segment, the unit of replay (default 1000).
	SegmentOffsets int
	// Alias renames services (resource service.name and virtual peers)
	// before anything is counted; nil keeps names as they are.
	Alias func(string) string
	// Anomaly holds the anomaly thresholds; zero fields get the defaults.
	Anomaly AnomalyConfig
	// Retention is how long the store keeps call buckets: a span that
	// started longer ago than that (by the aggregator's clock) is rejected
	// rather than counted and deleted by the next retention run. Zero
	// bounds spans by graph.Earliest only.
	Retention time.Duration
	// MaxAhead bounds how far after now (by the aggregator's clock) a span
	// may start: a later one is rejected, as its clock is wrong and its
	// calls would outlive every retention run. Zero bounds spans by
	// graph.Latest only; DefaultMaxAhead is what serve uses.
	MaxAhead time.Duration
	// VirtualCaller names the caller of a root SERVER or CONSUMER span
	// without a peer attribute (default DefaultVirtualCaller, "user").
	VirtualCaller string
	// PeerAttributes name the peer of an unpaired span, first present
	// wins (default DefaultPeerAttributes; at most 6 are read).
	PeerAttributes []string
	// DatabaseNameAttributes mark a database call and name the database,
	// first present wins (default DefaultDatabaseNameAttributes; at most 6
	// are read).
	DatabaseNameAttributes []string
}

func (c *Config) fill() {
	if c.Wait <= 0 {
		c.Wait = DefaultWait
	}
	if c.MaxItems <= 0 {
		c.MaxItems = DefaultMaxItems
	}
	if c.BucketWidth <= 0 {
		c.BucketWidth = graph.BucketWidth
	}
	if c.SegmentOffsets <= 0 {
		c.SegmentOffsets = DefaultSegmentOffsets
	}
	if c.VersionForget <= 0 {
		c.VersionForget = time.Hour
	}
	if c.VirtualCaller == "" {
		c.VirtualCaller = DefaultVirtualCaller
	}
	if len(c.PeerAttributes) == 0 {
		c.PeerAttributes = DefaultPeerAttributes
	}
	if len(c.DatabaseNameAttributes) == 0 {
		c.DatabaseNameAttributes = DefaultDatabaseNameAttributes
	}
	c.Anomaly.fill()
}

// Stats counts what an Aggregator did since it was made.
type Stats struct {
	// Spans is every span received; Rejected those that were malformed
	// (bad ids or times, no service.name) and not counted.
	Spans, Rejected int64
	// Paired counts client/server, producer/consumer and parent/child
	// pairs; Database counts database client spans, each a call on its
	// own.
	Paired, Database int64
	// Virtual counts expired client spans that became a call to a virtual
	// peer (a peer attribute); Expired the unpaired spans dropped without
	// one.
	Virtual, Expired int64
	// Evicted counts entries expired early because their pending store
	// was full; their spans are counted in Virtual or Expired too.
	Evicted int64
	// Roots counts SERVER and CONSUMER spans without a parent, each a
	// call from a virtual caller.
	Roots int64
	// Pending is the number of entries in the pending stores now.
	Pending int
}

// Accepted says what Add did with a request, for the OTLP partial-success
// response.
type Accepted struct {
	Spans    int
	Rejected int
	// Message explains the first rejection.
	Message string
}

// Aggregator pairs spans into call edges and counts them into time buckets.
// It is safe for concurrent use.
type Aggregator struct {
	cfg Config
	now func() time.Time

	mu sync.Mutex
	// pending holds the spans that came over HTTP; each Kafka partition
	// has its own store, in partitions.
	pending    pendingStore
	partitions map[segmentKey]*partition
	dirty      map[*origin]struct{}
	segments   map[segmentKey]*segment
	versions   map[string]*versionState
	strings    interner
	attrs      attrTable
	hist       *history
	stats      Stats
}

// NewAggregator returns an Aggregator using now as its clock (time.Now when
// nil).
func NewAggregator(cfg Config, now func() time.Time) *Aggregator {
	cfg.fill()
	if now == nil {
		now = time.Now
	}
	return &Aggregator{
		cfg:        cfg,
		now:        now,
		pending:    newPendingStore(cfg.MaxItems),
		partitions: map[segmentKey]*partition{},
		dirty:      map[*origin]struct{}{},
		segments:   map[segmentKey]*segment{},
		versions:   map[string]*versionState{},
		hist:       newHistory(cfg.Anomaly, cfg.BucketWidth),
		attrs:      newAttrTable(cfg.PeerAttributes, cfg.DatabaseNameAttributes),
	}
}

// Stats returns a snapshot of the counters.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.Pending = a.pending.len()
	for _, p := range a.partitions {
		s.Pending += p.store.len()
	}
	return s
}

// Add pairs the spans of req, which count under producer. It returns the
// cumulative counts of every HTTP producer that changed, this one
// included: a call counts under the producer of its client span, which may
// be an earlier request's, with the deploys req's service versions reveal.
// Spans still waiting for their other half stay pending; a later Add or
// Flush counts them.
func (a *Aggregator) Add(req *coltracepb.ExportTraceServiceRequest, producer string) (graph.Batch, Accepted) {
	b, _, res := a.addHTTP(req, producer)
	return b, res
}

func (a *Aggregator) addHTTP(req *coltracepb.ExportTraceServiceRequest, producer string) (graph.Batch, []*origin, Accepted) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := &pass{org: &origin{producer: producer}, store: &a.pending, at: a.now().UnixNano()}
	p.oldest, p.newest = a.accepted()
	res := a.add(req, p)
	b, orgs := a.takeDirty(false)
	return b, orgs, res
}

// addHTTPWire is addHTTP for a protobuf body, read without building the
// message tree.
func (a *Aggregator) addHTTPWire(body []byte, producer string) (graph.Batch, []*origin, Accepted, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := &pass{org: &origin{producer: producer}, store: &a.pending, at: a.now().UnixNano()}
	p.oldest, p.newest = a.accepted()
	res, err := a.addWire(body, p)
	if err != nil {
		return graph.Batch{}, nil, res, err
	}
	b, orgs := a.takeDirty(false)
	return b, orgs, res, nil
}

// Flush expires the HTTP spans that waited Wait by now, and returns the
// cumulative counts of every HTTP producer that changed since it was last
// returned, plus the anomalies found in the buckets that closed by now.
func (a *Aggregator) Flush(now time.Time) graph.Batch {
	b, _ := a.flushHTTP(now)
	return b
}

func (a *Aggregator) flushHTTP(now time.Time) (graph.Batch, []*origin) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expire(&a.pending, now.UnixNano())
	b, orgs := a.takeDirty(false)
	b.Events = append(b.Events, a.hist.evaluate(now.Add(-a.cfg.Wait), now)...)
	return b, orgs
}

// requeue marks origins whose counts could not be written as changed, so
// the next batch carries their (then current) counts.
func (a *Aggregator) requeue(orgs []*origin) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, o := range orgs {
		a.dirty[o] = struct{}{}
	}
}

// takeDirty returns the cumulative counts of the changed origins of one
// kind (Kafka or not) and forgets that they changed.
func (a *Aggregator) takeDirty(kafka bool) (graph.Batch, []*origin) {
	var orgs []*origin
	for o := range a.dirty {
		if o.kafka == kafka {
			orgs = append(orgs, o)
		}
	}
	sort.Slice(orgs, func(i, j int) bool { return orgs[i].producer < orgs[j].producer })
	var b graph.Batch
	for _, o := range orgs {
		b = appendBatch(b, o.acc.batch(o.producer))
		delete(a.dirty, o)
	}
	return b, orgs
}

// origin is where spans came from: one HTTP request or one Kafka segment.
// It is a producer: the calls of its client spans (paired, database, or
// expired into virtual edges) count in its accum, which is written whole
// whenever it grows, so writing it again replaces rather than adds. An
// origin is referenced by its pending spans, its open segment and, until
// its counts are written, the dirty set; after that it is garbage.
type origin struct {
	producer string
	kafka    bool
	acc      *accum
}

func (a *Aggregator) touched(o *origin) *accum {
	if o.acc == nil {
		o.acc = newAccum()
	}
	a.dirty[o] = struct{}{}
	return o.acc
}

// pass is the context of one Add or AddKafka: where completed calls are
// counted, where the spans came from, which pending store they wait in and
// the instant they are stored at.
type pass struct {
	org   *origin
	store *pendingStore
	at    int64
	// oldest and newest are the earliest and latest span starts
	// accepted (Unix nanoseconds).
	oldest, newest int64
}

// accepted returns the earliest and latest span start the aggregator
// accepts now: the retention's cutoff and MaxAhead past now, within
// graph.Earliest and graph.Latest. Called with a.mu held.
func (a *Aggregator) accepted() (oldest, newest int64) {
	oldest, newest = minNanos, maxNanos
	if a.cfg.Retention <= 0 && a.cfg.MaxAhead <= 0 {
		return oldest, newest
	}
	now := a.now()
	if a.cfg.Retention > 0 {
		oldest = max(oldest, now.Add(-a.cfg.Retention).UnixNano())
	}
	if a.cfg.MaxAhead > 0 {
		newest = min(newest, now.Add(a.cfg.MaxAhead).UnixNano())
	}
	return oldest, newest
}

func (a *Aggregator) add(req *coltracepb.ExportTraceServiceRequest, p *pass) Accepted {
	var res Accepted
	var v spanView
	for _, rs := range req.GetResourceSpans() {
		var ra resourceAttrs
		for _, kv := range rs.GetResource().GetAttributes() {
			ra.set(kv.GetKey(), anyString(kv.GetValue()))
		}
		run := a.beginResource(&ra)
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				v = spanView{
					trace: sp.GetTraceId(), id: sp.GetSpanId(), parent: sp.GetParentSpanId(), kind: sp.GetKind(),
					start: sp.GetStartTimeUnixNano(), end: sp.GetEndTimeUnixNano(),
					failed: sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
				}
				for _, kv := range sp.GetAttributes() {
					a.attrs.set(&v.attrs, kv.GetKey(), anyString(kv.GetValue()))
				}
				a.spanIn(p, &run, &v, &res)
			}
		}
		a.endResource(p, &run)
	}
	return res
}

// resourceAttrs holds the resource attributes the aggregator reads. As
// with a lookup of the first attribute with a key, the first occurrence
// of a key wins.
type resourceAttrs struct {
	service, version, env, envOld string
	seen                          uint8
}

func (r *resourceAttrs) set(key, value string) {
	var bit uint8
	var dst *string
	switch key {
	case "service.name":
		bit, dst = 1, &r.service
	case "service.version":
		bit, dst = 2, &r.version
	case "deployment.environment.name":
		bit, dst = 4, &r.env
	case "deployment.environment":
		bit, dst = 8, &r.envOld
	default:
		return
	}
	if r.seen&bit == 0 {
		r.seen |= bit
		*dst = value
	}
}

// anyString is an attribute value as pairing reads it: a string, or an
// integer in decimal (ports); "" for other values.
func anyString(v *commonpb.AnyValue) string {
	if i, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
		return strconv.FormatInt(i.IntValue, 10)
	}
	return v.GetStringValue()
}

// maxAttrSlots bounds the span attributes pairing reads: the four below
// and the configured peer and database name attributes.
const maxAttrSlots = 4 + 2*maxListAttributes

// Slots of the attributes that name a database's server.
const (
	slotPeerService = iota
	slotServerAddress
	slotNetworkPeerAddress
	slotNetworkPeerPort
)

// attrTable says which span attributes pairing reads and where spanAttrs
// keeps each.
type attrTable struct {
	slot         map[string]uint8
	peer, dbName []uint8
}

func newAttrTable(peer, dbName []string) attrTable {
	t := attrTable{slot: map[string]uint8{
		"peer.service": slotPeerService, "server.address": slotServerAddress,
		"network.peer.address": slotNetworkPeerAddress, "network.peer.port": slotNetworkPeerPort,
	}}
	list := func(keys []string) []uint8 {
		var out []uint8
		for _, k := range keys[:min(len(keys), maxListAttributes)] {
			i, ok := t.slot[k]
			if !ok {
				i = uint8(len(t.slot))
				t.slot[k] = i
			}
			out = append(out, i)
		}
		return out
	}
	t.peer = list(peer)
	t.dbName = list(dbName)
	return t
}

// spanAttrs holds the span attributes pairing reads, by their attrTable
// slot; the last occurrence of a key wins. Values that are neither
// strings nor integers read as "", as if absent.
type spanAttrs struct {
	vals [maxAttrSlots]string
}

func (t *attrTable) set(s *spanAttrs, key, value string) {
	if i, ok := t.slot[key]; ok {
		s.vals[i] = value
	}
}

// setBytes is set for a key and value read from the wire; it copies the
// value only for the keys it keeps.
func (t *attrTable) setBytes(s *spanAttrs, key, value []byte, in *interner) {
	if i, ok := t.slot[string(key)]; ok {
		s.vals[i] = in.string(value)
	}
}

// first is the first non-empty value of the attributes in slots.
func (s *spanAttrs) first(slots []uint8) string {
	for _, i := range slots {
		if v := s.vals[i]; v != "" {
			return v
		}
	}
	return ""
}

// interner shares the strings that repeat from span to span (peer names,
// database systems), so reading them from the wire does not allocate. It
// forgets everything when it reaches maxInterned strings.
type interner map[string]string

const maxInterned = 4096

func (in *interner) string(b []byte) string {
	if s, ok := (*in)[string(b)]; ok {
		return s
	}
	if *in == nil || len(*in) >= maxInterned {
		*in = make(interner)
	}
	s := string(b)
	(*in)[s] = s
	return s
}

// spanView is what the aggregator reads of a span, whichever decoder
// read it.
type spanView struct {
	trace, id, parent []byte
	kind              tracepb.Span_SpanKind
	start, end        uint64
	failed            bool
	attrs             spanAttrs
}

// resourceRun is one resource being read.
type resourceRun struct {
	svc, env, version string
	first             uint64
}

func (a *Aggregator) beginResource(ra *resourceAttrs) resourceRun {
	env := ra.env
	if env == "" {
		env = ra.envOld
	}
	return resourceRun{svc: a.name(ra.service), env: env, version: ra.version}
}

// spanIn counts one span of run into res and pairs it.
func (a *Aggregator) spanIn(p *pass, run *resourceRun, v *spanView, res *Accepted) {
	res.Spans++
	a.stats.Spans++
	reason := ""
	if run.svc == "" {
		reason = "resource without service.name"
	} else {
		reason = a.span(run.svc, run.env, v, p)
	}
	if reason != "" {
		a.stats.Rejected++
		res.Rejected++
		if res.Message == "" {
			res.Message = fmt.Sprintf("span %s: %s", hexID(v.id), reason)
		}
		return
	}
	if run.first == 0 || v.start < run.first {
		run.first = v.start
	}
}

// endResource records the resource's service.version.
func (a *Aggregator) endResource(p *pass, run *resourceRun) {
	if run.version == "" || run.first == 0 || run.svc == "" {
		return
	}
	if e, ok := a.seeVersion(run.svc, run.env, run.version, time.Unix(0, int64(run.first)).UTC()); ok {
		acc := a.touched(p.org)
		acc.events = append(acc.events, e)
	}
}

// name applies the alias map and keeps names storable.
func (a *Aggregator) name(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if a.cfg.Alias != nil {
		s = a.cfg.Alias(s)
	}
	if strings.ContainsAny(s, "/\x00\n\r\t") {
		s = strings.Map(func(r rune) rune {
			if r == '/' {
				return '.'
			}
			if r < ' ' {
				return -1
			}
			return r
		}, s)
	}
	if len(s) > graph.MaxNameLen {
		s = s[:graph.MaxNameLen]
	}
	return s
}

// Roles a span plays in pairing.
const (
	roleCaller  = 1 // CLIENT or PRODUCER
	roleCallee  = 2 // SERVER or CONSUMER
	roleUnknown = 3 // UNSPECIFIED: paired parent → child across services
)

// side is one span waiting in the pending store.
type side struct {
	service, env string
	// peer is the virtual node a caller becomes an edge to if it expires
	// unpaired.
	peer       string
	start, end int64
	failed     bool
	role       uint8
	// messaging marks a PRODUCER or CONSUMER span.
	messaging bool
	org       *origin
}

func (s *side) duration() int64 {
	if s.end > s.start {
		return s.end - s.start
	}
	return 0
}

var (
	minNanos = graph.Earliest.UnixNano()
	maxNanos = graph.Latest.UnixNano()
)

// span handles one span; it returns why the span was rejected, or "".
func (a *Aggregator) span(svc, env string, sp *spanView, p *pass) string {
	var role uint8
	switch sp.kind {
	case tracepb.Span_SPAN_KIND_CLIENT, tracepb.Span_SPAN_KIND_PRODUCER:
		role = roleCaller
	case tracepb.Span_SPAN_KIND_SERVER, tracepb.Span_SPAN_KIND_CONSUMER:
		role = roleCallee
	case tracepb.Span_SPAN_KIND_UNSPECIFIED:
		role = roleUnknown
	}
	trace, id, parent := sp.trace, sp.id, sp.parent
	switch {
	case len(trace) != 16:
		return fmt.Sprintf("trace id has %d bytes, want 16", len(trace))
	case len(id) != 8:
		return fmt.Sprintf("span id has %d bytes, want 8", len(id))
	case len(parent) != 0 && len(parent) != 8:
		return fmt.Sprintf("parent span id has %d bytes, want 8", len(parent))
	}
	start, end := int64(sp.start), int64(sp.end)
	if sp.start > uint64(maxNanos) || start < minNanos {
		return fmt.Sprintf("start time %d ns is outside the accepted range %d..%d", sp.start, graph.Earliest.Year(), graph.Latest.Year())
	}
	if start < p.oldest {
		return fmt.Sprintf("start time %s is older than the retention of %s", time.Unix(0, start).UTC().Format(time.RFC3339), a.cfg.Retention)
	}
	if start > p.newest {
		return fmt.Sprintf("start time %s is more than %s ahead of the server's clock", time.Unix(0, start).UTC().Format(time.RFC3339), a.cfg.MaxAhead)
	}
	if role == 0 { // INTERNAL, or a kind from the future: not a call.
		return ""
	}
	if sp.end > uint64(maxNanos) {
		end = start
	}
	if end < start {
		end = start
	}
	messaging := sp.kind == tracepb.Span_SPAN_KIND_PRODUCER || sp.kind == tracepb.Span_SPAN_KIND_CONSUMER
	s := side{service: svc, env: env, start: start, end: end, role: role, org: p.org,
		failed: sp.failed, messaging: messaging}
	attrs := &sp.attrs
	switch role {
	case roleCaller:
		if db := a.name(a.databaseTarget(attrs)); db != "" {
			a.stats.Database++
			a.count(&s, db, s.start, s.duration(), s.failed, graph.ConnectionDatabase)
			return ""
		}
		s.peer = a.name(attrs.first(a.attrs.peer))
		a.arriveCaller(p, newKey(trace, id), s)
	case roleCallee:
		if len(parent) == 0 {
			// A root: called by no one instrumented, so by its peer or,
			// without one, the virtual caller.
			a.stats.Roots++
			caller := a.name(attrs.first(a.attrs.peer))
			if caller == "" {
				caller = a.name(a.cfg.VirtualCaller)
			}
			a.countFrom(caller, &s)
			return ""
		}
		a.arriveCallee(p, newKey(trace, parent), s)
	case roleUnknown:
		a.arriveCaller(p, newKey(trace, id), s)
		if len(parent) != 0 {
			a.arriveCallee(p, newKey(trace, parent), s)
		}
	}
	return ""
}

// arriveCaller handles a span that can be the calling side of key k.
func (a *Aggregator) arriveCaller(p *pass, k spanKey, s side) {
	e := p.store.get(k)
	if e == nil {
		e = a.insert(p, k)
		e.caller, e.hasCaller = s, true
		return
	}
	if e.hasCaller {
		return // the same span again: counted once
	}
	e.caller, e.hasCaller = s, true
	// A CLIENT/PRODUCER caller is used up by the first waiting callee;
	// an UNSPECIFIED parent takes them all.
	kept := e.callees[:0]
	for i := range e.callees {
		c := e.callees[i]
		if !e.hasCaller {
			kept = append(kept, c)
			continue
		}
		a.pair(e, &c)
	}
	e.callees = kept
	a.tidy(p.store, e)
}

// arriveCallee handles a span whose parent is key k.
func (a *Aggregator) arriveCallee(p *pass, k spanKey, s side) {
	e := p.store.get(k)
	if e != nil && e.hasCaller {
		a.pair(e, &s)
		a.tidy(p.store, e)
		return
	}
	if e == nil {
		e = a.insert(p, k)
	}
	e.callees = append(e.callees, s)
}

// pair completes the edge from e's caller to callee. A CLIENT/PRODUCER
// caller is used up by its first callee; an UNSPECIFIED caller is a parent
// that can have many children and stays until it expires. Parent/child
// pairs that involve an UNSPECIFIED span count only across services.
func (a *Aggregator) pair(e *entry, callee *side) {
	caller := &e.caller
	proper := caller.role == roleCaller && callee.role == roleCallee
	if proper || caller.service != callee.service {
		a.stats.Paired++
		start, dur := caller.start, caller.duration()
		if caller.role != roleCaller {
			start, dur = callee.start, callee.duration()
		}
		// An UNSPECIFIED parent's own status says nothing about this call.
		failed := callee.failed || caller.role == roleCaller && caller.failed
		conn := graph.ConnectionNone
		if caller.messaging || callee.messaging {
			conn = graph.ConnectionMessaging
		}
		a.countPair(caller, callee, start, dur, failed, conn)
	}
	if caller.role == roleCaller {
		e.hasCaller = false
		e.caller = side{}
	}
}

// tidy removes e when nothing is left in it.
func (a *Aggregator) tidy(st *pendingStore, e *entry) {
	if !e.hasCaller && len(e.callees) == 0 {
		st.remove(e.key, e)
	}
}

func (a *Aggregator) insert(p *pass, k spanKey) *entry {
	for p.store.len() >= a.cfg.MaxItems {
		ok, old := p.store.oldest()
		if !ok {
			break
		}
		a.stats.Evicted++
		a.expireEntry(p.store, old)
	}
	return p.store.insert(k, p.at)
}

// expire drops every entry of st stored Wait or more before now (Unix
// nanoseconds).
func (a *Aggregator) expire(st *pendingStore, now int64) {
	cut := now - int64(a.cfg.Wait)
	for {
		ok, e := st.oldest()
		if !ok || e.at > cut {
			return
		}
		a.expireEntry(st, e)
	}
}

// expireEntry removes e; a CLIENT/PRODUCER caller with a peer attribute
// becomes an edge to that virtual peer, everything else unpaired is counted
// as expired.
func (a *Aggregator) expireEntry(st *pendingStore, e *entry) {
	st.remove(e.key, e)
	if e.hasCaller {
		c := &e.caller
		switch {
		case c.role == roleCaller && c.peer != "":
			a.stats.Virtual++
			a.count(c, c.peer, c.start, c.duration(), c.failed, graph.ConnectionVirtual)
		case c.role == roleCaller:
			a.stats.Expired++
		}
	}
	for i := range e.callees {
		c := &e.callees[i]
		if c.role == roleCallee {
			a.stats.Expired++
		}
	}
}

// countPair counts one paired call under the caller's origin.
func (a *Aggregator) countPair(caller, callee *side, start, dur int64, failed bool, conn graph.ConnectionType) {
	if caller.service == callee.service {
		return
	}
	acc := a.touched(caller.org)
	a.hist.add(caller.service, callee.service, start, dur, failed)
	acc.add(caller.service, callee.service, a.bucket(start), dur, failed, conn)
	acc.touch(caller.service, caller.env, caller.start, caller.end)
	acc.touch(callee.service, callee.env, callee.start, callee.end)
}

// count counts one call from s to a database or virtual node under s's
// origin.
func (a *Aggregator) count(s *side, to string, start, dur int64, failed bool, conn graph.ConnectionType) {
	if s.service == to {
		return
	}
	acc := a.touched(s.org)
	a.hist.add(s.service, to, start, dur, failed)
	acc.add(s.service, to, a.bucket(start), dur, failed, conn)
	acc.touch(s.service, s.env, s.start, s.end)
	acc.touch(to, "", s.start, s.end)
}

// countFrom counts the call of root span s from the virtual node from
// under s's origin, with s's start, duration and status.
func (a *Aggregator) countFrom(from string, s *side) {
	if from == "" || from == s.service {
		return
	}
	acc := a.touched(s.org)
	a.hist.add(from, s.service, s.start, s.duration(), s.failed)
	acc.add(from, s.service, a.bucket(s.start), s.duration(), s.failed, graph.ConnectionVirtual)
	acc.touch(from, "", s.start, s.end)
	acc.touch(s.service, s.env, s.start, s.end)
}

func (a *Aggregator) bucket(ns int64) int64 {
	w := int64(a.cfg.BucketWidth)
	return ns - ns%w
}

// databaseTarget names the database a CLIENT or PRODUCER span calls, or
// "" when the span is not a database call. As in Tempo, a span is a
// database call when one of DatabaseNameAttributes is present (by default
// db.namespace, db.name, db.system, db.system.name; the first present is
// the database's name), and the database is named by peer.service, else
// server.address, else network.peer.address (":network.peer.port" added
// when present), else that name.
func (a *Aggregator) databaseTarget(s *spanAttrs) string {
	name := s.first(a.attrs.dbName)
	switch {
	case name == "":
		return ""
	case s.vals[slotPeerService] != "":
		return s.vals[slotPeerService]
	case s.vals[slotServerAddress] != "":
		return s.vals[slotServerAddress]
	case s.vals[slotNetworkPeerAddress] != "":
		if port := s.vals[slotNetworkPeerPort]; port != "" {
			return s.vals[slotNetworkPeerAddress] + ":" + port
		}
		return s.vals[slotNetworkPeerAddress]
	}
	return name
}

// takeHTTP returns the counts of the HTTP producers that changed since
// they were last returned.
func (a *Aggregator) takeHTTP() (graph.Batch, []*origin) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.takeDirty(false)
}
