package pebble

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
)

// indexEntries returns the index keys of e and their shared value.
func indexEntries(e *graph.Event) ([][]byte, []byte) {
	k, _ := kindByte(e.Kind)
	return [][]byte{
		indexKey(serviceEventsPrefix(e.Service), e.At, e.ID),
		indexKey(kindPrefix(k), e.At, e.ID),
	}, encodeMeta(e)
}

// applyEvents merges events into the batch. Called with s.mu held.
// With replace (graph.Batch.Replace), an event's first copy in the batch
// replaces the stored one rather than merging with it.
func (s *Store) applyEvents(batch *writes, events []graph.Event, replace bool, w *graph.Written, seen *sightings) error {
	type state struct {
		stored  *graph.Event // as on disk before this batch
		current graph.Event
		changed bool
	}
	stored, err := s.lookupEvents(events)
	if err != nil {
		return err
	}
	touched := make(map[string]*state, len(events))
	order := make([]string, 0, len(events))
	for i := range events {
		in := events[i]
		in.At = in.At.UTC()
		if in.End != nil {
			end := in.End.UTC()
			in.End = &end
		}
		seen.see(in.Service, in.At, in.At)
		seen.describe(in.Service, in.Environment, "", false)
		st, ok := touched[in.ID]
		if !ok {
			old, found := stored[in.ID]
			if !found {
				touched[in.ID] = &state{current: in, changed: true}
				order = append(order, in.ID)
				w.Inserted++
				w.New = append(w.New, in)
				continue
			}
			st = &state{stored: &old, current: old}
			touched[in.ID] = st
			order = append(order, in.ID)
			if replace {
				merged, changed := graph.Replace(old, in)
				if !changed {
					w.Duplicates++
					continue
				}
				st.current, st.changed = merged, true
				w.Updated++
				w.New = append(w.New, merged)
				continue
			}
		}
		merged, changed := graph.Merge(st.current, in)
		if !changed {
			w.Duplicates++
			continue
		}
		st.current, st.changed = merged, true
		w.Updated++
		w.New = append(w.New, merged)
	}
	for _, id := range order {
		st := touched[id]
		if !st.changed {
			continue
		}
		if st.stored != nil {
			keys, _ := indexEntries(st.stored)
			for _, k := range keys {
				batch.del(k)
			}
		}
		val, err := encodeEvent(&st.current)
		if err != nil {
			return err
		}
		batch.set(eventKey(id), encodeRef(&st.current))
		// The per-service index entry carries the whole event, so the hot
		// path (a breach context: the events of a few services in a
		// window) reads one range instead of a range plus a point read per
		// event; table e only says where that entry is. The kind index
		// keeps only the meta.
		keys, m := indexEntries(&st.current)
		batch.set(keys[0], append(m[:len(m):len(m)], val...))
		for _, k := range keys[1:] {
			batch.set(k, m)
		}
	}
	return nil
}

// lookupEvents reads the stored versions of the events' IDs.
func (s *Store) lookupEvents(events []graph.Event) (map[string]graph.Event, error) {
	ids := make([]string, 0, len(events))
	uniq := make(map[string]bool, len(events))
	for i := range events {
		// An ID the filter has never seen is certainly new: no read.
		if id := events[i].ID; !uniq[id] && s.known.mayHave(id) {
			uniq[id] = true
			ids = append(ids, id)
		}
	}
	// Apply holds s.mu: nothing moves an event between the two reads.
	found, err := readEvents(s.db, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]graph.Event)
	for i, e := range found {
		if e != nil {
			out[ids[i]] = *e
		}
	}
	return out, nil
}

// readEvents reads events by ID from r, nil where absent. Point reads dominate
// both writes (which must know what is stored) and context queries, so
// large sets are read in parallel.
func readEvents(r pebble.Reader, ids []string) ([]*graph.Event, error) {
	workers := min(runtime.GOMAXPROCS(0), 4, 1+len(ids)/64)
	found := make([]*graph.Event, len(ids))
	errs := make([]error, workers)
	read := func(w int) {
		for i := w; i < len(ids); i += workers {
			e, ok, err := readEvent(r, ids[i])
			if err != nil {
				errs[w] = err
				return
			}
			if ok {
				found[i] = &e
			}
		}
	}
	if workers == 1 {
		read(0)
		return found, errs[0]
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			read(w)
		}()
	}
	wg.Wait()
	return found, errors.Join(errs...)
}

// Event returns one event by ID.
func (s *Store) Event(ctx context.Context, id string) (_ graph.Event, err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("event"); err != nil {
		return
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return graph.Event{}, err
	}
	// Two reads (the reference, then the entry) from one snapshot, so a
	// concurrent write moving the event cannot fall between them.
	snap := s.db.NewSnapshot()
	defer snap.Close()
	e, found, err := readEvent(snap, id)
	if err != nil {
		return graph.Event{}, err
	}
	if !found {
		return graph.Event{}, graph.NotFoundf("no event with id %q", id)
	}
	return e, nil
}

// encodeRef encodes what table e holds for e: its service and instant,
// which name its per-service index entry.
func encodeRef(e *graph.Event) []byte {
	b := make([]byte, 0, 1+1+len(e.Service)+8)
	b = append(b, refFormat)
	b = appendString(b, e.Service)
	return appendTime(b, e.At)
}

// readEvent reads an event by ID from r: through its reference, or
// directly where table e still holds the whole event, as it did before
// references.
func readEvent(r pebble.Reader, id string) (graph.Event, bool, error) {
	raw, found, err := get(r, eventKey(id))
	if err != nil {
		return graph.Event{}, false, fmt.Errorf("read event %s: %w", id, err)
	}
	if !found {
		return graph.Event{}, false, nil
	}
	if len(raw) > 0 && raw[0] == refFormat {
		rd := reader{b: raw[1:]}
		svc := rd.string()
		if rd.err != nil || len(rd.b) != 8 {
			return graph.Event{}, false, fmt.Errorf("event %s: reference %x: %w", id, raw, errCorrupt)
		}
		at := fromNanos(binary.BigEndian.Uint64(rd.b))
		entry, ok, err := get(r, indexKey(serviceEventsPrefix(svc), at, id))
		if err != nil {
			return graph.Event{}, false, fmt.Errorf("read event %s: %w", id, err)
		}
		m, okMeta := decodeMeta(entry)
		if !ok || !okMeta || len(entry) == m.size() {
			return graph.Event{}, false, fmt.Errorf("event %s: no index entry of %s at %s holds it: %w", id, svc, at.Format(time.RFC3339Nano), errCorrupt)
		}
		raw = entry[m.size():]
	}
	e, err := decodeEvent(raw)
	if err != nil {
		return graph.Event{}, false, fmt.Errorf("decode event %s: %w", id, err)
	}
	return e, true, nil
}

// ref is one event index entry: where an event sits in listing order.
type ref struct {
	at   uint64
	id   string
	meta meta
	// raw is the encoded event when the index entry carries it (entries
	// written before it did hold only the meta).
	raw []byte
}

// less is graph.EventLess on refs.
func (a *ref) less(b *ref) bool {
	if a.at != b.at {
		return a.at > b.at
	}
	return a.id < b.id
}

// stream walks one index backwards, which is listing order.
type stream struct {
	it     *pebble.Iterator
	prefix int
	cur    ref
	ok     bool
	err    error
}

func (st *stream) load() {
	st.ok = false
	// Error first: after a read or checksum failure a reverse step can
	// leave the iterator looking valid, and when it does stop, it stops
	// as it would at its bound.
	if err := st.it.Error(); err != nil {
		st.err = fmt.Errorf("read event index: %w", err)
		return
	}
	if !st.it.Valid() {
		return
	}
	at, id, ok1 := decodeTimeID(st.it.Key()[st.prefix:])
	v := st.it.Value()
	m, ok2 := decodeMeta(v)
	if !ok1 || !ok2 {
		st.err = fmt.Errorf("index key %q: %w", st.it.Key(), errCorrupt)
		return
	}
	st.cur, st.ok = ref{at: at, id: id, meta: m}, true
	if rest := v[m.size():]; len(rest) > 0 {
		st.cur.raw = append([]byte(nil), rest...)
	}
}

func (st *stream) next() {
	st.it.Prev()
	st.load()
}

type streamHeap []*stream

func (h streamHeap) Len() int           { return len(h) }
func (h streamHeap) Less(i, j int) bool { return h[i].cur.less(&h[j].cur) }
func (h streamHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)        { *h = append(*h, x.(*stream)) }
func (h *streamHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// scan is a merged walk over the index streams a filter needs, in
// listing order, applying the filter to each entry's meta.
type scan struct {
	streams []*stream
	h       streamHeap
	kinds   [256]bool
	anyKind bool
	open    bool
}

// scanRange is one index range a filter reads: entries under prefix
// with keys in [lower, upper).
type scanRange struct {
	prefix, lower, upper []byte
}

// scanRanges returns the index ranges f needs and a scan, without
// streams, holding f's entry filter. The cursor position, when given,
// bounds every range so the walk starts just past it.
func scanRanges(f *graph.EventFilter) (*scan, []scanRange, error) {
	sc := &scan{anyKind: len(f.Kinds) == 0, open: f.OpenOnly}
	for _, k := range f.Kinds {
		if b, ok := kindByte(k); ok {
			sc.kinds[b] = true
		}
	}
	var prefixes [][]byte
	switch {
	case len(f.Services) > 0:
		uniq := map[string]bool{}
		for _, svc := range f.Services {
			if !uniq[svc] {
				uniq[svc] = true
				prefixes = append(prefixes, serviceEventsPrefix(svc))
			}
		}
	case len(f.Kinds) > 0:
		for b, on := range sc.kinds {
			if on {
				prefixes = append(prefixes, kindPrefix(byte(b)))
			}
		}
	default:
		// Every event is under exactly one kind: all kinds are all events.
		for b := range graph.Kinds {
			prefixes = append(prefixes, kindPrefix(byte(b)))
		}
	}
	var cursor *ref
	if f.After != "" {
		at, id, err := graph.DecodeCursor(f.After)
		if err != nil {
			return nil, nil, err
		}
		cursor = &ref{at: nanos(at), id: id}
	}
	var ranges []scanRange
	for _, p := range prefixes {
		lower := append(append([]byte(nil), p...), make([]byte, 8)...)
		if !f.From.IsZero() {
			lower = appendTime(append([]byte(nil), p...), f.From)
		}
		upper := prefixEnd(p)
		if !f.To.IsZero() {
			upper = appendTime(append([]byte(nil), p...), f.To.Add(1))
		}
		if cursor != nil {
			c := appendID(appendTime(append([]byte(nil), p...), fromNanos(cursor.at)), cursor.id)
			if bytes.Compare(c, upper) < 0 {
				upper = c
			}
		}
		if bytes.Compare(lower, upper) < 0 {
			ranges = append(ranges, scanRange{prefix: p, lower: lower, upper: upper})
		}
	}
	return sc, ranges, nil
}

// newScan opens a stream per range f needs, merged in listing order.
func (s *Store) newScan(f *graph.EventFilter) (*scan, error) {
	sc, ranges, err := scanRanges(f)
	if err != nil {
		return nil, err
	}
	for _, r := range ranges {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: r.lower, UpperBound: r.upper})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("open event index: %w", err), sc.close())
		}
		st := &stream{it: it, prefix: len(r.prefix)}
		sc.streams = append(sc.streams, st)
		it.Last()
		st.load()
		if st.err != nil {
			return nil, errors.Join(st.err, sc.close())
		}
		if st.ok {
			sc.h = append(sc.h, st)
		}
	}
	heap.Init(&sc.h)
	return sc, nil
}

// collect reads the first limit entries in listing order that pass f,
// range by range with one iterator (repositioning an iterator costs less
// than opening one per range, which matters for a neighbourhood's dozens
// of services): each range gives at most limit entries, and the merge of
// those holds the first limit of all.
func (s *Store) collect(f *graph.EventFilter, limit int) (refs []ref, err error) {
	sc, ranges, err := scanRanges(f)
	if err != nil {
		return nil, err
	}
	var it *pebble.Iterator
	defer func() {
		if it != nil {
			if cerr := it.Close(); cerr != nil {
				refs, err = nil, errors.Join(err, fmt.Errorf("close event index: %w", cerr))
			}
		}
	}()
	for _, r := range ranges {
		if it == nil {
			if it, err = s.db.NewIter(&pebble.IterOptions{LowerBound: r.lower, UpperBound: r.upper}); err != nil {
				return nil, fmt.Errorf("open event index: %w", err)
			}
		} else {
			it.SetBounds(r.lower, r.upper)
		}
		st := stream{it: it, prefix: len(r.prefix)}
		n := 0
		it.Last()
		st.load()
		for st.ok && n < limit {
			if sc.keeps(&st.cur) {
				refs = append(refs, st.cur)
				n++
			}
			st.next()
		}
		if st.err != nil {
			return nil, st.err
		}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		if a.less(&b) {
			return -1
		}
		if b.less(&a) {
			return 1
		}
		return 0
	})
	return refs[:min(len(refs), limit)], nil
}

// keeps reports whether an entry passes the scan's filter.
func (sc *scan) keeps(r *ref) bool {
	return (sc.anyKind || sc.kinds[r.meta.kind]) && !(sc.open && r.meta.hasEnd)
}

// next returns the next entry that passes the filter.
func (sc *scan) next() (ref, bool, error) {
	for len(sc.h) > 0 {
		st := sc.h[0]
		r := st.cur
		st.next()
		if st.err != nil {
			return ref{}, false, st.err
		}
		if st.ok {
			heap.Fix(&sc.h, 0)
		} else {
			heap.Pop(&sc.h)
		}
		if !sc.keeps(&r) {
			continue
		}
		return r, true, nil
	}
	return ref{}, false, nil
}

// close closes every stream's iterator and returns their errors.
func (sc *scan) close() error {
	var errs []error
	for _, st := range sc.streams {
		// A stream that stopped on an error has returned it; Close
		// would only repeat it.
		if err := st.it.Close(); err != nil && st.err == nil {
			errs = append(errs, fmt.Errorf("close event index: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Events lists events in graph.EventLess order.
func (s *Store) Events(ctx context.Context, f graph.EventFilter) (page graph.Page[graph.Event], err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("events"); err != nil {
		return
	}
	defer s.leave()
	if err := f.Validate(); err != nil {
		return page, err
	}
	if err := ctx.Err(); err != nil {
		return page, err
	}
	refs, err := s.refs(&f)
	if err != nil {
		return page, fmt.Errorf("list events: %w", err)
	}
	if len(refs) > f.First {
		page.HasNext = true
		refs = refs[:f.First]
	}
	var ids []string
	for _, r := range refs {
		if r.raw == nil {
			ids = append(ids, r.id)
		}
	}
	// A snapshot, so a write moving an event cannot fall between
	// reading its reference and its entry.
	snap := s.db.NewSnapshot()
	found, err := readEvents(snap, ids)
	if cerr := snap.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close snapshot: %w", cerr))
	}
	if err != nil {
		return graph.Page[graph.Event]{}, fmt.Errorf("list events: %w", err)
	}
	page.Items = make([]graph.Event, 0, len(refs))
	for _, r := range refs {
		if r.raw != nil {
			e, err := decodeEvent(r.raw)
			if err != nil {
				return graph.Page[graph.Event]{}, fmt.Errorf("list events: event %s: %w", r.id, err)
			}
			page.Items = append(page.Items, e)
			continue
		}
		// An indexed event that is gone was removed by retention between
		// the index read and this one.
		if e := found[0]; e != nil {
			page.Items = append(page.Items, *e)
		}
		found = found[1:]
	}
	return page, nil
}

// refs returns the first f.First+1 index entries f selects, in listing
// order: gathered service by service when f names several services,
// merged from one stream per range otherwise.
func (s *Store) refs(f *graph.EventFilter) (refs []ref, err error) {
	if len(f.Services) > 1 {
		return s.collect(f, f.First+1)
	}
	sc, err := s.newScan(f)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := sc.close(); cerr != nil {
			refs, err = nil, errors.Join(err, cerr)
		}
	}()
	refs = make([]ref, 0, min(f.First, 256))
	for len(refs) <= f.First {
		r, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// CountEvents counts what Events would list, ignoring First and After. It
// reads only index entries.
func (s *Store) CountEvents(ctx context.Context, f graph.EventFilter) (n int, err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("count events"); err != nil {
		return
	}
	defer s.leave()
	f.First, f.After = 1, ""
	if err := f.Validate(); err != nil {
		return 0, err
	}
	sc, err := s.newScan(&f)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := sc.close(); cerr != nil {
			n, err = 0, errors.Join(err, fmt.Errorf("count events: %w", cerr))
		}
	}()
	for {
		_, ok, err := sc.next()
		if err != nil {
			return 0, fmt.Errorf("count events: %w", err)
		}
		if !ok {
			return n, nil
		}
		n++
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
	}
}
