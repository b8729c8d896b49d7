package pebble

import (
	"encoding/hex"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// knownIDs is a Bloom filter of every event ID ever stored, so that Apply
// can skip the point read that tells a new event from a repeat: most
// writes are of new events, and a read that finds nothing costs as much as
// one that finds something. A "maybe" still reads; retention's deletions
// only leave false maybes behind. It grows by adding layers, each sized
// for the IDs it will hold (16 bits per ID, 7 probes: about 0.1% false
// maybes). Event IDs are already uniformly random hex, so their bytes are
// the hash. Used under Store.mu.
type knownIDs struct {
	layers []*idLayer
}

type idLayer struct {
	bits     []uint64
	mask     uint64
	count    int
	capacity int
}

const (
	knownProbes   = 7
	knownMinLayer = 1 << 20
)

func newIDLayer(capacity int) *idLayer {
	n := uint64(1)
	for n < uint64(capacity)*16 {
		n <<= 1
	}
	return &idLayer{bits: make([]uint64, n/64), mask: n - 1, capacity: capacity}
}

// probes derives the filter positions from an ID's first 16 bytes of hex
// (64 random bits each half); IDs that are not hex fall back to FNV-like
// mixing of their bytes.
func probes(id string) (h1, h2 uint64) {
	var buf [8]byte
	if len(id) >= 32 {
		if _, err := hex.Decode(buf[:], []byte(id[:16])); err == nil {
			h1 = leUint64(buf[:])
			if _, err := hex.Decode(buf[:], []byte(id[16:32])); err == nil {
				return h1, leUint64(buf[:]) | 1
			}
		}
	}
	h1, h2 = 14695981039346656037, 1099511628211
	for i := 0; i < len(id); i++ {
		h1 = (h1 ^ uint64(id[i])) * 1099511628211
		h2 = (h2 ^ uint64(id[i])) * 14695981039346656037
	}
	return h1, h2 | 1
}

func leUint64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func (l *idLayer) add(h1, h2 uint64) {
	for i := uint64(0); i < knownProbes; i++ {
		p := (h1 + i*h2) & l.mask
		l.bits[p/64] |= 1 << (p % 64)
	}
	l.count++
}

func (l *idLayer) has(h1, h2 uint64) bool {
	for i := uint64(0); i < knownProbes; i++ {
		p := (h1 + i*h2) & l.mask
		if l.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// add records id as stored.
func (k *knownIDs) add(id string) {
	top := k.layers[len(k.layers)-1]
	if top.count >= top.capacity {
		top = newIDLayer(2 * top.capacity)
		k.layers = append(k.layers, top)
	}
	top.add(probes(id))
}

// mayHave reports whether id may be stored; false means it certainly is
// not.
func (k *knownIDs) mayHave(id string) bool {
	h1, h2 := probes(id)
	for _, l := range k.layers {
		if l.has(h1, h2) {
			return true
		}
	}
	return false
}

// loadKnownIDs builds the filter from the event table.
func loadKnownIDs(db *pebble.DB) (_ *knownIDs, err error) {
	prefix := []byte{tableEvent}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("load event ids: %w", err)
	}
	defer closeIter(it, "load event ids", &err)
	k := &knownIDs{layers: []*idLayer{newIDLayer(knownMinLayer)}}
	for it.First(); it.Valid(); it.Next() {
		k.add(string(it.Key()[1:]))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("load event ids: %w", err)
	}
	return k, nil
}
