package pebble

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

func TestKnownIDsHasNoFalseNegatives(t *testing.T) {
	k := &knownIDs{layers: []*idLayer{newIDLayer(1000)}}
	id := func(i int) string {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		return hex.EncodeToString(h[:12])
	}
	const n = 50_000 // forces several layers
	for i := range n {
		k.add(id(i))
	}
	if len(k.layers) < 3 {
		t.Fatalf("the filter did not grow: %d layers", len(k.layers))
	}
	for i := range n {
		if !k.mayHave(id(i)) {
			t.Fatalf("stored id %d reported absent", i)
		}
	}
	fps := 0
	for i := n; i < 2*n; i++ {
		if k.mayHave(id(i)) {
			fps++
		}
	}
	if rate := float64(fps) / n; rate > 0.01 {
		t.Errorf("false maybe rate %.4f, want < 1%%", rate)
	}
	if k.mayHave("not-hex") {
		t.Error("a never-added non-hex id is reported present")
	}
	k.add("not-hex")
	if !k.mayHave("not-hex") {
		t.Error("non-hex ids must work too")
	}
}
