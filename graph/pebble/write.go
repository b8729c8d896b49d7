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

type op struct {
	// head is the key's first eight bytes as a number (zero-padded), so
	// the sort settles most comparisons without touching the key.
	head       uint64
	key, value []byte
	del        bool
	seq        int // order of the change, so the last to a key wins
}

func keyHead(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

func (w *writes) set(key, value []byte) {
	w.ops = append(w.ops, op{head: keyHead(key), key: key, value: value, seq: len(w.ops)})
	w.size += len(key) + len(value)
}

func (w *writes) del(key []byte) {
	w.ops = append(w.ops, op{head: keyHead(key), key: key, del: true, seq: len(w.ops)})
	w.size += len(key)
}

// commit writes the collected changes as one batch and waits until the
// batch is durable. Of several changes to one key the last wins.
func (w *writes) commit(db *pebble.DB) error {
	if len(w.ops) == 0 {
		return nil
	}
	slices.SortFunc(w.ops, func(a, b op) int {
		// Zero padding keeps head order consistent with byte order; equal
		// heads need the whole keys ("ab" sorts before "ab\x00").
		if a.head != b.head {
			return cmp.Compare(a.head, b.head)
		}
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	b := db.NewBatchWithSize(w.size + len(w.ops)*16)
	defer b.Close()
	for i, o := range w.ops {
		if i+1 < len(w.ops) && bytes.Equal(o.key, w.ops[i+1].key) {
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
