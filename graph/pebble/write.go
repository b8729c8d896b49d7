package pebble

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
)

// writes collects one Apply's changes so they reach the database in key
// order: Pebble inserts a key-ordered batch into its memtable much faster
// than a random one, because each insert starts from the previous one's
// position.
type writes struct {
	ops  []op
	size int
}

// op is one change; its place in ops is its order, so the last to a key
// wins.
type op struct {
	key, value []byte
	del        bool
}

// opRef is what the sort moves: the change's place and its key's first
// eight bytes as a number (zero-padded), which settles most comparisons
// without touching the key. Sixteen bytes swap faster than an op.
type opRef struct {
	head uint64
	i    int
}

func keyHead(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

func (w *writes) set(key, value []byte) {
	w.ops = append(w.ops, op{key: key, value: value})
	w.size += len(key) + len(value)
}

func (w *writes) del(key []byte) {
	w.ops = append(w.ops, op{key: key, del: true})
	w.size += len(key)
}

// sorted returns the changes in key order, those to one key in the order
// they were made.
func (w *writes) sorted() []opRef {
	refs := make([]opRef, len(w.ops))
	for i := range w.ops {
		refs[i] = opRef{head: keyHead(w.ops[i].key), i: i}
	}
	slices.SortFunc(refs, func(a, b opRef) int {
		// Zero padding keeps head order consistent with byte order; equal
		// heads need the whole keys ("ab" sorts before "ab\x00").
		if a.head != b.head {
			return cmp.Compare(a.head, b.head)
		}
		if c := bytes.Compare(w.ops[a.i].key, w.ops[b.i].key); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	return refs
}

// commit writes the collected changes as one batch and waits until the
// batch is durable. Of several changes to one key the last wins.
func (w *writes) commit(db *pebble.DB) error {
	if len(w.ops) == 0 {
		return nil
	}
	refs := w.sorted()
	b := db.NewBatchWithSize(w.size + len(w.ops)*16)
	defer b.Close()
	for n, r := range refs {
		o := &w.ops[r.i]
		if n+1 < len(refs) && bytes.Equal(o.key, w.ops[refs[n+1].i].key) {
			continue // a later change to the same key supersedes this one
		}
		var err error
		if o.del {
			err = b.Delete(o.key, nil)
		} else {
			err = b.Set(o.key, o.value, nil)
		}
		if err != nil {
			return fmt.Errorf("build batch: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}
