package ingest

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest/ingesttest"
)

// testNow is the clock every sample is decoded against.
var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

var samplesDir = ingesttest.Testdata("ingest")

// sample is one payload under testdata/ingest/<format>/, with its
// headers as the decoders get them.
type sample struct {
	ingesttest.Sample
	headers Headers
}

// golden is what a sample decodes to, as stored in <name>.golden.json.
type golden struct {
	Detected string       `json:"detected"`
	Error    string       `json:"error,omitempty"`
	Items    []goldenItem `json:"items"`
}

type goldenItem struct {
	Event      *graph.Event      `json:"event,omitempty"`
	Dependency *graph.Dependency `json:"dependency,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// MustSamples returns the samples of one format directory ("" for every
// format in Formats; other directories, otlp, belong to other decoders).
func MustSamples(tb testing.TB, format string) []sample {
	tb.Helper()
	formats := []string{format}
	if format == "" {
		formats = Formats
	}
	var out []sample
	for _, s := range ingesttest.Samples(tb, formats...) {
		out = append(out, sample{Sample: s, headers: NewHeaders(s.Headers)})
	}
	return out
}

// TestSamples decodes every sample under testdata/ingest with its
// directory's decoder and compares the items, and the format Detect
// names, with the sample's golden file. Run with -update to rewrite them.
func TestSamples(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range MustSamples(t, "") {
		seen[s.Format] = true
		t.Run(s.Format+"/"+s.Name, func(t *testing.T) {
			dec, ok := FormatDecoder(s.Format)
			if !ok {
				t.Fatalf("directory %q is not a format name", s.Format)
			}
			detected, detDec := Detect(s.Body, s.headers)
			if detDec == nil {
				t.Fatalf("Detect returned no decoder for %q", detected)
			}
			if !strings.HasPrefix(s.Name, "bad-") && detected != s.Format {
				t.Errorf("Detect named %q, want %q", detected, s.Format)
			}
			items, err := dec(s.Body, s.headers, testNow)
			checkItems(t, items, err)
			got := golden{Detected: detected, Items: []goldenItem{}}
			if err != nil {
				got.Error = err.Error()
			}
			for _, it := range items {
				gi := goldenItem{Event: it.Event, Dependency: it.Dependency}
				if it.Err != nil {
					gi.Error = it.Err.Error()
				}
				got.Items = append(got.Items, gi)
			}
			if strings.HasPrefix(s.Name, "bad-") && err == nil && !slices.ContainsFunc(got.Items, func(g goldenItem) bool { return g.Error != "" }) {
				t.Errorf("a bad- sample decoded without any error")
			}
			ingesttest.CheckGoldenJSON(t, s.Golden("ingest"), got)
		})
	}
	for _, f := range Formats {
		if !seen[f] {
			t.Errorf("format %q has no samples under %s", f, samplesDir)
		}
		goldens, _ := filepath.Glob(filepath.Join(samplesDir, f, "*.golden.json"))
		for _, g := range goldens {
			base := strings.TrimSuffix(g, ".golden.json")
			if matches, _ := filepath.Glob(base + ".*"); len(matches) < 2 {
				t.Errorf("%s has no sample beside it", g)
			}
		}
	}
}

// checkItems asserts what every decoder promises, whatever the input:
// errors are user-facing ErrInvalid errors; each item holds exactly one
// of an event, a dependency or an error; every event is normalised
// (valid, with the ID a second normalisation would give it) and
// serialisable.
func checkItems(t *testing.T, items []Item, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, graph.ErrInvalid) {
			t.Errorf("body error %q is not ErrInvalid", err)
		}
		if graph.Message(err) == "" {
			t.Errorf("body error %q has no user-facing message", err)
		}
		if len(items) != 0 {
			t.Errorf("got %d items together with a body error", len(items))
		}
	}
	for i, it := range items {
		n := 0
		for _, set := range []bool{it.Event != nil, it.Dependency != nil, it.Err != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("item %d holds %d of event/dependency/error, want exactly 1: %+v", i, n, it)
		}
		switch {
		case it.Err != nil:
			if !errors.Is(it.Err, graph.ErrInvalid) || graph.Message(it.Err) == "" {
				t.Errorf("item %d error %q is not a user-facing ErrInvalid", i, it.Err)
			}
		case it.Event != nil:
			e := *it.Event
			if e.ID == "" {
				t.Errorf("item %d event has no ID", i)
			}
			if err := e.Validate(testNow); err != nil {
				t.Errorf("item %d event invalid: %v", i, err)
			}
			again := e
			if err := again.Normalize(testNow); err != nil || again.ID != e.ID {
				t.Errorf("item %d event is not normalised: renormalising gives ID %q (err %v), had %q", i, again.ID, err, e.ID)
			}
			if _, err := json.Marshal(e); err != nil {
				t.Errorf("item %d event does not marshal: %v", i, err)
			}
		case it.Dependency != nil:
			if err := it.Dependency.Validate(); err != nil {
				t.Errorf("item %d dependency invalid: %v", i, err)
			}
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		want    string
	}{
		{"structured CloudEvent by content type", `{"anything": 1}`, map[string]string{"Content-Type": "application/cloudevents+json; charset=UTF-8"}, FormatCloudEvents},
		{"CloudEvents batch by content type", `[]`, map[string]string{"content-type": "application/cloudevents-batch+json"}, FormatCloudEvents},
		{"binary CloudEvent over HTTP", `{}`, map[string]string{"Ce-Specversion": "1.0"}, FormatCloudEvents},
		{"binary CloudEvent over Kafka", `{}`, map[string]string{"ce_specversion": "1.0"}, FormatCloudEvents},
		{"GitHub by header", `{}`, map[string]string{"X-GitHub-Event": "issues"}, FormatGitHub},
		{"PagerDuty by signature", `{}`, map[string]string{"X-PagerDuty-Signature": "v1=00"}, FormatPagerDuty},
		{"Flux by header", `{}`, map[string]string{"Gotk-Component": "helm-controller"}, FormatFlux},
		{"Jira by retry header", `{}`, map[string]string{"X-Atlassian-Webhook-Retry": "1"}, FormatJira},
		{"Alertmanager", `{"version":"4","alerts":[]}`, nil, FormatAlertmanager},
		{"Alertmanager other version is not sniffed", `{"version":"3","alerts":[]}`, nil, FormatCanonical},
		{"PagerDuty by body", `{"event":{"event_type":"incident.triggered"}}`, nil, FormatPagerDuty},
		{"Jira by body", `{"webhookEvent":"jira:issue_created"}`, nil, FormatJira},
		{"EventBridge autoscaling", `{"detail-type":"EC2 Instance Launch Successful","source":"aws.autoscaling"}`, nil, FormatAutoscaling},
		{"EventBridge other source", `{"detail-type":"x","source":"aws.ec2"}`, nil, FormatCanonical},
		{"bare CDEvent", `{"context":{},"subject":{}}`, nil, FormatCloudEvents},
		{"structured CloudEvent without header", `{"specversion":"1.0","type":"x"}`, nil, FormatCloudEvents},
		{"Flux by body", `{"involvedObject":{},"reportingController":"kustomize-controller"}`, nil, FormatFlux},
		{"Kubernetes core event", `{"involvedObject":{},"reason":"x"}`, nil, FormatKubernetes},
		{"Kubernetes events.k8s.io", `{"regarding":{},"reportingController":"x"}`, nil, FormatKubernetes},
		{"Kubernetes EventList", `{"kind":"EventList","items":[]}`, nil, FormatKubernetes},
		{"Kubernetes array", `[{"kind":"Event","involvedObject":{}}]`, nil, FormatKubernetes},
		{"GitHub by body", `{"deployment_status":{}}`, nil, FormatGitHub},
		{"Argo CD template", `{"app":"a","finishedAt":"x"}`, nil, FormatArgoCD},
		{"YAML content type", "kind: Component\n", map[string]string{"Content-Type": "application/yaml"}, FormatBackstage},
		{"Backstage YAML", "apiVersion: backstage.io/v1alpha1\nkind: Component\n", nil, FormatBackstage},
		{"canonical object", `{"kind":"deploy","service":"a"}`, nil, FormatCanonical},
		{"canonical NDJSON", "{\"kind\":\"deploy\"}\n{\"kind\":\"scale\"}", nil, FormatCanonical},
		{"empty", ``, nil, FormatCanonical},
		{"garbage", `%%%`, nil, FormatCanonical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dec := Detect([]byte(tt.body), NewHeaders(tt.headers))
			if got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
			if dec == nil {
				t.Fatal("no decoder")
			}
		})
	}
}

func TestFormatDecoder(t *testing.T) {
	for _, name := range append(slices.Clone(Formats), "CDEvents", " GitHub ") {
		if dec, ok := FormatDecoder(name); !ok || dec == nil {
			t.Errorf("FormatDecoder(%q) found nothing", name)
		}
	}
	if _, ok := FormatDecoder("syslog"); ok {
		t.Error("FormatDecoder(syslog) found a decoder")
	}
}

func TestHeaders(t *testing.T) {
	hh := http.Header{}
	hh.Set("X-GitHub-Event", "issues")
	hh.Add("Ce-Type", "dev.cdevents.service.deployed.0.3.0")
	hh.Add("Ce-Type", "second")
	h := HeadersFromHTTP(hh)
	if got := h.Get("x-github-event"); got != "issues" {
		t.Errorf("Get(x-github-event) = %q", got)
	}
	if got := h.ce("type"); got != "dev.cdevents.service.deployed.0.3.0" {
		t.Errorf("ce(type) over HTTP = %q", got)
	}
	k := NewHeaders(map[string]string{"ce_type": "kafka"})
	if got := k.ce("type"); got != "kafka" {
		t.Errorf("ce(type) over Kafka = %q", got)
	}
	if got := k.Get("CE_TYPE"); got != "kafka" {
		t.Errorf("Get is not case-insensitive: %q", got)
	}
}

// seedCorpus adds a format's samples (body and headers) to a fuzz corpus.
func seedCorpus(f *testing.F, format string) {
	for _, s := range MustSamples(f, format) {
		f.Add(s.Body, encodeHeaders(s.headers))
	}
}

// encodeHeaders and decodeHeaders carry headers through the fuzzer as
// "name: value" lines.
func encodeHeaders(h Headers) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ": " + h[k] + "\n")
	}
	return b.String()
}

func decodeHeaders(s string) Headers {
	kv := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return NewHeaders(kv)
}

// fuzzDecoder fuzzes one decoder from its samples: it must never panic,
// and whatever it returns must keep the promises checkItems checks.
func fuzzDecoder(f *testing.F, format string, dec Decoder) {
	seedCorpus(f, format)
	f.Add([]byte("null"), "")
	f.Add([]byte("[]"), "")
	f.Add([]byte{0xff, 0xfe, '{'}, "")
	f.Fuzz(func(t *testing.T, body []byte, hdr string) {
		items, err := dec(body, decodeHeaders(hdr), testNow)
		checkItems(t, items, err)
	})
}

func FuzzDetect(f *testing.F) {
	seedCorpus(f, "")
	f.Fuzz(func(t *testing.T, body []byte, hdr string) {
		h := decodeHeaders(hdr)
		name, dec := Detect(body, h)
		if !slices.Contains(Formats, name) || dec == nil {
			t.Fatalf("Detect returned %q, %v", name, dec != nil)
		}
		items, err := dec(body, h, testNow)
		checkItems(t, items, err)
	})
}

// mustDecode decodes body with dec and fails the test on a body error.
func mustDecode(tb testing.TB, dec Decoder, body string, h map[string]string) []Item {
	tb.Helper()
	items, err := dec([]byte(body), NewHeaders(h), testNow)
	if err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return items
}

// mustEvent returns the only item of items, which must be an event.
func mustEvent(tb testing.TB, items []Item) graph.Event {
	tb.Helper()
	if len(items) != 1 {
		tb.Fatalf("got %d items, want 1: %+v", len(items), items)
	}
	if items[0].Err != nil || items[0].Event == nil {
		tb.Fatalf("item is not an event: %+v", items[0])
	}
	return *items[0].Event
}

func replaceOnce(s, old, new string) string { return strings.Replace(s, old, new, 1) }

func BenchmarkDetect(b *testing.B) {
	samples := MustSamples(b, "")
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range samples {
			if name, _ := Detect(s.Body, s.headers); name == "" {
				b.Fatal("no format")
			}
		}
	}
}
