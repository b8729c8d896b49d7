package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func TestDecodeCanonical(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantItems int
		wantErrs  int    // items with an error
		bodyErr   string // substring of the body error, if one is expected
	}{
		{"one object", `{"kind":"deploy","service":"a","at":"2026-11-21T11:00:00Z","source":"ci"}`, 1, 0, ""},
		{"array", `[{"kind":"deploy","service":"a","at":"2026-11-21T11:00:00Z","source":"ci"},{"kind":"scale","service":"b","at":"2026-11-21T11:00:00Z","source":"k"}]`, 2, 0, ""},
		{"NDJSON with blank lines", "{\"kind\":\"deploy\",\"service\":\"a\",\"at\":\"2026-11-21T11:00:00Z\",\"source\":\"ci\"}\n\n  \n{\"kind\":\"flag\",\"service\":\"a\",\"at\":\"2026-11-21T11:00:00Z\",\"source\":\"ld\"}\n", 2, 0, ""},
		{"NDJSON bad line keeps the good ones", "{\"kind\":\"deploy\",\"service\":\"a\",\"at\":\"2026-11-21T11:00:00Z\",\"source\":\"ci\"}\n{oops\n", 2, 1, ""},
		{"declared dependency", `{"kind":"dependency","service":"checkout","attributes":{"target":"payments"}}`, 1, 0, ""},
		{"dependency without target", `{"kind":"dependency","service":"checkout"}`, 1, 1, ""},
		{"unknown field", `{"kind":"deploy","service":"a","at":"2026-11-21T11:00:00Z","source":"ci","colour":"red"}`, 1, 1, ""},
		{"unknown kind", `{"kind":"meteor","service":"a","at":"2026-11-21T11:00:00Z","source":"ci"}`, 1, 1, ""},
		{"missing kind", `{"service":"a","at":"2026-11-21T11:00:00Z","source":"ci"}`, 1, 1, ""},
		{"attributes not an object", `{"kind":"deploy","service":"a","at":"2026-11-21T11:00:00Z","source":"ci","attributes":"x"}`, 1, 1, ""},
		{"empty array", `[]`, 0, 0, ""},
		{"empty body", "  \n", 0, 0, "empty body"},
		{"not JSON", `kind=deploy`, 0, 0, "not JSON"},
		{"broken array", `[{"kind":"deploy"`, 0, 0, "JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := DecodeCanonical([]byte(tt.body), testNow)
			checkItems(t, items, err)
			if tt.bodyErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bodyErr) {
					t.Fatalf("body error = %v, want one containing %q", err, tt.bodyErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("body error: %v", err)
			}
			errs := 0
			for _, it := range items {
				if it.Err != nil {
					errs++
				}
			}
			if len(items) != tt.wantItems || errs != tt.wantErrs {
				t.Errorf("got %d items with %d errors, want %d with %d: %+v", len(items), errs, tt.wantItems, tt.wantErrs, items)
			}
		})
	}
}

// Without an id, a resend of the same event is the same event; with one,
// (source, id) alone decides.
func TestCanonicalIdempotencyKey(t *testing.T) {
	body := `{"kind":"deploy","service":"payments","at":"2026-11-21T11:00:00Z","source":"ci","attributes":{"b":1,"a":2}}`
	reordered := `{"source":" ci ","attributes":{"a":2,"b":1},"at":"2026-11-21T12:00:00+01:00","service":"payments","kind":"DEPLOY"}`
	a := mustEvent(t, mustDecode(t, decodeCanonical, body, nil))
	b := mustEvent(t, mustDecode(t, decodeCanonical, reordered, nil))
	if a.ID != b.ID {
		t.Errorf("the same event spelt differently got IDs %s and %s", a.ID, b.ID)
	}
	other := mustEvent(t, mustDecode(t, decodeCanonical, strings.Replace(body, `"a":2`, `"a":3`, 1), nil))
	if other.ID == a.ID {
		t.Error("events with different attributes share an ID")
	}
	withID1 := mustEvent(t, mustDecode(t, decodeCanonical, `{"id":"d-1","kind":"deploy","service":"payments","at":"2026-11-21T11:00:00Z","source":"ci","summary":"one"}`, nil))
	withID2 := mustEvent(t, mustDecode(t, decodeCanonical, `{"id":"d-1","kind":"deploy","service":"payments","at":"2026-11-21T11:30:00Z","source":"ci","summary":"two"}`, nil))
	if withID1.ID != withID2.ID {
		t.Error("two versions of one source id got different IDs")
	}
}

func TestCanonicalErrorsAreUndecodableOnlyForShape(t *testing.T) {
	items := mustDecode(t, decodeCanonical, "{bad\n{\"kind\":\"meteor\",\"service\":\"a\",\"at\":\"2026-11-21T11:00:00Z\",\"source\":\"x\"}", nil)
	if len(items) != 2 {
		t.Fatalf("got %d items", len(items))
	}
	if !errors.Is(items[0].Err, ErrUndecodable) {
		t.Errorf("malformed line error %v is not ErrUndecodable", items[0].Err)
	}
	if errors.Is(items[1].Err, ErrUndecodable) || !errors.Is(items[1].Err, graph.ErrInvalid) {
		t.Errorf("unknown kind error %v should be invalid but decodable", items[1].Err)
	}
}

func FuzzDecodeCanonical(f *testing.F) {
	seedCorpus(f, FormatCanonical)
	f.Add([]byte("{}\n{}"), "")
	f.Add([]byte(`[null, 1, "x", {}]`), "")
	f.Fuzz(func(t *testing.T, body []byte, _ string) {
		items, err := DecodeCanonical(body, testNow)
		checkItems(t, items, err)
	})
}

func BenchmarkDecodeCanonical(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, `{"id":"deploy-%d","kind":"deploy","service":"svc-%d","environment":"prod","at":"2026-11-21T11:%02d:00Z","source":"argo-cd","summary":"svc-%d 1.%d.0 deployed","attributes":{"version":"1.%d.0","team":"core"}}`+"\n", i, i%40, i%60, i%40, i, i)
	}
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := DecodeCanonical(body, testNow)
		if err != nil || len(items) != 1000 || items[999].Event == nil {
			b.Fatalf("decode: %v, %d items", err, len(items))
		}
	}
}
