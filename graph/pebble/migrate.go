package pebble

import (
	"bytes"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble"
)

// Stores written before call buckets were split (see applyCalls) hold full
// chunks in tables o and i and nothing in table l. splitCalls rewrites
// them once, when the store opens: each full chunk moves to table l and
// both count tables get its counts. It works in batches that are each
// durable and idempotent (a chunk already split is skipped), so a crash
// midway only means the next open finishes the job; a metadata key
// records that it is done, so later opens do not scan.

// splitCallsKey marks a store whose call buckets are all split.
func splitCallsKey() []byte { return append([]byte{tableMeta}, "calls-split"...) }

// splitCalls rewrites unsplit call buckets and returns how many chunks it
// rewrote.
func splitCalls(db *pebble.DB, log *slog.Logger) (_ int, err error) {
	if _, done, err := get(db, splitCallsKey()); err != nil || done {
		return 0, err
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableCallsOut}, UpperBound: []byte{tableCallsOut + 1}})
	if err != nil {
		return 0, err
	}
	defer closeIter(it, "split call buckets", &err)
	var w writes
	rewritten := 0
	flush := func() error {
		err := w.commit(db)
		w = writes{}
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := chunkVersion(it.Value())
		if err != nil {
			return rewritten, fmt.Errorf("call bucket %q: %w", it.Key(), err)
		}
		if isCounts(v) {
			continue
		}
		key := bytes.Clone(it.Key())
		in, ok := inKey(key)
		if !ok {
			return rewritten, fmt.Errorf("call bucket key %q: %w", key, errCorrupt)
		}
		slots, err := decodeChunk(it.Value())
		if err != nil {
			return rewritten, fmt.Errorf("call bucket %q: %w", key, err)
		}
		whole := append([]byte{tableLatency}, key[1:]...)
		w.set(whole, bytes.Clone(it.Value()))
		counts := encodeCounts(slots)
		w.set(key, counts)
		w.set(in, counts)
		rewritten++
		if len(w.ops) >= deleteChunk {
			if err := flush(); err != nil {
				return rewritten, err
			}
			log.Info("embedded store: splitting call buckets", "chunks", rewritten)
		}
	}
	if err := it.Error(); err != nil {
		return rewritten, fmt.Errorf("read call buckets: %w", err)
	}
	w.set(splitCallsKey(), []byte{1})
	if err := flush(); err != nil {
		return rewritten, err
	}
	if rewritten > 0 {
		log.Info("embedded store: split call buckets into counts and latencies", "chunks", rewritten)
	}
	return rewritten, nil
}

// inKey returns the table i key of a table o key:
// o <from> 0 <hour> <to> 0 <producer> becomes i <to> 0 <hour> <from> 0 <producer>.
func inKey(out []byte) ([]byte, bool) {
	k := out[1:]
	nul := bytes.IndexByte(k, nameTerminator)
	if nul < 0 || len(k) < nul+1+8 {
		return nil, false
	}
	from, hour, rest := k[:nul], k[nul+1:nul+1+8], k[nul+1+8:]
	nul = bytes.IndexByte(rest, nameTerminator)
	if nul < 0 {
		return nil, false
	}
	to, producer := rest[:nul], rest[nul+1:]
	in := make([]byte, 0, len(out))
	in = append(in, tableCallsIn)
	in = append(append(in, to...), nameTerminator)
	in = append(in, hour...)
	in = append(append(in, from...), nameTerminator)
	return append(in, producer...), true
}
