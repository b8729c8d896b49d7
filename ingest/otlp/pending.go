package otlp

// spanKey identifies a span: its trace id and its span id. A caller is
// stored under its own id, a callee under its parent's, so the two halves
// of a call meet under one key.
type spanKey [24]byte

func newKey(trace, span []byte) spanKey {
	var k spanKey
	copy(k[:16], trace)
	copy(k[16:], span)
	return k
}

// entry is what the pending store holds for one key: the caller, if it has
// arrived, and the callees waiting for it.
type entry struct {
	key       spanKey
	caller    side
	hasCaller bool
	callees   []side
	// at is when the entry was made (clock nanoseconds); it expires Wait
	// later.
	at         int64
	prev, next *entry
}

// pendingStore is a map of entries threaded on a list in insertion order,
// so the oldest is found and removed in constant time.
type pendingStore struct {
	m          map[spanKey]*entry
	head, tail *entry // head is the oldest
}

func newPendingStore(capacity int) pendingStore {
	return pendingStore{m: make(map[spanKey]*entry, capacity)}
}

func (p *pendingStore) len() int { return len(p.m) }

func (p *pendingStore) get(k spanKey) *entry { return p.m[k] }

// insert adds an empty entry for k made at instant at. Insertion instants
// come from one clock and are non-decreasing, so the list stays in expiry
// order.
func (p *pendingStore) insert(k spanKey, at int64) *entry {
	e := &entry{key: k, at: at, prev: p.tail}
	if p.tail != nil {
		p.tail.next = e
	} else {
		p.head = e
	}
	p.tail = e
	p.m[k] = e
	return e
}

func (p *pendingStore) remove(k spanKey, e *entry) {
	if p.m[k] != e {
		return
	}
	delete(p.m, k)
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		p.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		p.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (p *pendingStore) oldest() (bool, *entry) {
	return p.head != nil, p.head
}
