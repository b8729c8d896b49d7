package pebble

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// TestWritesCommit checks a batch of changes against a plain map: keys
// that are prefixes of each other, hold zero bytes or share their first
// eight bytes land in byte order, and the last change to a key wins.
func TestWritesCommit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alphabet := []byte{0, 1, 'a', 'b', 0xFF}
	model := map[string][]byte{}
	for round := range 20 {
		var w writes
		for i := range 500 {
			key := make([]byte, r.IntN(12))
			for j := range key {
				key[j] = alphabet[r.IntN(len(alphabet))]
			}
			if r.IntN(4) == 0 {
				w.del(key)
				delete(model, string(key))
				continue
			}
			v := []byte{byte(round), byte(i)}
			w.set(key, v)
			model[string(key)] = v
		}
		refs := w.sorted()
		for i := 1; i < len(refs); i++ {
			a, b := refs[i-1].i, refs[i].i
			if c := bytes.Compare(w.ops[a].key, w.ops[b].key); c > 0 || (c == 0 && a > b) {
				t.Fatalf("changes out of order: %q (#%d) before %q (#%d)", w.ops[a].key, a, w.ops[b].key, b)
			}
		}
		if err := w.commit(db); err != nil {
			t.Fatal(err)
		}
	}
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
		if want, ok := model[string(it.Key())]; !ok || !bytes.Equal(it.Value(), want) {
			t.Errorf("key %q = %v; model has %v (%v)", it.Key(), it.Value(), want, ok)
		}
	}
	if n != len(model) {
		t.Errorf("%d keys stored; model has %d", n, len(model))
	}
}
