package pebble

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// jsonRoundTrip is what attributes read back as when stored as JSON.
func jsonRoundTrip(t testing.TB, attrs map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAttrs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		attrs  map[string]any
		tagged bool // stored in the tagged form, not as JSON
	}{
		{"decoded JSON", map[string]any{
			"revision": "3f2a9c1", "replicas": float64(12), "ratio": 0.25, "neg": -1e300, "zero": math.Copysign(0, -1),
			"canary": true, "paused": false, "owner": nil, "tags": []any{"a", float64(1), nil, []any{}},
			"nested": map[string]any{"deep": map[string]any{"k": "v"}, "empty": map[string]any{}}, "": "empty key",
			"unicode": "é → ✓ \u2028", "html": "<a href='x'>&</a>",
		}, true},
		{"a Go int", map[string]any{"replicas": 12, "name": "x"}, false},
		{"an int64 deep down", map[string]any{"a": []any{map[string]any{"n": int64(1 << 60)}}}, false},
		{"invalid UTF-8 value", map[string]any{"s": "a\xffb"}, false},
		{"invalid UTF-8 key", map[string]any{"\xfe": "x"}, false},
		{"a string slice", map[string]any{"tags": []string{"a", "b"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := appendAttrs(nil, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if tagged := len(b) > 0 && b[0] == attrObject; tagged != tc.tagged {
				t.Fatalf("stored %q: tagged %v, want %v", b, tagged, tc.tagged)
			}
			got, err := decodeAttrs(b)
			if err != nil {
				t.Fatal(err)
			}
			if want := jsonRoundTrip(t, tc.attrs); !reflect.DeepEqual(got, want) {
				t.Fatalf("read back %#v\nwant (as through JSON) %#v", got, want)
			}
		})
	}
	if b, err := appendAttrs(nil, map[string]any{}); err != nil || len(b) != 0 {
		t.Errorf("empty attributes stored as %q, %v; want nothing", b, err)
	}
	if _, err := appendAttrs(nil, map[string]any{"x": math.NaN()}); err == nil {
		t.Error("NaN stored; JSON cannot hold it and it must be refused as before")
	}
	// What earlier versions wrote still reads.
	if got, err := decodeAttrs([]byte(`{"a":1,"b":["x"]}`)); err != nil || !reflect.DeepEqual(got, map[string]any{"a": float64(1), "b": []any{"x"}}) {
		t.Errorf("JSON attributes read as %#v, %v", got, err)
	}
	for _, bad := range [][]byte{{attrObject}, {attrObject, 1}, {attrObject, 1, 1, 'k'}, {attrObject, 0, 'z'}, {attrString, 0}, {attrObject, 9}, {'q'}} {
		if _, err := decodeAttrs(bad); err == nil {
			t.Errorf("decodeAttrs(%q) accepted corrupt input", bad)
		}
	}
}

// FuzzAttrs holds the tagged form to JSON: any object JSON decodes reads
// back from the store exactly as it would through JSON, and no stored
// bytes make the reader panic.
func FuzzAttrs(f *testing.F) {
	f.Add([]byte(`{"revision":"abc","replicas":3,"canary":true,"x":null,"tags":["a",1.5,{"k":[]}]}`))
	f.Add([]byte(`{"":{"":{"":[[[]]]}}}`))
	f.Add([]byte(`{"s":"\ud83d\ude00 \u0000 <>&"}`))
	f.Add([]byte{attrObject, 1, 1, 'k', attrArray, 2, attrTrue, attrNull})
	f.Fuzz(func(t *testing.T, in []byte) {
		var attrs map[string]any
		if json.Unmarshal(in, &attrs) == nil && attrs != nil {
			b, err := appendAttrs(nil, attrs)
			if err != nil {
				t.Fatalf("decoded JSON %q did not encode: %v", in, err)
			}
			got, err := decodeAttrs(b)
			if err != nil {
				t.Fatalf("stored form of %q did not read: %v", in, err)
			}
			if want := jsonRoundTrip(t, attrs); len(want) > 0 && !reflect.DeepEqual(got, want) {
				t.Fatalf("%q read back as %#v, want %#v", in, got, want)
			}
		}
		// Arbitrary stored bytes: an error or a map, never a panic.
		if m, err := decodeAttrs(in); err == nil && m == nil && len(in) > 0 {
			t.Fatalf("decodeAttrs(%q) gave neither attributes nor an error", in)
		}
	})
}
