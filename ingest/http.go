package ingest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
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
)

// DefaultMaxBody is the default limit on an ingest request body, after
// decompression.
const DefaultMaxBody = 10 << 20

// HTTPConfig configures the HTTP ingest endpoints: POST /v1/events and
// POST /v1/webhooks/{source}. Start from DefaultHTTPConfig (or
// RegisterFlags) and call Validate.
type HTTPConfig struct {
	// MaxBody bounds a request body in bytes, both as sent and after
	// gzip decompression; a larger body gets 413.
	MaxBody int64
	// GitHubSecret, PagerDutySecret, FluxSecret and JiraSecret are the
	// HMAC secrets of the sources that sign their deliveries. When one is
	// set, that source's deliveries must carry a valid signature.
	GitHubSecret    string
	PagerDutySecret string
	FluxSecret      string
	JiraSecret      string
	// WebhookToken is a shared secret for every webhook without a
	// signature secret of its own. When set, those deliveries must present
	// it (see WebhookTokenHeader).
	WebhookToken string
	// WebhooksToKafka makes webhook endpoints append the raw delivery and
	// its headers to the topic of its family instead of writing to the
	// store; the Kafka consumers then store it.
	WebhooksToKafka bool
	// RetryAfter is what a 503 answer (store or Kafka unavailable) tells
	// the sender to wait before retrying.
	RetryAfter time.Duration
}

// DefaultHTTPConfig returns the configuration the flags default to.
func DefaultHTTPConfig() HTTPConfig {
	return HTTPConfig{MaxBody: DefaultMaxBody, RetryAfter: 5 * time.Second}
}

// RegisterFlags registers the ingest endpoint flags on fs, writing into c
// and setting c to the defaults first. Every secret flag has a -file
// variant that reads the secret from a file (trailing newlines dropped),
// so that secrets need not appear in process listings.
func (c *HTTPConfig) RegisterFlags(fs *flag.FlagSet) {
	*c = DefaultHTTPConfig()
	fs.Func("max-body", "largest ingest request body, after decompression (bytes, or with a unit: 512KiB, 10MiB, 1GiB; default 10MiB)", func(s string) error {
		n, err := parseByteSize(s)
		if err != nil {
			return err
		}
		c.MaxBody = n
		return nil
	})
	secret := func(name, what string, dst *string) {
		fs.Func(name, what, func(s string) error {
			*dst = s
			return nil
		})
		fs.Func(name+"-file", "file holding the value of --"+name, func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("read secret: %w", err)
			}
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				return fmt.Errorf("secret file %s is empty", path)
			}
			*dst = v
			return nil
		})
	}
	secret("github-secret", "GitHub webhook secret: deliveries must carry a valid X-Hub-Signature-256", &c.GitHubSecret)
	secret("pagerduty-secret", "PagerDuty v3 webhook signing secret: deliveries must carry a valid X-PagerDuty-Signature", &c.PagerDutySecret)
	secret("flux-secret", "Flux generic-hmac provider secret: deliveries must carry a valid X-Signature", &c.FluxSecret)
	secret("jira-secret", "Jira admin webhook secret: deliveries must carry a valid X-Hub-Signature", &c.JiraSecret)
	secret("webhook-token", "shared token every other webhook must present (Authorization: Bearer, basic-auth password, "+WebhookTokenHeader+" header or ?token=)", &c.WebhookToken)
	fs.BoolVar(&c.WebhooksToKafka, "webhooks-to-kafka", false, "append webhook deliveries, raw, to their family's Kafka topic instead of writing them to the store (needs Kafka)")
}

// Validate checks c and fills zero values with the defaults.
func (c *HTTPConfig) Validate() error {
	d := DefaultHTTPConfig()
	if c.MaxBody == 0 {
		c.MaxBody = d.MaxBody
	}
	if c.MaxBody < 1024 {
		return fmt.Errorf("--max-body %d: want at least 1KiB", c.MaxBody)
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = d.RetryAfter
	}
	for name, v := range map[string]string{
		"github-secret": c.GitHubSecret, "pagerduty-secret": c.PagerDutySecret,
		"flux-secret": c.FluxSecret, "jira-secret": c.JiraSecret, "webhook-token": c.WebhookToken,
	} {
		if v != "" && strings.TrimSpace(v) != v {
			return fmt.Errorf("--%s starts or ends with white space; is that a copy-and-paste accident?", name)
		}
	}
	if c.WebhookToken != "" && len(c.WebhookToken) < 16 {
		return errors.New("--webhook-token is shorter than 16 characters; generate one with `openssl rand -hex 24`")
	}
	return nil
}

// parseByteSize reads a byte count: a plain integer, or one with a unit
// (B, KB, KiB, MB, MiB, GB, GiB; case-insensitive, 1 KB = 1000 bytes).
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	}
	lower := strings.ToLower(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			lower, mult = strings.TrimSpace(strings.TrimSuffix(lower, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(lower, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: want a positive number of bytes, e.g. 10485760 or 10MiB", s)
	}
	return n * mult, nil
}

// HTTPOptions are the collaborators of the ingest endpoints.
type HTTPOptions struct {
	// Now is the clock bounding future timestamps; defaults to time.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Rename applies service aliases to decoded items before they are
	// stored; nil leaves names as they are.
	Rename func([]Item) []Item
	// Registerer receives the endpoint metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Publisher is where webhook deliveries go when
	// HTTPConfig.WebhooksToKafka is set.
	Publisher *WebhookPublisher
}

// HTTP serves the ingest endpoints. Every call answers only once what it
// accepted is durable (in the store, or in Kafka with --webhooks-to-kafka),
// with an IngestResponse. Bad input never gets a 5xx answer and never takes
// the good items of the same request down with it.
type HTTP struct {
	cfg     HTTPConfig
	store   graph.Applier
	now     func() time.Time
	log     *slog.Logger
	rename  func([]Item) []Item
	pub     *WebhookPublisher
	m       *httpMetrics
	mux     *http.ServeMux
	byName  map[string]*webhook
	secrets map[string][]byte
}

// IngestResponse is the JSON body of every ingest answer.
type IngestResponse struct {
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

// NewHTTP builds the ingest endpoints over store, which must return from
// Apply only once a batch is durable.
func NewHTTP(cfg HTTPConfig, store graph.Applier, opts HTTPOptions) (*HTTP, error) {
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
	h := &HTTP{
		cfg: cfg, store: store, now: opts.Now, log: opts.Logger.With("component", "ingest-http"),
		rename: opts.Rename, pub: opts.Publisher, m: m, byName: map[string]*webhook{},
		secrets: map[string][]byte{
			secretGitHub: []byte(cfg.GitHubSecret), secretPagerDuty: []byte(cfg.PagerDutySecret),
			secretFlux: []byte(cfg.FluxSecret), secretJira: []byte(cfg.JiraSecret),
		},
	}
	for i := range webhooks {
		h.byName[webhooks[i].name] = &webhooks[i]
	}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h, nil
}

// Register adds the ingest routes to mux: /v1/events and
// /v1/webhooks/{source}. Other methods than POST get 405, unknown sources
// 404 with the list of known ones.
func (h *HTTP) Register(mux *http.ServeMux) {
	mux.HandleFunc("/v1/events", h.serveEvents)
	mux.HandleFunc("/v1/webhooks/{source}", h.serveWebhook)
	mux.HandleFunc("/v1/webhooks/", h.serveUnknownWebhook)
}

// ServeHTTP serves the ingest routes alone, for tests and embedding.
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

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
	outcomePublished   = "published"    // appended to Kafka
)

func (h *HTTP) serveEvents(w http.ResponseWriter, r *http.Request) {
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
	items, err := DecodeCanonical(body, now)
	if err != nil {
		h.fail(w, endpoint, start, &requestError{http.StatusBadRequest, outcomeMalformed, userMessage(err) + nativeHint(body, HeadersFromHTTP(r.Header))})
		return
	}
	h.storeItems(w, r, endpoint, start, items, HeadersFromHTTP(r.Header), body)
}

// storeItems writes the usable items to the store and answers.
func (h *HTTP) storeItems(w http.ResponseWriter, r *http.Request, endpoint string, start time.Time, items []Item, hdr Headers, body []byte) {
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
func (h *HTTP) apply(ctx context.Context, items []Item) (IngestResponse, error) {
	resp := IngestResponse{Rejected: []RejectedItem{}}
	var b graph.Batch
	var pos []int // item index of each event, then of each dependency
	var depPos []int
	for i, it := range items {
		switch {
		case it.Err != nil:
			resp.Rejected = append(resp.Rejected, RejectedItem{Index: i, Error: userMessage(it.Err)})
		case it.Event != nil:
			b.Events = append(b.Events, *it.Event)
			pos = append(pos, i)
		case it.Dependency != nil:
			b.Dependencies = append(b.Dependencies, *it.Dependency)
			depPos = append(depPos, i)
		}
	}
	if b.Len() == 0 {
		return resp, nil
	}
	written, err := h.store.Apply(ctx, b)
	switch {
	case err == nil:
		resp.Accepted = written.Inserted + written.Updated + len(b.Dependencies)
		resp.Duplicates = written.Duplicates
		return resp, nil
	case !errors.Is(err, graph.ErrInvalid):
		return IngestResponse{}, err
	}
	// The store refused the batch because of one of its items, which the
	// decoder let through. Write them one by one to find it and keep the
	// others.
	h.log.Debug("ingest: batch refused, writing items one by one", "err", err)
	one := func(i int, single graph.Batch) error {
		wr, err := h.store.Apply(ctx, single)
		switch {
		case err == nil:
			resp.Accepted += wr.Inserted + wr.Updated + len(single.Dependencies)
			resp.Duplicates += wr.Duplicates
		case errors.Is(err, graph.ErrInvalid):
			resp.Rejected = append(resp.Rejected, RejectedItem{Index: i, Error: userMessage(err)})
		default:
			return err
		}
		return nil
	}
	for k, e := range b.Events {
		if err := one(pos[k], graph.Batch{Events: []graph.Event{e}}); err != nil {
			return IngestResponse{}, err
		}
	}
	for k, d := range b.Dependencies {
		if err := one(depPos[k], graph.Batch{Dependencies: []graph.Dependency{d}}); err != nil {
			return IngestResponse{}, err
		}
	}
	sort.Slice(resp.Rejected, func(i, j int) bool { return resp.Rejected[i].Index < resp.Rejected[j].Index })
	return resp, nil
}

// answer writes resp: 200 when anything was usable (or there was nothing
// to do), 422 when every item was rejected.
func (h *HTTP) answer(w http.ResponseWriter, endpoint string, start time.Time, resp IngestResponse) {
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
func (h *HTTP) fail(w http.ResponseWriter, endpoint string, start time.Time, e *requestError) {
	switch e.status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int((h.cfg.RetryAfter+time.Second-1)/time.Second)))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	}
	h.done(endpoint, e.outcome, start)
	writeJSON(w, e.status, IngestResponse{Rejected: []RejectedItem{}, Error: e.msg})
}

func (h *HTTP) done(endpoint, outcome string, start time.Time) {
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
func (h *HTTP) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *requestError) {
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
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &requestError{http.StatusBadRequest, outcomeMalformed, "the gzip body is corrupt or truncated: " + err.Error()}
	case err != nil:
		return nil, &requestError{http.StatusBadRequest, outcomeMalformed, "could not read the request body: " + err.Error()}
	}
	return body, nil
}

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
func nativeHint(body []byte, hdr Headers) string {
	name, _ := Detect(body, hdr)
	if name == FormatCanonical {
		return ""
	}
	for _, wh := range webhooks {
		if wh.format == name {
			return fmt.Sprintf("; this looks like a %s payload: POST it to /v1/webhooks/%s", wh.title, wh.name)
		}
	}
	return ""
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
