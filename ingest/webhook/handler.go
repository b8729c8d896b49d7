package webhook

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
)

// Options are the collaborators of the ingest endpoints.
type Options struct {
	// Now is the clock bounding future timestamps; defaults to time.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Rename applies service aliases to decoded items before they are
	// stored; nil leaves names as they are.
	Rename func([]ingest.Item) []ingest.Item
	// Registerer receives the endpoint metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Publisher is where webhook deliveries go when
	// Config.WebhooksToKafka is set.
	Publisher Publisher
}

// Handler serves the ingest endpoints. Every call answers only once what
// it accepted is durable (in the store, or in Kafka with
// --webhooks-to-kafka), with a Response. Bad input never gets a 5xx answer
// and never takes the good items of the same request down with it.
type Handler struct {
	cfg    Config
	store  graph.Applier
	now    func() time.Time
	log    *slog.Logger
	rename func([]ingest.Item) []ingest.Item
	pub    Publisher
	m      *httpMetrics
	mux    *http.ServeMux
}

// Response is the JSON body of every ingest answer.
type Response struct {
	// Accepted counts the events that were new or changed a stored event
	// (a resolve, a newer revision), plus the declared dependencies.
	Accepted int `json:"accepted"`
	// Duplicates counts events that were already stored as they are: a
	// resend, or a source's retry of the same delivery.
	Duplicates int `json:"duplicates"`
	// Rejected lists the items that could not be used, by their position
	// in the body (the array element, the NDJSON line among non-empty
	// lines, the alert in an Alertmanager group).
	Rejected []RejectedItem `json:"rejected"`
	// Topic names the Kafka topic a webhook delivery was appended to
	// (--webhooks-to-kafka); Accepted then counts the items it holds.
	Topic string `json:"topic,omitempty"`
	// Error says why the request as a whole failed.
	Error string `json:"error,omitempty"`
}

// RejectedItem is one unusable item of a request.
type RejectedItem struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// New builds the ingest endpoints over store.
func New(cfg Config, store graph.Applier, opts Options) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("ingest http: no store")
	}
	if cfg.WebhooksToKafka && opts.Publisher == nil {
		return nil, errors.New("--webhooks-to-kafka needs Kafka: give --kafka-brokers (or --kafka embedded)")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newHTTPMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("ingest http metrics: %w", err)
	}
	h := &Handler{
		cfg: cfg, store: store, now: opts.Now, log: opts.Logger.With("component", "ingest-http"),
		rename: opts.Rename, pub: opts.Publisher, m: m,
	}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h, nil
}

// Register adds the ingest routes to mux: /v1/events and
// /v1/webhooks/{source}. Other methods than POST get 405, unknown sources
// 404 with the list of known ones.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("/v1/events", h.serveEvents)
	mux.HandleFunc("/v1/webhooks/{source}", h.serveWebhook)
	mux.HandleFunc("/v1/webhooks/", h.serveUnknownWebhook)
}

// ServeHTTP serves the ingest routes alone, for tests and embedding.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// requestError is a failure of a request as a whole.
type requestError struct {
	status  int
	outcome string
	msg     string
}

// The outcomes counted by sregraph_ingest_http_requests_total.
const (
	outcomeOK          = "ok"           // everything usable was accepted
	outcomePartial     = "partial"      // some items rejected, others accepted
	outcomeRejected    = "rejected"     // every item rejected
	outcomeMalformed   = "malformed"    // body unusable as a whole
	outcomeTooLarge    = "too_large"    // body over the limit
	outcomeEncoding    = "encoding"     // unsupported Content-Encoding
	outcomeAuth        = "unauthorized" // missing or wrong signature or token
	outcomeMethod      = "method"       // not POST
	outcomeUnknown     = "unknown"      // no such webhook
	outcomeUnavailable = "unavailable"  // store or Kafka down
	outcomeTimeout     = "timeout"      // body not sent within the server's read timeout
	outcomePublished   = "published"    // appended to Kafka
)

func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	const endpoint = "events"
	start := time.Now()
	if r.Method != http.MethodPost {
		h.fail(w, endpoint, start, &requestError{http.StatusMethodNotAllowed, outcomeMethod, "use POST to send events to " + r.URL.Path})
		return
	}
	body, rerr := h.readBody(w, r)
	if rerr != nil {
		h.fail(w, endpoint, start, rerr)
		return
	}
	now := h.now()
	items, err := ingest.DecodeCanonical(body, now)
	if err != nil {
		h.fail(w, endpoint, start, &requestError{http.StatusBadRequest, outcomeMalformed, userMessage(err) + nativeHint(body, ingest.HeadersFromHTTP(r.Header))})
		return
	}
	h.storeItems(w, r, endpoint, start, items, ingest.HeadersFromHTTP(r.Header), body)
}

// storeItems writes the usable items to the store and answers.
func (h *Handler) storeItems(w http.ResponseWriter, r *http.Request, endpoint string, start time.Time, items []ingest.Item, hdr ingest.Headers, body []byte) {
	if h.rename != nil {
		items = h.rename(items)
	}
	resp, err := h.apply(r.Context(), items)
	if err != nil {
		h.log.Warn("ingest: store unavailable", "endpoint", endpoint, "items", len(items), "err", err)
		h.fail(w, endpoint, start, &requestError{http.StatusServiceUnavailable, outcomeUnavailable,
			fmt.Sprintf("the store is unavailable; nothing from this request was stored; retry in %s", h.cfg.RetryAfter)})
		return
	}
	if endpoint == "events" && resp.Accepted+resp.Duplicates == 0 && len(resp.Rejected) > 0 {
		if hint := nativeHint(body, hdr); hint != "" {
			resp.Error = strings.TrimPrefix(hint, "; ")
		}
	}
	h.answer(w, endpoint, start, resp)
}

// apply stores the usable items and reports what happened to each. It
// returns an error only when the store failed for a reason that is not
// the input's fault.
func (h *Handler) apply(ctx context.Context, items []ingest.Item) (Response, error) {
	resp := Response{Rejected: []RejectedItem{}}
	split := ingest.SplitItems(items)
	for _, r := range split.Rejected {
		resp.Rejected = append(resp.Rejected, RejectedItem{Index: r.Index, Error: userMessage(r.Err)})
	}
	b := split.Batch
	if b.Len() == 0 {
		return resp, nil
	}
	deps := len(b.Dependencies)
	// When the store refuses the batch because of one of its items, which
	// the decoder let through, the items are written one by one to find
	// it and keep the others.
	written, err := ingest.ApplyParts(ctx, h.store.Apply, b, func(refusal error) []graph.Batch {
		h.log.Debug("ingest: batch refused, writing items one by one", "err", refusal)
		return ingest.Parts(b)
	}, func(part int, err error) {
		if part >= len(b.Events) {
			deps--
		}
		resp.Rejected = append(resp.Rejected, RejectedItem{Index: split.Index(part), Error: userMessage(err)})
	})
	if err != nil {
		return Response{}, err
	}
	resp.Accepted = written.Inserted + written.Updated + deps
	resp.Duplicates = written.Duplicates
	sort.Slice(resp.Rejected, func(i, j int) bool { return resp.Rejected[i].Index < resp.Rejected[j].Index })
	return resp, nil
}

// answer writes resp: 200 when anything was usable (or there was nothing
// to do), 422 when every item was rejected.
func (h *Handler) answer(w http.ResponseWriter, endpoint string, start time.Time, resp Response) {
	status, outcome := http.StatusOK, outcomeOK
	switch {
	case len(resp.Rejected) > 0 && resp.Accepted+resp.Duplicates == 0 && resp.Topic == "":
		status, outcome = http.StatusUnprocessableEntity, outcomeRejected
	case len(resp.Rejected) > 0:
		outcome = outcomePartial
	case resp.Topic != "":
		outcome = outcomePublished
	}
	h.m.items.WithLabelValues(endpoint, "accepted").Add(float64(resp.Accepted))
	h.m.items.WithLabelValues(endpoint, "duplicate").Add(float64(resp.Duplicates))
	h.m.items.WithLabelValues(endpoint, "rejected").Add(float64(len(resp.Rejected)))
	h.done(endpoint, outcome, start)
	writeJSON(w, status, resp)
}

// fail answers a request that failed as a whole.
func (h *Handler) fail(w http.ResponseWriter, endpoint string, start time.Time, e *requestError) {
	switch e.status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int((h.cfg.RetryAfter+time.Second-1)/time.Second)))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	}
	h.done(endpoint, e.outcome, start)
	writeJSON(w, e.status, Response{Rejected: []RejectedItem{}, Error: e.msg})
}

func (h *Handler) done(endpoint, outcome string, start time.Time) {
	h.m.requests.WithLabelValues(endpoint, outcome).Inc()
	h.m.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may have gone; nothing else to tell it
}

// readBody reads the request body, decompressing gzip, within the size
// limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *requestError) {
	limit := h.cfg.MaxBody
	tooLarge := &requestError{http.StatusRequestEntityTooLarge, outcomeTooLarge,
		fmt.Sprintf("request body is larger than the %s limit (--max-body): split it into smaller requests", byteSize(limit))}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			if isMaxBytes(err) {
				return nil, tooLarge
			}
			return nil, &requestError{http.StatusBadRequest, outcomeMalformed, "Content-Encoding is gzip but the body is not gzip data: " + err.Error()}
		}
		defer zr.Close()
		src = zr
	default:
		return nil, &requestError{http.StatusUnsupportedMediaType, outcomeEncoding,
			fmt.Sprintf("Content-Encoding %q is not supported: send the body uncompressed or gzip-compressed", enc)}
	}
	body, err := io.ReadAll(io.LimitReader(src, limit+1))
	switch {
	case isMaxBytes(err), err == nil && int64(len(body)) > limit:
		return nil, tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &requestError{http.StatusRequestTimeout, outcomeTimeout, ReadTimeoutMessage}
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &requestError{http.StatusBadRequest, outcomeMalformed, "the gzip body is corrupt or truncated: " + err.Error()}
	case err != nil:
		return nil, &requestError{http.StatusBadRequest, outcomeMalformed, "could not read the request body: " + err.Error()}
	}
	return body, nil
}

// ReadTimeoutMessage is what a client whose body did not arrive within
// the HTTP server's read timeout is told.
const ReadTimeoutMessage = "the request body did not arrive within the server's read timeout (--http-read-timeout): send it faster, or in smaller requests"

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// byteSize renders n in the largest binary unit that divides it.
func byteSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// userMessage is the user-facing text of a decoding or item error.
func userMessage(err error) string {
	if msg := graph.Message(err); msg != "" {
		return msg
	}
	return err.Error()
}

// nativeHint names the webhook endpoint a body sent to /v1/events was
// probably meant for, or returns "".
func nativeHint(body []byte, hdr ingest.Headers) string {
	name, _ := ingest.Detect(body, hdr)
	src, ok := ingest.Lookup(name)
	if !ok || src.Endpoint == "" {
		return ""
	}
	return fmt.Sprintf("; this looks like a %s payload: POST it to /v1/webhooks/%s", src.Title, src.Endpoint)
}

// httpMetrics are the ingest endpoints' Prometheus metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	items    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sregraph_ingest_http_requests_total",
			Help: "Ingest HTTP requests by endpoint (events or the webhook source) and outcome (ok, partial, rejected, published, malformed, too_large, encoding, unauthorized, method, unknown, unavailable).",
		}, []string{"endpoint", "outcome"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sregraph_ingest_http_items_total",
			Help: "Items received over HTTP by endpoint and result (accepted, duplicate, rejected).",
		}, []string{"endpoint", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sregraph_ingest_http_request_duration_seconds",
			Help:    "Time to answer an ingest HTTP request, including the durable write.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.items, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
