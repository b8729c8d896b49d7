package otlp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sregraph/sregraph/ingest/ingesttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracedService is one in-process HTTP service instrumented with the
// OpenTelemetry Go SDK, exporting to sregraph over OTLP/HTTP.
type tracedService struct {
	name string
	tp   *sdktrace.TracerProvider
	srv  *httptest.Server
}

func newTracedService(t *testing.T, name, version, endpoint string, opts []otlptracehttp.Option, handle func(ctx context.Context, tr trace.Tracer, w http.ResponseWriter)) *tracedService {
	t.Helper()
	exp, err := otlptracehttp.New(t.Context(), append([]otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", name), attribute.String("service.version", version),
		attribute.String("deployment.environment.name", "test"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(50*time.Millisecond)))
	s := &tracedService{name: name, tp: tp}
	tr := tp.Tracer("sregraph-e2e")
	prop := propagation.TraceContext{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tr.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		handle(ctx, tr, rec)
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
	}))
	return s
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// call makes an instrumented HTTP call: a CLIENT span, the W3C trace
// context in the headers, an error status on a 5xx.
func call(ctx context.Context, tr trace.Tracer, url string) (int, error) {
	ctx, span := tr.Start(ctx, "POST", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("url.full", url)))
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, err
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return 0, err
	}
	resp.Body.Close()
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, resp.Status)
	}
	return resp.StatusCode, nil
}

// TestEndToEndSDK: frontend → checkout → payments, three HTTP services
// calling each other for real, each exporting with the official SDK's
// otlptracehttp exporter (protobuf, JSON, and gzip-compressed protobuf) to
// the Handler; payments fails every third call.
func TestEndToEndSDK(t *testing.T) {
	store := teeWriter{mem: newMemStore(), db: mustOpenPebble(t)}
	started := time.Now()
	agg := NewAggregator(Config{}, time.Now)
	h := NewHandler(agg, store, HandlerConfig{FlushEvery: 20 * time.Millisecond})
	var capture struct {
		sync.Mutex
		body []byte
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/traces", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") == ContentTypeJSON {
			body, _ := io.ReadAll(r.Body)
			capture.Lock()
			if capture.body == nil {
				capture.body = body
			}
			capture.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	}))
	sregraph := httptest.NewServer(mux)
	defer sregraph.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	endpoint := sregraph.URL + "/v1/traces"

	var paymentCalls atomic.Int64
	payments := newTracedService(t, "payments", "7.0.1", endpoint,
		[]otlptracehttp.Option{otlptracehttp.WithCompression(otlptracehttp.GzipCompression)},
		func(ctx context.Context, tr trace.Tracer, w http.ResponseWriter) {
			if paymentCalls.Add(1)%3 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
	checkout := newTracedService(t, "checkout", "1.4.2", endpoint,
		[]otlptracehttp.Option{otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON)},
		func(ctx context.Context, tr trace.Tracer, w http.ResponseWriter) {
			status, err := call(ctx, tr, payments.srv.URL+"/charge")
			if err != nil || status >= 500 {
				w.WriteHeader(http.StatusBadGateway)
			}
		})
	frontend := newTracedService(t, "frontend", "2.3.0", endpoint, nil, nil)
	services := []*tracedService{frontend, checkout, payments}
	defer func() {
		for _, s := range services {
			s.srv.Close()
		}
	}()

	const requests = 30
	ftr := frontend.tp.Tracer("sregraph-e2e")
	failures := 0
	for i := 0; i < requests; i++ {
		rctx, root := ftr.Start(t.Context(), "GET /cart", trace.WithSpanKind(trace.SpanKindServer))
		status, err := call(rctx, ftr, checkout.srv.URL+"/checkout")
		if err != nil {
			t.Fatal(err)
		}
		if status >= 500 {
			failures++
		}
		root.End()
	}
	if failures != requests/3 {
		t.Fatalf("%d failed requests, want %d", failures, requests/3)
	}
	for _, s := range services {
		if err := s.tp.Shutdown(t.Context()); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	want := map[string]edgeTotal{
		"frontend->checkout": {requests, int64(failures)},
		"checkout->payments": {requests, int64(failures)},
		// The frontend's root server spans are calls from the virtual caller.
		"user->frontend": {requests, 0},
	}
	from := started.Add(-2 * time.Minute)
	for name, got := range map[string]map[string]edgeTotal{
		"in-test store":  store.mem.edges(),
		"embedded store": storeEdges(t, store.db, []string{"checkout", "frontend"}, from, from.Add(time.Hour)),
	} {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: edges %v, want %v", name, got, want)
		}
	}
	if s := agg.Stats(); s.Spans != 5*requests || s.Paired != 2*requests || s.Rejected != 0 || s.Roots != requests {
		t.Errorf("stats %+v", s)
	}
	if ingesttest.Update() {
		capture.Lock()
		defer capture.Unlock()
		if capture.body == nil {
			t.Fatal("no JSON export captured")
		}
		if err := os.WriteFile(filepath.Join(testdata, "sdk-checkout.json"), capture.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
