package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest/ingesttest"
)

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func post(t *testing.T, url, contentType, encoding string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func TestHandler(t *testing.T) {
	jsonBody, err := os.ReadFile(filepath.Join(testdata, "checkout.json"))
	if err != nil {
		t.Fatal(err)
	}
	pbBody, err := os.ReadFile(filepath.Join(testdata, "checkout.pb"))
	if err != nil {
		t.Fatal(err)
	}
	partial, err := os.ReadFile(filepath.Join(testdata, "partial.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, contentType, encoding string
		body                        []byte
		maxBytes                    int64
		storeErr                    error
		wantStatus                  int
		wantBody                    string // JSON responses
		wantEdges                   map[string]edgeTotal
	}{
		{name: "protobuf", contentType: ContentTypeProtobuf, body: pbBody, wantStatus: 200,
			wantEdges: map[string]edgeTotal{"frontend->checkout": {3, 1}, "checkout->payments": {3, 1}, "checkout->pg-orders.internal": {3, 0}, "user->frontend": {3, 1}}},
		{name: "JSON", contentType: ContentTypeJSON, body: jsonBody, wantStatus: 200, wantBody: `{}`,
			wantEdges: map[string]edgeTotal{"frontend->checkout": {3, 1}, "checkout->payments": {3, 1}, "checkout->pg-orders.internal": {3, 0}, "user->frontend": {3, 1}}},
		{name: "gzip JSON", contentType: ContentTypeJSON, encoding: "gzip", body: gzipped(jsonBody), wantStatus: 200, wantBody: `{}`,
			wantEdges: map[string]edgeTotal{"frontend->checkout": {3, 1}, "checkout->payments": {3, 1}, "checkout->pg-orders.internal": {3, 0}, "user->frontend": {3, 1}}},
		{name: "partial success", contentType: ContentTypeJSON, body: partial, wantStatus: 200,
			wantBody: `{"partialSuccess":{"rejectedSpans":"2","errorMessage":"span eee19b7ec3c1b174: resource without service.name"}}`},
		{name: "undecodable", contentType: ContentTypeJSON, body: []byte(`{"resourceSpans": 7}`), wantStatus: 400},
		{name: "bad gzip", contentType: ContentTypeProtobuf, encoding: "gzip", body: pbBody, wantStatus: 400},
		{name: "unknown encoding", contentType: ContentTypeProtobuf, encoding: "br", body: pbBody, wantStatus: 415},
		{name: "not OTLP", contentType: "text/plain", body: []byte("hi"), wantStatus: 415},
		{name: "too large", contentType: ContentTypeJSON, body: jsonBody, maxBytes: 1000, wantStatus: 413},
		{name: "too large once unzipped", contentType: ContentTypeJSON, encoding: "gzip", body: gzipped(jsonBody), maxBytes: 5000, wantStatus: 413},
		{name: "store down", contentType: ContentTypeProtobuf, body: pbBody, storeErr: graph.ErrUnavailable, wantStatus: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			store.fail = tc.storeErr
			clock := goldenNow
			agg := NewAggregator(Config{}, func() time.Time { return clock })
			srv := httptest.NewServer(NewHandler(agg, store, HandlerConfig{MaxBodyBytes: tc.maxBytes}))
			defer srv.Close()
			resp, body := post(t, srv.URL+"/v1/traces", tc.contentType, tc.encoding, tc.body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantBody != "" {
				var got, want any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				json.Unmarshal([]byte(tc.wantBody), &want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("body %s, want %s", body, tc.wantBody)
				}
			}
			switch {
			case tc.wantStatus == 200 && tc.contentType == ContentTypeProtobuf:
				var r coltracepb.ExportTraceServiceResponse
				if err := proto.Unmarshal(body, &r); err != nil || r.PartialSuccess != nil {
					t.Errorf("response %v %v", &r, err)
				}
			case tc.wantStatus != 200 && resp.Header.Get("Content-Type") == ContentTypeProtobuf:
				var st spb.Status
				if err := proto.Unmarshal(body, &st); err != nil || st.Message == "" {
					t.Errorf("error response %v %v", &st, err)
				}
			}
			if tc.wantEdges != nil {
				got := store.edges()
				for k, v := range tc.wantEdges {
					if got[k] != v {
						t.Errorf("edge %s: %+v, want %+v (all: %v)", k, got[k], v, got)
					}
				}
			}
		})
	}
}

// TestHandlerRetry: a client's retry of a request, after a success or a
// store failure, never counts twice, and a failed request's calls are
// written by the retry even though its spans were already paired.
func TestHandlerRetry(t *testing.T) {
	store := newMemStore()
	clock := goldenNow
	agg := NewAggregator(Config{}, func() time.Time { return clock })
	h := NewHandler(agg, store, HandlerConfig{})
	srv := httptest.NewServer(h)
	defer srv.Close()

	marshal := func(spans ...sp) []byte {
		b, err := proto.Marshal(request(spans...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	clientSide := marshal(sp{svc: "a", trace: 1, id: 10, kind: client}, sp{svc: "a", trace: 2, id: 10, kind: client})
	serverSide := marshal(sp{svc: "b", trace: 1, id: 11, parent: 10, kind: server, failed: true}, sp{svc: "b", trace: 2, id: 11, parent: 10, kind: server})
	want := map[string]edgeTotal{"a->b": {2, 1}}

	if resp, body := post(t, srv.URL, ContentTypeProtobuf, "", clientSide); resp.StatusCode != 200 {
		t.Fatalf("client side: %d %s", resp.StatusCode, body)
	}
	store.mu.Lock()
	store.fail = errors.New("disk full")
	store.mu.Unlock()
	if resp, _ := post(t, srv.URL, ContentTypeProtobuf, "", serverSide); resp.StatusCode != 503 {
		t.Fatalf("server side with the store down: %d, want 503", resp.StatusCode)
	}
	if got := store.edges(); len(got) != 0 {
		t.Fatalf("written while the store was down: %v", got)
	}
	// While the store is down, other requests are refused uncounted.
	other := marshal(sp{svc: "a", trace: 3, id: 10, kind: client, attrs: map[string]string{"db.system": "redis"}})
	spans := agg.Stats().Spans
	if resp, _ := post(t, srv.URL, ContentTypeProtobuf, "", other); resp.StatusCode != 503 {
		t.Fatalf("another request with the store down: %d, want 503", resp.StatusCode)
	}
	if got := agg.Stats().Spans; got != spans {
		t.Errorf("a refused request was counted: %d spans, had %d", got, spans)
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	for i := 0; i < 3; i++ { // the retry, then two more copies
		if resp, body := post(t, srv.URL, ContentTypeProtobuf, "", serverSide); resp.StatusCode != 200 {
			t.Fatalf("retry %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if resp, _ := post(t, srv.URL, ContentTypeProtobuf, "", other); resp.StatusCode != 200 {
		t.Fatalf("the refused request, again: %d", resp.StatusCode)
	}
	want["a->redis"] = edgeTotal{1, 0}
	if got := store.edges(); got["a->b"] != want["a->b"] || got["a->redis"] != want["a->redis"] || len(got) != 2 {
		t.Errorf("edges %v, want %v", got, want)
	}
	writes := store.writes
	if resp, _ := post(t, srv.URL, ContentTypeProtobuf, "", clientSide); resp.StatusCode != 200 {
		t.Fatal("repeat of the first request")
	}
	if store.writes != writes {
		t.Errorf("a repeated request was written again")
	}
	// A restart forgets the hashes: the retry rewrites the same producer
	// key, which replaces.
	agg2 := NewAggregator(Config{}, func() time.Time { return clock })
	srv2 := httptest.NewServer(NewHandler(agg2, store, HandlerConfig{}))
	defer srv2.Close()
	post(t, srv2.URL, ContentTypeProtobuf, "", marshal(sp{svc: "a", trace: 1, id: 10, kind: client}, sp{svc: "b", trace: 1, id: 11, parent: 10, kind: server}))
	post(t, srv2.URL, ContentTypeProtobuf, "", marshal(sp{svc: "a", trace: 1, id: 10, kind: client}, sp{svc: "b", trace: 1, id: 11, parent: 10, kind: server}))
	if got := store.edges(); got["a->b"] != (edgeTotal{3, 1}) || got["a->redis"] != (edgeTotal{1, 0}) {
		t.Errorf("after a restart and a repeated request: %v, want 3 calls", got)
	}
}

// TestHandlerRun: the background flusher writes virtual edges of expired
// spans, retries them while the store is down, and flushes what is left
// when its context ends.
func TestHandlerRun(t *testing.T) {
	store := newMemStore()
	clock := goldenNow
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	now := func() time.Time { <-mu; defer func() { mu <- struct{}{} }(); return clock }
	advance := func(d time.Duration) { <-mu; clock = clock.Add(d); mu <- struct{}{} }
	agg := NewAggregator(Config{}, now)
	h := NewHandler(agg, store, HandlerConfig{FlushEvery: 5 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	body, _ := proto.Marshal(request(
		sp{svc: "a", trace: 1, id: 10, kind: client, attrs: map[string]string{"peer.service": "stripe"}},
		sp{svc: "a", trace: 2, id: 10, kind: client, attrs: map[string]string{"peer.service": "ledger"}},
	))
	if resp, _ := post(t, srv.URL, ContentTypeProtobuf, "", body); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	store.mu.Lock()
	store.fail = errors.New("down")
	store.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	advance(DefaultWait)
	time.Sleep(50 * time.Millisecond) // several failing rounds
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	ingesttest.Wait(t, 5*time.Second, "an edge written once the store is back", func() bool { return len(store.edges()) >= 1 })
	if got := store.edges(); got["a->stripe"] != (edgeTotal{1, 0}) || got["a->ledger"] != (edgeTotal{1, 0}) {
		t.Errorf("edges %v", got)
	}
	// One more span pending when the context ends is flushed on the way out.
	body, _ = proto.Marshal(request(sp{svc: "a", trace: 3, id: 10, kind: client, attrs: map[string]string{"peer.service": "stripe"}}))
	post(t, srv.URL, ContentTypeProtobuf, "", body)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := store.edges(); got["a->stripe"] != (edgeTotal{2, 0}) {
		t.Errorf("after shutdown: %v", got)
	}
}

// TestHandlerRefusedSaysWhy: counts the store refuses get 400 with a
// message, also when the store's error carries no user-facing one.
func TestHandlerRefusedSaysWhy(t *testing.T) {
	store := newMemStore()
	store.mu.Lock()
	store.fail = fmt.Errorf("bucket out of range: %w", graph.ErrInvalid)
	store.mu.Unlock()
	agg := NewAggregator(Config{}, func() time.Time { return goldenNow })
	srv := httptest.NewServer(NewHandler(agg, store, HandlerConfig{}))
	defer srv.Close()
	body, err := proto.Marshal(request(sp{svc: "a", trace: 1, id: 10, kind: client, attrs: map[string]string{"db.system": "redis"}}))
	if err != nil {
		t.Fatal(err)
	}
	resp, out := post(t, srv.URL, ContentTypeProtobuf, "", body)
	var st spb.Status
	if err := proto.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || st.Message == "" {
		t.Fatalf("status %d, message %q; want 400 saying why", resp.StatusCode, st.Message)
	}
}

// TestHandlerBadInputIsValidJSON: bad input gets a 4xx whose body is
// valid JSON, even when the input is not UTF-8 and the decoder's message
// echoes it.
func TestHandlerBadInputIsValidJSON(t *testing.T) {
	agg := NewAggregator(Config{}, func() time.Time { return goldenNow })
	srv := httptest.NewServer(NewHandler(agg, newMemStore(), HandlerConfig{}))
	defer srv.Close()
	for _, body := range [][]byte{
		{0xff},
		[]byte("\xff\xfe"),
		[]byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"\xff","value":{"stringValue":"x"}}]}}]}`),
		[]byte(`{"resourceSpans":"\xc3"}`),
		[]byte(`{"\xff":1}`),
		[]byte("[\xe2\x82"),
	} {
		t.Run(fmt.Sprintf("%q", body), func(t *testing.T) {
			resp, out := post(t, srv.URL, ContentTypeJSON, "", body)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Fatalf("status %d, body %q; want a 4xx", resp.StatusCode, out)
			}
			var st map[string]any
			if err := json.Unmarshal(out, &st); err != nil {
				t.Fatalf("body %q is not JSON: %v", out, err)
			}
			if msg, _ := st["message"].(string); msg == "" {
				t.Fatalf("body %q has no message saying why", out)
			}
		})
	}
}

// TestHandlerStoreUnavailable: a store failing with graph.ErrUnavailable
// (the embedded store after a full disk) gets OTLP/JSON requests a 503
// with Retry-After and a JSON google.rpc.Status saying UNAVAILABLE; the
// calls are counted once when the store is back and the client retries.
func TestHandlerStoreUnavailable(t *testing.T) {
	jsonBody, err := os.ReadFile(filepath.Join(testdata, "checkout.json"))
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	store.fail = fmt.Errorf("apply: embedded store stopped after a fatal error (restart the process): no space left on device: %w", graph.ErrUnavailable)
	agg := NewAggregator(Config{}, func() time.Time { return goldenNow })
	srv := httptest.NewServer(NewHandler(agg, store, HandlerConfig{}))
	defer srv.Close()
	for i := 0; i < 2; i++ {
		resp, body := post(t, srv.URL+"/v1/traces", ContentTypeJSON, "", jsonBody)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("try %d: status %d, Retry-After %q; want 503 with Retry-After: %s", i, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != ContentTypeJSON {
			t.Errorf("try %d: Content-Type %q, want %s", i, ct, ContentTypeJSON)
		}
		var st struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &st); err != nil || st.Code != 14 || st.Message == "" {
			t.Errorf("try %d: body %s (%v); want a JSON status with code 14 (UNAVAILABLE) and a message", i, body, err)
		}
	}
	if n := len(store.edges()); n != 0 {
		t.Fatalf("%d edges stored while the store failed", n)
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	resp, body := post(t, srv.URL+"/v1/traces", ContentTypeJSON, "", jsonBody)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("retry once the store is back: status %d: %s", resp.StatusCode, body)
	}
	if got := store.edges()["frontend->checkout"]; got != (edgeTotal{3, 1}) {
		t.Errorf("frontend->checkout after the retry: %+v, want {3 1} (counted once)", got)
	}
}
