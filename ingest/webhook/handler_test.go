package webhook

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
)

// httpNow is the fixed clock of the HTTP ingest tests; the samples in
// testdata/ingest happen shortly before it.
var httpNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// mustOpenHTTPStore opens the real embedded store in a temporary
// directory.
func mustOpenHTTPStore(tb testing.TB) *pebble.Store {
	tb.Helper()
	return pebbletest.MustOpen(tb, pebble.Options{Now: func() time.Time { return httpNow }, CacheSize: 8 << 20})
}

// httpRig is the ingest endpoints on a real loopback server, writing to a
// real store.
type httpRig struct {
	srv   *httptest.Server
	store *pebble.Store
	reg   *prometheus.Registry
	h     *Handler
}

// mustStartHTTP serves the ingest endpoints with cfg over a fresh store;
// opts (may be nil) adjusts the options first.
func mustStartHTTP(tb testing.TB, cfg Config, opts func(*Options)) *httpRig {
	tb.Helper()
	store := mustOpenHTTPStore(tb)
	return mustStartHTTPOn(tb, cfg, store, store, opts)
}

func mustStartHTTPOn(tb testing.TB, cfg Config, store *pebble.Store, w graph.Applier, opts func(*Options)) *httpRig {
	tb.Helper()
	reg := prometheus.NewRegistry()
	o := Options{Now: func() time.Time { return httpNow }, Registerer: reg}
	if opts != nil {
		opts(&o)
	}
	h, err := New(cfg, w, o)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return &httpRig{srv: srv, store: store, reg: reg, h: h}
}

// httpAnswer is a response, decoded.
type httpAnswer struct {
	Status int
	Header http.Header
	Body   Response
	Raw    []byte
}

// request sends one request; hdr may carry Content-Encoding, signatures
// and the like.
func (r *httpRig) request(tb testing.TB, method, path string, body []byte, hdr map[string]string) httpAnswer {
	tb.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	a := httpAnswer{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("%s %s: Content-Type %q, want application/json; body %s", method, path, ct, raw)
	}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		tb.Fatalf("%s %s: response is not an Response: %v: %s", method, path, err, raw)
	}
	if a.Body.Rejected == nil {
		tb.Fatalf("%s %s: rejected is null, want an array: %s", method, path, raw)
	}
	return a
}

func (r *httpRig) post(tb testing.TB, path string, body []byte, hdr map[string]string) httpAnswer {
	tb.Helper()
	return r.request(tb, http.MethodPost, path, body, hdr)
}

func (r *httpRig) events(tb testing.TB) []graph.Event {
	tb.Helper()
	page, err := r.store.Events(context.Background(), graph.EventFilter{First: graph.MaxFirst})
	if err != nil {
		tb.Fatal(err)
	}
	return page.Items
}

// mustRead reads a test file.
func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sampleHeaders reads the headers sidecar of a sample (<name>.headers.json),
// or returns nil when it has none.
func sampleHeaders(tb testing.TB, sample string) map[string]string {
	tb.Helper()
	path := strings.TrimSuffix(sample, filepath.Ext(sample)) + ".headers.json"
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return h
}

// endpointOf maps a testdata/ingest directory (a format name) to the
// endpoint that takes that format.
func endpointOf(format string) (string, bool) {
	if format == ingest.FormatCanonical {
		return "/v1/events", true
	}
	if src, ok := ingest.Lookup(format); ok && src.Endpoint != "" {
		return "/v1/webhooks/" + src.Endpoint, true
	}
	return "", false
}

// goldenAnswer is what a golden file holds: the status and the body.
type goldenAnswer struct {
	Status int      `json:"status"`
	Body   Response `json:"body"`
}

// TestHTTPSamples posts every sample of every format the endpoints take to
// its endpoint, compares status and body with the golden answer, then
// posts it again, as a source's retry would: the second answer must count
// every event as a duplicate and store nothing new.
func TestHTTPSamples(t *testing.T) {
	for _, sample := range ingesttest.Samples(t, ingest.Formats...) {
		path, ok := endpointOf(sample.Format)
		if !ok {
			t.Fatalf("no endpoint takes %s", sample.Format)
		}
		t.Run(sample.Format+"/"+sample.Name, func(t *testing.T) {
			rig := mustStartHTTP(t, DefaultConfig(), nil)
			body, hdr := sample.Body, sample.Headers
			first := rig.post(t, path, body, hdr)
			ingesttest.CheckGoldenJSON(t, sample.Golden("http"), goldenAnswer{first.Status, first.Body})
			if first.Status >= 500 {
				t.Fatalf("status %d for a sample: bad input must never get a 5xx", first.Status)
			}
			deps := countDependencies(t, sample.Format, body, hdr)
			if first.Status != http.StatusOK {
				return
			}
			stored := len(rig.events(t))
			if stored > first.Body.Accepted-deps {
				t.Errorf("store holds %d events, more than the %d accepted", stored, first.Body.Accepted-deps)
			}
			again := rig.post(t, path, body, hdr)
			if again.Status != http.StatusOK || again.Body.Accepted != deps || again.Body.Duplicates != first.Body.Accepted-deps+first.Body.Duplicates {
				t.Errorf("resend: status %d, %+v; want 200 with %d accepted (declared dependencies) and %d duplicates",
					again.Status, again.Body, deps, first.Body.Accepted-deps+first.Body.Duplicates)
			}
			if n := len(rig.events(t)); n != stored {
				t.Errorf("resend changed the store from %d to %d events", stored, n)
			}
		})
	}
}

// countDependencies decodes a sample directly and counts its declared
// dependencies, which are accepted (upserted) on every post.
func countDependencies(tb testing.TB, format string, body []byte, hdr map[string]string) int {
	tb.Helper()
	dec, ok := ingest.FormatDecoder(format)
	if !ok {
		tb.Fatalf("no decoder for %s", format)
	}
	items, err := dec(body, ingest.NewHeaders(hdr), httpNow)
	if err != nil {
		return 0
	}
	n := 0
	for _, it := range items {
		if it.Err == nil && it.Dependency != nil {
			n++
		}
	}
	return n
}

// TestHTTPPartial checks that bad items never take good ones down: a
// malformed NDJSON line in the middle, and an array with bad elements.
func TestHTTPPartial(t *testing.T) {
	rig := mustStartHTTP(t, DefaultConfig(), nil)
	a := rig.post(t, "/v1/events", mustRead(t, ingesttest.Testdata("http", "ndjson-malformed-middle.ndjson")), map[string]string{"Content-Type": "application/x-ndjson"})
	if a.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", a.Status, a.Raw)
	}
	if a.Body.Accepted != 3 || a.Body.Duplicates != 0 || len(a.Body.Rejected) != 1 || a.Body.Rejected[0].Index != 1 {
		t.Fatalf("got %s; want 3 accepted (2 events, 1 dependency) and line index 1 rejected", a.Raw)
	}
	if !strings.Contains(a.Body.Rejected[0].Error, "JSON") {
		t.Errorf("rejection %q does not say the line is malformed JSON", a.Body.Rejected[0].Error)
	}
	var ids []string
	for _, e := range rig.events(t) {
		ids = append(ids, e.ExternalID)
	}
	if strings.Join(ids, ",") != "rollout-3,rollout-1" {
		t.Errorf("stored %v, want rollout-3 and rollout-1", ids)
	}
}

// TestHTTPStatuses covers the answers about the request as a whole.
func TestHTTPStatuses(t *testing.T) {
	single := mustRead(t, ingesttest.Testdata("ingest", "canonical", "single.json"))
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	small := DefaultConfig()
	small.MaxBody = 2048
	big := bytes.Repeat([]byte(" "), 4096)
	bomb := gz(append(append([]byte{}, single...), big...))
	cases := []struct {
		name     string
		cfg      Config
		method   string
		path     string
		body     []byte
		hdr      map[string]string
		status   int
		accepted int
		errHas   string
		header   [2]string
	}{
		{name: "one event", cfg: DefaultConfig(), path: "/v1/events", body: single, status: 200, accepted: 1},
		{name: "gzip", cfg: DefaultConfig(), path: "/v1/events", body: gz(single), hdr: map[string]string{"Content-Encoding": "gzip"}, status: 200, accepted: 1},
		{name: "gzip header but plain body", cfg: DefaultConfig(), path: "/v1/events", body: single, hdr: map[string]string{"Content-Encoding": "gzip"}, status: 400, errHas: "not gzip"},
		{name: "truncated gzip", cfg: DefaultConfig(), path: "/v1/events", body: gz(single)[:40], hdr: map[string]string{"Content-Encoding": "gzip"}, status: 400, errHas: "gzip"},
		{name: "unsupported encoding", cfg: DefaultConfig(), path: "/v1/events", body: single, hdr: map[string]string{"Content-Encoding": "br"}, status: 415, errHas: "gzip"},
		{name: "too large", cfg: small, path: "/v1/events", body: append(append([]byte{}, single...), big...), status: 413, errHas: "2 KiB limit (--max-body)"},
		{name: "too large once decompressed", cfg: small, path: "/v1/events", body: bomb, hdr: map[string]string{"Content-Encoding": "gzip"}, status: 413, errHas: "--max-body"},
		{name: "not JSON", cfg: DefaultConfig(), path: "/v1/events", body: []byte("kind=deploy service=payments"), status: 400, errHas: "not JSON"},
		{name: "empty", cfg: DefaultConfig(), path: "/v1/events", body: nil, status: 400, errHas: "empty body"},
		{name: "every item bad", cfg: DefaultConfig(), path: "/v1/events", body: []byte(`[{"kind":"deploy"},{"kind":"quake","service":"a","at":"2026-11-21T11:00:00Z","source":"x"}]`), status: 422},
		{name: "native payload to /v1/events", cfg: DefaultConfig(), path: "/v1/events", body: mustRead(t, ingesttest.Testdata("ingest", "alertmanager", "sloth-firing.json")), status: 422, errHas: "POST it to /v1/webhooks/alertmanager"},
		{name: "GET events", cfg: DefaultConfig(), method: http.MethodGet, path: "/v1/events", status: 405, errHas: "use POST", header: [2]string{"Allow", "POST"}},
		{name: "PUT webhook", cfg: DefaultConfig(), method: http.MethodPut, path: "/v1/webhooks/github", body: single, status: 405, errHas: "use POST", header: [2]string{"Allow", "POST"}},
		{name: "unknown webhook", cfg: DefaultConfig(), path: "/v1/webhooks/gitlab", body: single, status: 404, errHas: "{alertmanager,argocd,autoscaling,backstage,cdevents,flux,github,jira,kubernetes,pagerduty}"},
		{name: "webhook path too deep", cfg: DefaultConfig(), path: "/v1/webhooks/github/extra", body: single, status: 404, errHas: "known ones"},
		{name: "webhook source case-insensitive", cfg: DefaultConfig(), path: "/v1/webhooks/GitHub", body: mustRead(t, ingesttest.Testdata("http", "github-deployment-status.json")), hdr: map[string]string{"X-GitHub-Event": "deployment_status"}, status: 200, accepted: 1},
		{name: "GitHub event sregraph does not read", cfg: DefaultConfig(), path: "/v1/webhooks/github", body: []byte(`{"ref":"refs/heads/main"}`), hdr: map[string]string{"X-GitHub-Event": "push"}, status: 400, errHas: "deployment_status"},
		{name: "GitHub ping", cfg: DefaultConfig(), path: "/v1/webhooks/github", body: []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`), hdr: map[string]string{"X-GitHub-Event": "ping"}, status: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rig := mustStartHTTP(t, c.cfg, nil)
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			a := rig.request(t, method, c.path, c.body, c.hdr)
			if a.Status != c.status || a.Body.Accepted != c.accepted {
				t.Fatalf("status %d, accepted %d; want %d, %d: %s", a.Status, a.Body.Accepted, c.status, c.accepted, a.Raw)
			}
			if !strings.Contains(a.Body.Error, c.errHas) {
				t.Errorf("error %q does not contain %q", a.Body.Error, c.errHas)
			}
			if c.header[0] != "" && a.Header.Get(c.header[0]) != c.header[1] {
				t.Errorf("header %s = %q, want %q", c.header[0], a.Header.Get(c.header[0]), c.header[1])
			}
			if n := len(rig.events(t)); n != c.accepted {
				t.Errorf("store holds %d events, want %d", n, c.accepted)
			}
		})
	}
}

// TestHTTPChunkedTooLarge sends a body without Content-Length, so the
// limit is found while reading.
func TestHTTPChunkedTooLarge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBody = 4096
	rig := mustStartHTTP(t, cfg, nil)
	pr, pw := io.Pipe()
	go func() {
		line := []byte(`{"kind":"deploy","service":"a","at":"2026-11-21T11:00:00Z","source":"ci"}` + "\n")
		for i := 0; i < 200; i++ {
			if _, err := pw.Write(line); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, rig.srv.URL+"/v1/events", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rig.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = pr.CloseWithError(io.ErrClosedPipe)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if n := len(rig.events(t)); n != 0 {
		t.Errorf("an oversized request stored %d events", n)
	}
}

// TestHTTPStoreDown checks that a failing store gets 503 with
// Retry-After and acknowledges nothing, while bad input still gets its
// 4xx.
func TestHTTPStoreDown(t *testing.T) {
	store := mustOpenHTTPStore(t)
	rig := mustStartHTTPOn(t, DefaultConfig(), store, store, nil)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	single := mustRead(t, ingesttest.Testdata("ingest", "canonical", "single.json"))
	a := rig.post(t, "/v1/events", single, nil)
	if a.Status != http.StatusServiceUnavailable || a.Header.Get("Retry-After") != "5" {
		t.Fatalf("status %d, Retry-After %q; want 503 and 5: %s", a.Status, a.Header.Get("Retry-After"), a.Raw)
	}
	if a.Body.Accepted != 0 || !strings.Contains(a.Body.Error, "nothing from this request was stored") {
		t.Errorf("503 body %s does not say nothing was stored", a.Raw)
	}
	wh := rig.post(t, "/v1/webhooks/alertmanager", mustRead(t, ingesttest.Testdata("ingest", "alertmanager", "sloth-firing.json")), nil)
	if wh.Status != http.StatusServiceUnavailable {
		t.Errorf("webhook with the store down: status %d, want 503", wh.Status)
	}
	for _, bad := range [][]byte{[]byte("not json"), []byte(`{"kind":"deploy"}`)} {
		if a := rig.post(t, "/v1/events", bad, nil); a.Status >= 500 {
			t.Errorf("bad input %q with the store down got %d: the input's fault must be reported as such", bad, a.Status)
		}
	}
}

// TestHTTPStoreRefusesOneItem checks that an item the store refuses (here a
// service name an alias turned into one the store cannot key) is rejected
// alone.
func TestHTTPStoreRefusesOneItem(t *testing.T) {
	rename := func(items []ingest.Item) []ingest.Item {
		for _, it := range items {
			if it.Event != nil && it.Event.Service == "checkout" {
				it.Event.Service = "check\x00out"
			}
		}
		return items
	}
	rig := mustStartHTTP(t, DefaultConfig(), func(o *Options) { o.Rename = rename })
	body := []byte(`{"kind":"deploy","service":"payments","at":"2026-11-21T11:00:00Z","source":"ci"}
{"kind":"deploy","service":"checkout","at":"2026-11-21T11:01:00Z","source":"ci"}
{"kind":"deploy","service":"cart","at":"2026-11-21T11:02:00Z","source":"ci"}`)
	a := rig.post(t, "/v1/events", body, nil)
	if a.Status != 200 || a.Body.Accepted != 2 || len(a.Body.Rejected) != 1 || a.Body.Rejected[0].Index != 1 {
		t.Fatalf("got %d %s; want 200, 2 accepted, item 1 rejected", a.Status, a.Raw)
	}
	if n := len(rig.events(t)); n != 2 {
		t.Errorf("stored %d events, want 2", n)
	}
}

// TestHTTPRename checks that aliases apply before storing.
func TestHTTPRename(t *testing.T) {
	aliases, err := ingest.ParseAliases([]byte("payments-api: payments\n"))
	if err != nil {
		t.Fatal(err)
	}
	rig := mustStartHTTP(t, DefaultConfig(), func(o *Options) { o.Rename = aliases.Apply })
	a := rig.post(t, "/v1/events", []byte(`{"kind":"deploy","service":"payments-api","at":"2026-11-21T11:00:00Z","source":"ci"}`), nil)
	if a.Status != 200 || a.Body.Accepted != 1 {
		t.Fatalf("got %d %s", a.Status, a.Raw)
	}
	if evs := rig.events(t); len(evs) != 1 || evs[0].Service != "payments" {
		t.Fatalf("stored %+v, want one event on payments", evs)
	}
}

// TestHTTPRetriesAreDuplicates replays deliveries the way sources retry
// them and checks that the replays count as duplicates, and that an
// Alertmanager resolve closes the breach its firing opened.
func TestHTTPRetriesAreDuplicates(t *testing.T) {
	rig := mustStartHTTP(t, DefaultConfig(), nil)
	sample := ingesttest.Testdata("http", "github-deployment-status.json")
	body, hdr := mustRead(t, sample), sampleHeaders(t, sample)
	first := rig.post(t, "/v1/webhooks/github", body, hdr)
	redelivery := rig.post(t, "/v1/webhooks/github", body, hdr) // GitHub's "Redeliver": same X-GitHub-Delivery
	if first.Status != 200 || first.Body.Accepted != 1 || redelivery.Status != 200 || redelivery.Body.Accepted != 0 || redelivery.Body.Duplicates != 1 {
		t.Fatalf("first %s, redelivery %s; want 1 accepted then 1 duplicate", first.Raw, redelivery.Raw)
	}

	firing := []byte(`{"version":"4","groupKey":"{}:{alertname=\"PaymentsAvailability\"}","status":"firing","receiver":"sregraph",
 "alerts":[{"status":"firing","labels":{"alertname":"PaymentsAvailability","service":"payments","slo":"availability"},
 "annotations":{"summary":"payments availability burning"},"startsAt":"2026-11-21T11:52:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"c0ffee0123456789"}]}`)
	resolved := bytes.ReplaceAll(bytes.ReplaceAll(firing, []byte(`"firing"`), []byte(`"resolved"`)), []byte(`0001-01-01T00:00:00Z`), []byte(`2026-11-21T11:58:00Z`))
	steps := []struct {
		body                 []byte
		accepted, duplicates int
		open                 bool
	}{
		{firing, 1, 0, true},
		{firing, 0, 1, true},    // Alertmanager repeats a firing group every repeat_interval
		{resolved, 1, 0, false}, // the resolve updates the same breach
		{resolved, 0, 1, false}, // and its retry changes nothing
		{firing, 0, 1, false},   // a late firing retry does not reopen it
	}
	for i, s := range steps {
		a := rig.post(t, "/v1/webhooks/alertmanager", s.body, nil)
		if a.Status != 200 || a.Body.Accepted != s.accepted || a.Body.Duplicates != s.duplicates {
			t.Fatalf("step %d: %d %s; want %d accepted, %d duplicates", i, a.Status, a.Raw, s.accepted, s.duplicates)
		}
		var breaches []graph.Event
		for _, e := range rig.events(t) {
			if e.Kind == graph.KindSLOBreach {
				breaches = append(breaches, e)
			}
		}
		if len(breaches) != 1 {
			t.Fatalf("step %d: %d breaches stored, want 1", i, len(breaches))
		}
		b := graph.BreachOf(breaches[0])
		if b.Open(httpNow) != s.open || b.SLO != "availability" || b.Service != "payments" {
			t.Fatalf("step %d: breach %+v; want open=%v, SLO availability on payments", i, b, s.open)
		}
	}
}

// TestHTTPMetrics checks the request and item counters.
func TestHTTPMetrics(t *testing.T) {
	rig := mustStartHTTP(t, DefaultConfig(), nil)
	rig.post(t, "/v1/events", mustRead(t, ingesttest.Testdata("http", "ndjson-malformed-middle.ndjson")), nil)
	rig.post(t, "/v1/events", mustRead(t, ingesttest.Testdata("http", "ndjson-malformed-middle.ndjson")), nil)
	rig.post(t, "/v1/events", []byte("nope"), nil)
	rig.post(t, "/v1/webhooks/nope", nil, nil)
	for _, c := range []struct {
		c    prometheus.Counter
		want float64
	}{
		{rig.h.m.requests.WithLabelValues("events", outcomePartial), 2},
		{rig.h.m.requests.WithLabelValues("events", outcomeMalformed), 1},
		{rig.h.m.requests.WithLabelValues("unknown", outcomeUnknown), 1},
		{rig.h.m.items.WithLabelValues("events", "accepted"), 3 + 1}, // the dependency is accepted again
		{rig.h.m.items.WithLabelValues("events", "duplicate"), 2},
		{rig.h.m.items.WithLabelValues("events", "rejected"), 2},
	} {
		var m dto.Metric
		if err := c.c.Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != c.want {
			t.Errorf("%s = %v, want %v", c.c.Desc(), got, c.want)
		}
	}
	families, err := rig.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range families {
		if mf.GetName() == "sregraph_ingest_http_request_duration_seconds" {
			series = len(mf.GetMetric())
		}
	}
	if series != 2 {
		t.Errorf("duration histogram has %d series, want 2 (events, unknown)", series)
	}
}

// TestHTTPConfig covers flags, files and validation.
func TestHTTPConfig(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "gh")
	if err := os.WriteFile(secretFile, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args    []string
		check   func(Config) bool
		wantErr string
	}{
		{args: nil, check: func(c Config) bool { return c.MaxBody == 10<<20 && !c.WebhooksToKafka }},
		{args: []string{"--max-body", "512KiB"}, check: func(c Config) bool { return c.MaxBody == 512<<10 }},
		{args: []string{"--max-body", "2MB"}, check: func(c Config) bool { return c.MaxBody == 2e6 }},
		{args: []string{"--max-body", "65536"}, check: func(c Config) bool { return c.MaxBody == 65536 }},
		{args: []string{"--max-body", "lots"}, wantErr: "not a size"},
		{args: []string{"--max-body", "100"}, wantErr: "at least 1KiB"},
		{args: []string{"--github-secret-file", secretFile}, check: func(c Config) bool { return c.Secrets["github-secret"] == "s3cret-from-file" }},
		{args: []string{"--github-secret-file", filepath.Join(dir, "missing")}, wantErr: "read secret"},
		{args: []string{"--pagerduty-secret", "pd", "--flux-secret", "fx", "--jira-secret", "ji"}, check: func(c Config) bool {
			return c.Secrets["pagerduty-secret"] == "pd" && c.Secrets["flux-secret"] == "fx" && c.Secrets["jira-secret"] == "ji"
		}},
		{args: []string{"--webhook-token", "short"}, wantErr: "shorter than 16"},
		{args: []string{"--webhook-token", " 0123456789abcdef0123"}, wantErr: "white space"},
		{args: []string{"--webhooks-to-kafka"}, check: func(c Config) bool { return c.WebhooksToKafka }},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var cfg Config
			cfg.RegisterFlags(fs)
			err := fs.Parse(c.args)
			if err == nil {
				err = cfg.Validate()
			}
			switch {
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("err %v, want one containing %q", err, c.wantErr)
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case c.wantErr == "" && !c.check(cfg):
				t.Fatalf("config %+v", cfg)
			}
		})
	}
	if _, err := New(Config{WebhooksToKafka: true}, mustOpenHTTPStore(t), Options{}); err == nil || !strings.Contains(err.Error(), "needs Kafka") {
		t.Errorf("--webhooks-to-kafka without a publisher: %v", err)
	}
}

// FuzzEventsEndpoint posts arbitrary bodies to /v1/events: whatever comes
// in, the answer is a JSON Response with a 2xx or 4xx status, and
// its counts add up to the items the body holds.
func FuzzEventsEndpoint(f *testing.F) {
	for _, s := range ingesttest.Samples(f, ingest.FormatCanonical, ingest.FormatAlertmanager) {
		f.Add(s.Body)
	}
	f.Add(mustRead(f, ingesttest.Testdata("http", "ndjson-malformed-middle.ndjson")))
	store := mustOpenHTTPStore(f)
	h, err := New(DefaultConfig(), store, Options{Now: func() time.Time { return httpNow }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body)))
		var resp Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, rec.Body.Bytes())
		}
		switch rec.Code {
		case http.StatusOK, http.StatusUnprocessableEntity:
			items, err := ingest.DecodeCanonical(body, httpNow)
			if err != nil {
				t.Fatalf("status %d for a body the decoder refuses: %v", rec.Code, err)
			}
			if got := resp.Accepted + resp.Duplicates + len(resp.Rejected); got != len(items) {
				t.Fatalf("accepted+duplicates+rejected = %d, want the %d items: %s", got, len(items), rec.Body.Bytes())
			}
		case http.StatusBadRequest:
			if resp.Error == "" {
				t.Fatal("400 without an error message")
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}

// FuzzWebhookEndpoints posts arbitrary bodies to every webhook: never a
// 5xx, always a JSON answer.
func FuzzWebhookEndpoints(f *testing.F) {
	webhooks := ingest.Webhooks()
	for i, wh := range webhooks {
		for _, s := range ingesttest.Samples(f, wh.Name) {
			f.Add(uint8(i), s.Body)
		}
		f.Add(uint8(i), []byte(`{}`))
	}
	store := mustOpenHTTPStore(f)
	h, err := New(DefaultConfig(), store, Options{Now: func() time.Time { return httpNow }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		wh := webhooks[int(which)%len(webhooks)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/webhooks/"+wh.Endpoint, bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("%s: status %d: %s", wh.Endpoint, rec.Code, rec.Body.Bytes())
		}
		var resp Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s: answer is not JSON: %v", wh.Endpoint, err)
		}
	})
}

// BenchmarkEventsNDJSON measures a 1,000-event NDJSON request end to end:
// HTTP, decoding and a durable write to the embedded store. Every request
// carries new events.
func BenchmarkEventsNDJSON(b *testing.B) {
	rig := mustStartHTTP(b, DefaultConfig(), nil)
	const n = 1000
	var buf bytes.Buffer
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf.Reset()
		for j := 0; j < n; j++ {
			fmt.Fprintf(&buf, `{"id":"d-%d-%d","kind":"deploy","service":"svc-%d","at":"2026-11-21T11:%02d:00Z","source":"ci","summary":"svc-%d v%d deployed"}`+"\n", i, j, j%50, j%60, j%50, i)
		}
		b.SetBytes(int64(buf.Len()))
		resp, err := rig.srv.Client().Post(rig.srv.URL+"/v1/events", "application/x-ndjson", bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// unavailableStore is a store that stopped after a fatal error, the way
// the embedded store does after a full disk: every write fails with an
// error wrapping graph.ErrUnavailable, until it is healed.
type unavailableStore struct {
	graph.Applier
	down   bool
	writes int
}

func (s *unavailableStore) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	if s.down {
		return graph.Written{}, fmt.Errorf("apply: embedded store stopped after a fatal error (restart the process): pebble: no space left on device: %w", graph.ErrUnavailable)
	}
	s.writes++
	return s.Applier.Apply(ctx, b)
}

// TestHTTPStoreUnavailable checks that a store failing with
// graph.ErrUnavailable gets every ingest route a 503 with Retry-After and
// a JSON body, acknowledges nothing, and that the same requests are
// accepted, once, when the store is back.
func TestHTTPStoreUnavailable(t *testing.T) {
	store := mustOpenHTTPStore(t)
	fake := &unavailableStore{Applier: store, down: true}
	rig := mustStartHTTPOn(t, DefaultConfig(), store, fake, nil)
	single := mustRead(t, ingesttest.Testdata("ingest", "canonical", "single.json"))
	firing := mustRead(t, ingesttest.Testdata("ingest", "alertmanager", "sloth-firing.json"))
	for _, c := range []struct {
		path string
		body []byte
	}{{"/v1/events", single}, {"/v1/webhooks/alertmanager", firing}} {
		a := rig.post(t, c.path, c.body, nil)
		if a.Status != http.StatusServiceUnavailable || a.Header.Get("Retry-After") != "5" {
			t.Fatalf("%s: status %d, Retry-After %q; want 503 and 5: %s", c.path, a.Status, a.Header.Get("Retry-After"), a.Raw)
		}
		if a.Body.Accepted != 0 || a.Body.Duplicates != 0 || a.Body.Error == "" {
			t.Errorf("%s: 503 body %s acknowledges something or says nothing", c.path, a.Raw)
		}
		if strings.Contains(a.Body.Error, "no space left") {
			t.Errorf("%s: 503 body %s leaks the store's internals", c.path, a.Raw)
		}
	}
	if n := len(rig.events(t)); n != 0 {
		t.Fatalf("the store holds %d events after every write failed", n)
	}
	fake.down = false
	for _, c := range []struct {
		path string
		body []byte
	}{{"/v1/events", single}, {"/v1/webhooks/alertmanager", firing}} {
		if a := rig.post(t, c.path, c.body, nil); a.Status != http.StatusOK || a.Body.Accepted == 0 {
			t.Errorf("%s once the store is back: status %d: %s", c.path, a.Status, a.Raw)
		}
	}
	if n := len(rig.events(t)); n == 0 {
		t.Error("nothing stored once the store is back")
	}
}
