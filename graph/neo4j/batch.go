package neo4j

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/sregraph/sregraph/graph"
)

// Apply writes a batch in one transaction and returns once it is committed.
// Events are keyed by ID, and graph.Merge decides what a repeat does;
// declared dependencies are keyed by their ends; call buckets by (from, to,
// start, producer), a repeat replacing the counts, so a redelivered batch
// changes nothing (they are stored one row per hour: see callHourRows). Every service an event, dependency or bucket names is
// recorded. The transaction is retried on transient errors (a deadlock, a
// leader switch) until the configured retry time runs out.
func (s *Store) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	if err := b.Validate(); err != nil {
		return graph.Written{}, err
	}
	if b.Len() == 0 {
		return graph.Written{}, nil
	}
	services := serviceRows(b, s.now().UTC())
	deps := dependencyRows(b.Dependencies)
	calls := callHourRows(b.Calls)
	callEdges := callEdgeRows(b.Calls)
	ids := eventIDs(b.Events)

	var (
		w   graph.Written
		err error
	)
	for attempt := 1; ; attempt++ {
		w, err = s.apply(ctx, b, ids, services, deps, calls, callEdges)
		if err == nil || !isDuplicateEvent(err) || attempt == maxInsertRaces {
			break
		}
		// Another writer inserted one of the events first; the next
		// attempt sees it and merges with it.
		s.log.Debug("neo4j: concurrent insert of an event; retrying the batch", "attempt", attempt)
	}
	if err != nil {
		return graph.Written{}, fmt.Errorf("neo4j: apply %d items: %w", b.Len(), classify(err))
	}
	return w, nil
}

// maxInsertRaces bounds how often a batch is retried because a concurrent
// writer inserted the same new event.
const maxInsertRaces = 5

// isDuplicateEvent reports a lost race to insert an event.
func isDuplicateEvent(err error) bool {
	var ne *driver.Neo4jError
	return errors.As(err, &ne) && ne.Code == "Neo.ClientError.Schema.ConstraintValidationFailed"
}

// apply is one managed write transaction for a batch.
func (s *Store) apply(ctx context.Context, b graph.Batch, ids []string, services, deps, calls, callEdges []map[string]any) (graph.Written, error) {
	sess := s.session(ctx, driver.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	return driver.ExecuteWrite(ctx, sess, func(tx driver.ManagedTransaction) (graph.Written, error) {
		// The merge decision is remade on every attempt from what the
		// attempt reads, so a retry cannot count anything twice.
		stored, err := s.lockEvents(ctx, tx, ids)
		if err != nil {
			return graph.Written{}, err
		}
		w, changed := mergeEvents(stored, b.Events, b.Replace)
		var created, updated []map[string]any
		for _, e := range changed {
			row, err := eventRow(e)
			if err != nil {
				return graph.Written{}, err
			}
			if _, ok := stored[e.ID]; ok {
				updated = append(updated, row)
			} else {
				created = append(created, row)
			}
		}
		// Nodes first, then the relationships between them.
		steps := []struct {
			what   string
			stmt   string
			rows   []map[string]any
			params map[string]any
		}{
			{"services", cypherMergeServices, services, nil},
			{"new events", cypherCreateEvents, created, nil},
			{"changed events", cypherUpdateEvents, updated, nil},
			{"dependencies", cypherMergeDependencies, deps, nil},
			{"call buckets", cypherMergeCallHours, calls, map[string]any{
				"perHour": int64(bucketsPerHour), "slots": int64(graph.LatencyBuckets),
			}},
			{"call edges", cypherMergeCallEdges, callEdges, nil},
		}
		for _, st := range steps {
			if err := s.unwind(ctx, tx, st.stmt, st.rows, st.params); err != nil {
				return graph.Written{}, fmt.Errorf("%s: %w", st.what, err)
			}
		}
		return w, nil
	})
}

// unwind sends rows to an UNWIND statement as $rows, BatchRows at a time,
// with the statement's other parameters.
func (s *Store) unwind(ctx context.Context, tx driver.ManagedTransaction, stmt string, rows []map[string]any, params map[string]any) error {
	for start := 0; start < len(rows); start += s.rows {
		end := min(start+s.rows, len(rows))
		p := make(map[string]any, len(params)+1)
		for k, v := range params {
			p[k] = v
		}
		p["rows"] = rows[start:end]
		res, err := tx.Run(ctx, stmt, p)
		if err != nil {
			return err
		}
		if _, err := res.Consume(ctx); err != nil {
			return err
		}
	}
	return nil
}

// lockEvents write-locks the stored events with the given IDs and returns
// them.
func (s *Store) lockEvents(ctx context.Context, tx driver.ManagedTransaction, ids []string) (map[string]graph.Event, error) {
	stored := make(map[string]graph.Event)
	for start := 0; start < len(ids); start += s.rows {
		end := min(start+s.rows, len(ids))
		recs, err := run(ctx, tx, cypherLockEvents, map[string]any{"ids": ids[start:end]})
		if err != nil {
			return nil, fmt.Errorf("reading stored events: %w", err)
		}
		for _, r := range recs {
			e, err := eventFromRecord(r)
			if err != nil {
				return nil, err
			}
			stored[e.ID] = e
		}
	}
	return stored, nil
}

// mergeEvents applies the batch's events, in order, to what is stored, and
// returns what the write does and the events to store (each once, as it
// ends up). With replace (graph.Batch.Replace), an event's first copy in
// the batch replaces the stored one rather than merging with it.
func mergeEvents(stored map[string]graph.Event, events []graph.Event, replace bool) (graph.Written, []graph.Event) {
	var w graph.Written
	current := make(map[string]graph.Event, len(stored)+len(events))
	for id, e := range stored {
		current[id] = e
	}
	var order []string
	// dirty: changed by this batch; seen: met in this batch.
	dirty := make(map[string]bool)
	seen := make(map[string]bool)
	for _, e := range events {
		e.At = e.At.UTC()
		if e.End != nil {
			end := e.End.UTC()
			e.End = &end
		}
		old, ok := current[e.ID]
		merge := graph.Merge
		if replace && !seen[e.ID] {
			merge = graph.Replace
		}
		seen[e.ID] = true
		if !ok {
			current[e.ID] = e
			w.Inserted++
			w.New = append(w.New, e)
		} else if merged, changed := merge(old, e); changed {
			current[e.ID] = merged
			w.Updated++
			w.New = append(w.New, merged)
		} else {
			w.Duplicates++
			continue
		}
		if !dirty[e.ID] {
			dirty[e.ID] = true
			order = append(order, e.ID)
		}
	}
	changed := make([]graph.Event, len(order))
	for i, id := range order {
		changed[i] = current[id]
	}
	return w, changed
}

// eventIDs lists the distinct event IDs of a batch.
func eventIDs(events []graph.Event) []string {
	seen := make(map[string]bool, len(events))
	ids := make([]string, 0, len(events))
	for _, e := range events {
		if !seen[e.ID] {
			seen[e.ID] = true
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// serviceSeen accumulates what a batch says about one service.
type serviceSeen struct {
	first, last time.Time
	env, owner  string
	// override is set when a service entry gave the environment: it then
	// replaces a stored one, where an event's environment only fills a gap.
	override bool
}

func (v *serviceSeen) saw(first, last time.Time) {
	first, last = first.UTC(), last.UTC()
	if v.first.IsZero() || first.Before(v.first) {
		v.first = first
	}
	if last.After(v.last) {
		v.last = last
	}
}

// serviceRows records every service the batch names, with the earliest and
// latest instants it saw them at, in name order (a stable lock order).
// Services known only from a declared dependency, and service entries
// without times, are seen at now.
func serviceRows(b graph.Batch, now time.Time) []map[string]any {
	seen := make(map[string]*serviceSeen)
	get := func(name string) *serviceSeen {
		v := seen[name]
		if v == nil {
			v = &serviceSeen{}
			seen[name] = v
		}
		return v
	}
	for _, e := range b.Events {
		v := get(e.Service)
		v.saw(e.At, e.At)
		if e.Environment != "" && !v.override && v.env == "" {
			v.env = e.Environment
		}
	}
	for _, d := range b.Dependencies {
		get(d.From).saw(now, now)
		get(d.To).saw(now, now)
	}
	for _, c := range b.Calls {
		start := c.Start.UTC().Truncate(graph.BucketWidth)
		get(c.From).saw(start, start)
		get(c.To).saw(start, start)
	}
	for _, sv := range b.Services {
		v := get(sv.Name)
		v.saw(sv.Seen(now))
		if sv.Environment != "" {
			v.env = sv.Environment
		}
		if sv.Owner != "" {
			v.owner = sv.Owner
		}
		v.override = true
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	rows := make([]map[string]any, len(names))
	for i, name := range names {
		v := seen[name]
		rows[i] = map[string]any{
			"name": name, "firstSeen": timeOrNil(v.first), "lastSeen": timeOrNil(v.last),
			"environment": v.env, "override": v.override, "owner": v.owner,
		}
	}
	return rows
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// dependencyRows are the declared edges, the last source of a repeated
// edge winning.
func dependencyRows(deps []graph.Dependency) []map[string]any {
	rows := make([]map[string]any, len(deps))
	for i, d := range deps {
		rows[i] = map[string]any{"from": d.From, "to": d.To, "source": d.Source}
	}
	return rows
}

// callEdgeRows are the edges the call buckets are on, in (from, to)
// order, each with its earliest and latest bucket start and the
// connection type code of its latest bucket (the highest of that start).
func callEdgeRows(calls []graph.CallBucket) []map[string]any {
	type span struct {
		first, last time.Time
		conn        graph.ConnectionType
	}
	spans := make(map[[2]string]span)
	for _, c := range calls {
		start := c.Start.UTC().Truncate(graph.BucketWidth)
		k := [2]string{c.From, c.To}
		sp, ok := spans[k]
		if !ok {
			spans[k] = span{start, start, c.ConnectionType}
			continue
		}
		if start.Before(sp.first) {
			sp.first = start
		}
		if c.ConnectionType.Supersedes(start, sp.conn, sp.last) {
			sp.conn = c.ConnectionType
		}
		if start.After(sp.last) {
			sp.last = start
		}
		spans[k] = sp
	}
	keys := make([][2]string, 0, len(spans))
	for k := range spans {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	rows := make([]map[string]any, len(keys))
	for i, k := range keys {
		sp := spans[k]
		rows[i] = map[string]any{"from": k[0], "to": k[1], "firstSeen": sp.first, "lastSeen": sp.last,
			"connection": int64(sp.conn.Code())}
	}
	return rows
}

// bucketsPerHour is how many call buckets one hour holds: the length of
// the per-minute lists of a stored bucket row.
const bucketsPerHour = int(time.Hour / graph.BucketWidth)

// callHour gathers the buckets a batch has for one (from, to, hour,
// producer) bucket row.
type callHour struct {
	from, to, producer string
	hour               time.Time
	// minute holds the buckets' minutes of the hour and bucket the
	// buckets, in batch order.
	minute []int
	bucket []*graph.CallBucket
}

// callHourRows groups the call buckets into bucket rows, one per (from,
// to, hour, producer), in key order (a stable lock order). A bucket
// repeated within the batch (same edge, minute and producer) keeps its
// last counts, as it would across batches.
//
// A row carries only the minutes the batch has: calls, errors and
// latencySum hold one value per such minute, in minute order, and latency
// graph.LatencyBuckets values per such minute (nil when none of them has
// a histogram). runs says where those minutes go: each run is minutes
// [minute, minute+length) of the hour, at [offset, offset+length) of the
// lists.
func callHourRows(calls []graph.CallBucket) []map[string]any {
	hours := make(map[string]*callHour)
	for i := range calls {
		c := &calls[i]
		start := c.Start.UTC().Truncate(graph.BucketWidth)
		hour := start.Truncate(time.Hour)
		key := callKey(c.From, c.To, hour, c.Producer)
		h := hours[key]
		if h == nil {
			h = &callHour{from: c.From, to: c.To, producer: c.Producer, hour: hour}
			hours[key] = h
		}
		h.minute = append(h.minute, int(start.Sub(hour)/graph.BucketWidth))
		h.bucket = append(h.bucket, c)
	}
	keys := make([]string, 0, len(hours))
	for k := range hours {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([]map[string]any, len(keys))
	for i, k := range keys {
		rows[i] = hours[k].row(k)
	}
	return rows
}

// row is the parameter map that stores h under key.
func (h *callHour) row(key string) map[string]any {
	// The last bucket of each minute, by minute.
	var last [bucketsPerHour]*graph.CallBucket
	for i, m := range h.minute {
		last[m] = h.bucket[i]
	}
	var (
		calls, errs, sums, latency []int64
		runs                       []map[string]any
		histogram                  bool
	)
	for m := 0; m < bucketsPerHour; m++ {
		c := last[m]
		if c == nil {
			continue
		}
		if m == 0 || last[m-1] == nil {
			runs = append(runs, map[string]any{"minute": int64(m), "offset": int64(len(calls)), "length": int64(0)})
		}
		run := runs[len(runs)-1]
		run["length"] = run["length"].(int64) + 1
		calls = append(calls, c.Calls)
		errs = append(errs, c.Errors)
		sums = append(sums, int64(c.LatencySum))
		latency = append(latency, c.Latency[:]...)
		if c.Latency != ([graph.LatencyBuckets]int64{}) {
			histogram = true
		}
	}
	row := map[string]any{
		"key": key, "from": h.from, "to": h.to, "hour": h.hour, "producer": h.producer,
		"calls": calls, "errors": errs, "latencySum": sums, "latency": nil, "runs": runs,
	}
	if histogram {
		row["latency"] = latency
	}
	return row
}

// callKey identifies a bucket row: the same edge, hour and producer is
// the same row. The hour is written to the hour only, so no key equals one
// of the former per-minute layout.
func callKey(from, to string, hour time.Time, producer string) string {
	return from + "\x00" + to + "\x00" + hour.UTC().Format("2006-01-02T15") + "\x00" + producer
}
