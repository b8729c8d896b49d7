package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest/ingesttest"
)

const testdata = "../../testdata/ingest/otlp"

// goldenNow is the clock of the golden runs: just after the sample spans.
var goldenNow = time.Date(2026, 11, 21, 10, 2, 0, 0, time.UTC)

// goldenResult is what a golden file holds for one sample.
type goldenResult struct {
	Accepted Accepted `json:"accepted"`
	// Added is what Add returned; Expired what Flush returned once every
	// pending span had expired.
	Added   graph.Batch `json:"added"`
	Expired graph.Batch `json:"expired"`
	Stats   Stats       `json:"stats"`
}

func runGolden(t testing.TB, req *coltracepb.ExportTraceServiceRequest) goldenResult {
	t.Helper()
	return goldenRun(func(a *Aggregator) (graph.Batch, Accepted, error) {
		b, res := a.Add(req, "golden")
		return b, res, nil
	})
}

// runGoldenWire is runGolden over the protobuf wire reader.
func runGoldenWire(body []byte) (goldenResult, error) {
	var err error
	r := goldenRun(func(a *Aggregator) (graph.Batch, Accepted, error) {
		var b graph.Batch
		var res Accepted
		b, _, res, err = a.addHTTPWire(body, "golden")
		return b, res, err
	})
	return r, err
}

func goldenRun(add func(a *Aggregator) (graph.Batch, Accepted, error)) goldenResult {
	clock := goldenNow
	a := NewAggregator(Config{}, func() time.Time { return clock })
	var r goldenResult
	var err error
	if r.Added, r.Accepted, err = add(a); err != nil {
		return r
	}
	clock = clock.Add(DefaultWait)
	r.Expired = a.Flush(clock)
	r.Stats = a.Stats()
	return r
}

func readSample(t testing.TB, path string) (*coltracepb.ExportTraceServiceRequest, []byte) {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ct := ContentTypeJSON
	if strings.HasSuffix(path, ".pb") {
		ct = ContentTypeProtobuf
	}
	req, err := DecodeRequest(body, ct)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return req, body
}

// jsonSamples lists the OTLP JSON samples (not their golden files).
func jsonSamples() []string {
	all, _ := filepath.Glob(filepath.Join(testdata, "*.json"))
	var out []string
	for _, p := range all {
		if !strings.HasSuffix(p, ".golden.json") {
			out = append(out, p)
		}
	}
	return out
}

// TestGolden decodes every sample (OTLP JSON and protobuf), aggregates it
// and compares the result with its golden file. A protobuf sample made
// from a JSON one must decode to the same request and give the same
// result, which checks the hex-id handling of the JSON path.
func TestGolden(t *testing.T) {
	jsons := jsonSamples()
	pbs, _ := filepath.Glob(filepath.Join(testdata, "*.pb"))
	if len(jsons) == 0 {
		t.Fatal("no samples")
	}
	if ingesttest.Update() {
		for _, j := range jsons {
			req, _ := readSample(t, j)
			raw, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			pb := strings.TrimSuffix(j, ".json") + ".pb"
			if err := os.WriteFile(pb, raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pbs, _ = filepath.Glob(filepath.Join(testdata, "*.pb"))
	}
	for _, path := range append(jsons, pbs...) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			req, _ := readSample(t, path)
			base := strings.TrimSuffix(strings.TrimSuffix(path, ".json"), ".pb")
			if strings.HasSuffix(path, ".pb") {
				if _, err := os.Stat(base + ".json"); err == nil {
					fromJSON, _ := readSample(t, base+".json")
					if !proto.Equal(req, fromJSON) {
						t.Errorf("%s and its JSON twin decode differently", name)
					}
				}
			}
			got, err := json.MarshalIndent(runGolden(t, req), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := base + ".golden.json"
			_, hasJSON := os.Stat(base + ".json")
			if ingesttest.Update() && (strings.HasSuffix(path, ".json") || hasJSON != nil) {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run with -update after checking):\n%s", name, golden, got)
			}
			if strings.HasSuffix(path, ".pb") {
				body, _ := os.ReadFile(path)
				r, err := runGoldenWire(body)
				if err != nil {
					t.Fatalf("wire reader: %v", err)
				}
				wire, _ := json.MarshalIndent(r, "", "  ")
				if !bytes.Equal(append(wire, '\n'), want) {
					t.Errorf("the wire reader's result for %s differs from %s:\n%s", name, golden, wire)
				}
			}
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		wantErr                 string
		check                   func(t *testing.T, req *coltracepb.ExportTraceServiceRequest)
	}{
		{
			name: "hex ids", contentType: "application/json; charset=utf-8",
			body: `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","kind":2}]}]}]}`,
			check: func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
				sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
				if hexID(sp.TraceId) != "5b8efff798038103d269b633813fc60c" || hexID(sp.SpanId) != "eee19b7ec3c1b174" || hexID(sp.ParentSpanId) != "eee19b7ec3c1b173" {
					t.Errorf("ids %x %x %x", sp.TraceId, sp.SpanId, sp.ParentSpanId)
				}
				if sp.Kind != 2 {
					t.Errorf("kind %v", sp.Kind)
				}
			},
		},
		{
			name: "base64 ids as plain protobuf JSON writes them", contentType: "application/json",
			body: `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ="}]}]}]}`,
			check: func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
				sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
				if hexID(sp.TraceId) != "5b8efff798038103d269b633813fc60c" || hexID(sp.SpanId) != "eee19b7ec3c1b174" {
					t.Errorf("ids %x %x", sp.TraceId, sp.SpanId)
				}
			},
		},
		{
			name: "snake case, numbers as numbers, enum names, unknown fields", contentType: "application/json",
			body: `{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":1795255205000000001,"status":{"code":"STATUS_CODE_ERROR"},"x":1}]}],"y":[]}]}`,
			check: func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
				sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
				if sp.StartTimeUnixNano != 1795255205000000001 || sp.Kind != 3 || sp.Status.Code != 2 || len(sp.TraceId) != 16 {
					t.Errorf("span %v", sp)
				}
			},
		},
		{name: "hex id with a non-hex character", contentType: "application/json",
			body:    `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc6!c"}]}]}]}`,
			wantErr: "not a hex id"},
		{name: "not JSON", contentType: "application/json", body: `{"resourceSpans":`, wantErr: "OTLP JSON"},
		{name: "JSON array", contentType: "application/json", body: `[]`, wantErr: "OTLP JSON"},
		{
			name: "ids in links, spaces around colons; id-like text in values untouched", contentType: "application/json",
			body: `{"resourceSpans":[{"resource":{"attributes":[{"key":"traceId","value":{"stringValue":"5b8efff798038103d269b633813fc60c"}},
				{"key":"note","value":{"stringValue":"\"spanId\": \"eee19b7ec3c1b174\""}}]},
				"scopeSpans":[{"spans":[{"traceId" : "5b8efff798038103d269b633813fc60c", "spanId":
				"eee19b7ec3c1b174","links":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"}]}]}]}]}`,
			check: func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
				rs := req.ResourceSpans[0]
				if v := rs.Resource.Attributes[0].Value.GetStringValue(); v != "5b8efff798038103d269b633813fc60c" {
					t.Errorf("attribute value rewritten: %q", v)
				}
				if v := rs.Resource.Attributes[1].Value.GetStringValue(); v != `"spanId": "eee19b7ec3c1b174"` {
					t.Errorf("string with id-like text rewritten: %q", v)
				}
				sp := rs.ScopeSpans[0].Spans[0]
				if hexID(sp.TraceId) != "5b8efff798038103d269b633813fc60c" || hexID(sp.SpanId) != "eee19b7ec3c1b174" {
					t.Errorf("ids %x %x", sp.TraceId, sp.SpanId)
				}
				if l := sp.Links[0]; hexID(l.TraceId) != "0af7651916cd43dd8448eb211c80319c" || hexID(l.SpanId) != "b7ad6b7169203331" {
					t.Errorf("link ids %x %x", l.TraceId, l.SpanId)
				}
			},
		},
		{name: "garbage protobuf", contentType: "application/x-protobuf", body: "\x0a\xff\xff\xff", wantErr: "OTLP protobuf"},
		{name: "other content type", contentType: "text/plain", body: "hello", wantErr: "not OTLP"},
		{name: "empty protobuf is an empty request", contentType: "application/x-protobuf", body: "",
			check: func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
				if len(req.ResourceSpans) != 0 {
					t.Error(req)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeRequest([]byte(tc.body), tc.contentType)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, graph.ErrInvalid) {
					t.Fatalf("err = %v, want an ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, req)
		})
	}
}

// FuzzDecodeRequest feeds arbitrary bodies to both decoders and whatever
// decodes to the aggregator, which must never panic nor produce an invalid
// bucket.
func FuzzDecodeRequest(f *testing.F) {
	paths := jsonSamples()
	pbs, _ := filepath.Glob(filepath.Join(testdata, "*.pb"))
	for _, p := range append(paths, pbs...) {
		body, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, strings.HasSuffix(p, ".json"))
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		ct := ContentTypeProtobuf
		if asJSON {
			ct = ContentTypeJSON
		}
		req, err := DecodeRequest(body, ct)
		if err != nil {
			if !errors.Is(err, graph.ErrInvalid) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		clock := goldenNow
		a := NewAggregator(Config{MaxItems: 64}, func() time.Time { return clock })
		b, res := a.Add(req, "fuzz")
		clock = clock.Add(time.Hour)
		b = appendBatch(b, a.Flush(clock))
		if res.Spans != SpanCount(req) || res.Rejected > res.Spans {
			t.Fatalf("accepted %+v for %d spans", res, SpanCount(req))
		}
		for _, c := range b.Calls {
			if err := c.Validate(); err != nil {
				t.Fatalf("invalid bucket %+v: %v", c, err)
			}
		}
		for _, e := range b.Events {
			if err := e.Validate(clock); err != nil {
				t.Fatalf("invalid event %+v: %v", e, err)
			}
		}
		if s := a.Stats(); s.Pending != 0 {
			t.Fatalf("%d entries still pending after expiry", s.Pending)
		}
	})
}

// protojsonOTLP writes req as OTLP JSON (hex ids), the way the Collector's
// otlp_json encoding does.
func protojsonOTLP(req *coltracepb.ExportTraceServiceRequest) ([]byte, error) {
	raw, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	for _, rs := range members(root, "resourceSpans") {
		for _, ss := range members(rs, "scopeSpans") {
			for _, s := range members(ss, "spans") {
				for _, k := range []string{"traceId", "spanId", "parentSpanId"} {
					if v, ok := s[k].(string); ok {
						b, err := base64.StdEncoding.DecodeString(v)
						if err != nil {
							return nil, err
						}
						s[k] = hex.EncodeToString(b)
					}
				}
			}
		}
	}
	return json.Marshal(root)
}

// FuzzWireReader checks the protobuf wire reader against the generated
// decoder: whatever the decoder accepts, the reader accepts and counts
// identically.
func FuzzWireReader(f *testing.F) {
	pbs, _ := filepath.Glob(filepath.Join(testdata, "*.pb"))
	for _, p := range pbs {
		body, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	// Tempo's cases, with integer attributes (ports) and every span kind.
	tempo, _ := filepath.Glob(filepath.Join(testdata, "tempo", "*.json"))
	for _, p := range tempo {
		req, _ := readSample(f, p)
		body, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		wire, werr := runGoldenWire(body)
		req, err := DecodeRequest(body, ContentTypeProtobuf)
		if err != nil {
			return // the reader may accept more; it must only not panic
		}
		if werr != nil {
			t.Fatalf("the decoder accepts what the wire reader rejects: %v", werr)
		}
		want, _ := json.Marshal(runGolden(t, req))
		got, _ := json.Marshal(wire)
		if !bytes.Equal(got, want) {
			t.Fatalf("wire reader:\n%s\ndecoder:\n%s", got, want)
		}
	})
}

// members returns the objects in the array obj[name].
func members(obj map[string]any, name string) []map[string]any {
	arr, _ := obj[name].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, el := range arr {
		if m, ok := el.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
