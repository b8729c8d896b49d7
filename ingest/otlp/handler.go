package otlp

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
)

// HandlerConfig tunes a Handler. Zero fields get the defaults.
type HandlerConfig struct {
	// MaxBodyBytes bounds a request body, before and after gzip
	// (default 32 MiB); larger requests get 413.
	MaxBodyBytes int64
	// FlushEvery is how often Run expires pending spans and writes what
	// they became (default 1s).
	FlushEvery time.Duration
	// Remember is how many accepted request hashes are kept to recognise
	// a client's retry of a request that was already written (default
	// 4096).
	Remember int
	// Logger receives write failures; nil discards them.
	Logger *slog.Logger
}

func (c *HandlerConfig) fill() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = time.Second
	}
	if c.Remember <= 0 {
		c.Remember = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Handler serves OTLP/HTTP trace exports (POST /v1/traces). It answers
// only once the calls the request completed are durable in the store. A
// request is the producer "http/<hash of the body>" of the calls of its
// client spans, so a client's retry of the same request replaces rather
// than adds. Writes are serialised: a producer's counts are cumulative, and
// an older snapshot must never overwrite a newer one. While the store
// fails, new requests are refused with 503 before they are counted, so
// the clients keep them and memory holds only the failed write.
type Handler struct {
	agg *Aggregator
	w   graph.Applier
	cfg HandlerConfig

	// writeMu serialises taking counts from the aggregator and writing
	// them.
	writeMu sync.Mutex
	// backlog holds the anomalies a background flush could not write yet.
	backlog []graph.Event
	// failing is set while counts taken from the aggregator wait to be
	// written; both guarded by writeMu.
	failing bool

	mu       sync.Mutex
	accepted map[string]bool
	order    []string
	// unwritten holds requests that were counted but whose write failed:
	// their retry writes whatever is unwritten, without counting again.
	unwritten map[string]bool
}

// NewHandler returns a Handler that aggregates into agg and writes to w.
func NewHandler(agg *Aggregator, w graph.Applier, cfg HandlerConfig) *Handler {
	cfg.fill()
	return &Handler{agg: agg, w: w, cfg: cfg, accepted: map[string]bool{}, unwritten: map[string]bool{}}
}

// ServeHTTP implements POST /v1/traces.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	asJSON := mt == ContentTypeJSON
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		h.fail(rw, asJSON, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if mt != ContentTypeJSON && mt != ContentTypeProtobuf && mt != "application/protobuf" {
		h.fail(rw, false, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: send %s or %s", ct, ContentTypeProtobuf, ContentTypeJSON))
		return
	}
	body, status, err := h.read(r)
	if err != nil {
		h.fail(rw, asJSON, status, err.Error())
		return
	}
	sum := sha256.Sum256(append([]byte(mt+"\x00"), body...))
	producer := "http/" + hex.EncodeToString(sum[:16])

	dup, retry := h.seen(producer)
	if dup {
		h.ok(rw, asJSON, Accepted{})
		return
	}
	var req *coltracepb.ExportTraceServiceRequest
	wire := mt != ContentTypeJSON
	if !retry && !wire {
		if req, err = DecodeRequest(body, ct); err != nil {
			h.fail(rw, asJSON, http.StatusBadRequest, message(err))
			return
		}
	}

	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if err := h.writeFailed(r.Context()); err != nil {
		rw.Header().Set("Retry-After", "1")
		h.fail(rw, asJSON, http.StatusServiceUnavailable, "the store could not write the spans; retry")
		return
	}
	// Seen again: while this request waited for writeMu, another one may
	// have written the same request, or failed to.
	if dup, retry = h.seen(producer); dup {
		h.ok(rw, asJSON, Accepted{})
		return
	}
	var (
		b    graph.Batch
		orgs []*origin
		res  Accepted
	)
	switch {
	case retry:
		b, orgs = h.agg.takeHTTP()
	case wire:
		if b, orgs, res, err = h.agg.addHTTPWire(body, producer); err != nil {
			h.fail(rw, asJSON, http.StatusBadRequest, message(err))
			return
		}
	default:
		b, orgs, res = h.agg.addHTTP(req, producer)
	}
	if status, msg := h.writeCounts(r.Context(), producer, b, orgs); status != http.StatusOK {
		if status == http.StatusServiceUnavailable {
			rw.Header().Set("Retry-After", "1")
		}
		h.fail(rw, asJSON, status, msg)
		return
	}
	h.ok(rw, asJSON, res)
}

// seen reports whether producer's request was already written (dup), or
// counted with a write that failed (retry).
func (h *Handler) seen(producer string) (dup, retry bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accepted[producer], h.unwritten[producer]
}

// writeFailed writes what an earlier failure left before anything new is
// counted: while the store is down, requests are refused uncounted
// (their clients keep them), so memory holds one failed write. Callers
// hold h.writeMu.
func (h *Handler) writeFailed(ctx context.Context) error {
	if !h.failing {
		return nil
	}
	if b, orgs := h.agg.takeHTTP(); b.Len() > 0 {
		if _, err := h.w.Apply(ctx, b); err != nil {
			h.agg.requeue(orgs)
			h.cfg.Logger.Error("otlp: writing traces", "err", err)
			return fmt.Errorf("writing traces: %w", err)
		}
	}
	h.failing = false
	h.mu.Lock()
	h.written()
	h.mu.Unlock()
	return nil
}

// writeCounts writes the counts producer's request completed and records
// it as accepted. A failure is answered with the status and message it
// returns: 400 when the store refuses the counts (a retry would be refused
// again), 503 when it fails (the counts are kept for the retry). Callers
// hold h.writeMu.
func (h *Handler) writeCounts(ctx context.Context, producer string, b graph.Batch, orgs []*origin) (int, string) {
	if b.Len() > 0 {
		if _, err := h.w.Apply(ctx, b); err != nil {
			if errors.Is(err, graph.ErrInvalid) {
				h.cfg.Logger.Error("otlp: the store refused counts", "producer", producer, "err", err)
				return http.StatusBadRequest, message(err)
			}
			h.agg.requeue(orgs)
			h.failing = true
			h.mu.Lock()
			h.unwritten[producer] = true
			h.mu.Unlock()
			h.cfg.Logger.Error("otlp: writing traces", "producer", producer, "err", err)
			return http.StatusServiceUnavailable, "the store could not write the spans; retry"
		}
	}
	h.mu.Lock()
	h.written()
	h.remember(producer)
	h.mu.Unlock()
	return http.StatusOK, ""
}

// message is the text a client is answered with for err: its
// user-facing message (graph.Invalidf), else the error itself, so that a
// 400 always says why.
func message(err error) string {
	if msg := graph.Message(err); msg != "" {
		return msg
	}
	return err.Error()
}

// written records that everything taken from the aggregator so far is
// durable: requests whose write had failed are now accepted. Callers hold
// h.mu.
func (h *Handler) written() {
	for p := range h.unwritten {
		h.remember(p)
	}
	clear(h.unwritten)
}

// read returns the decompressed body, or the status to answer with.
func (h *Handler) read(r *http.Request) ([]byte, int, error) {
	max := h.cfg.MaxBodyBytes
	var src io.Reader = io.LimitReader(r.Body, max+1)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("gzip body: %v", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q: send gzip or none", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, max+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, http.StatusRequestTimeout, errors.New("the request body did not arrive within the server's read timeout (--http-read-timeout): send it faster, or in smaller requests")
	}
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading body: %v", err)
	}
	if int64(len(body)) > max {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is larger than the %d-byte limit (--max-body): export smaller batches", max)
	}
	return body, 0, nil
}

// remember records an accepted producer, forgetting the oldest beyond
// Remember. Callers hold h.mu.
func (h *Handler) remember(producer string) {
	if h.accepted[producer] {
		return
	}
	h.accepted[producer] = true
	h.order = append(h.order, producer)
	if len(h.order) > h.cfg.Remember {
		delete(h.accepted, h.order[0])
		h.order = h.order[1:]
	}
}

// ok answers an accepted export (OTLP/HTTP: 200 with an
// ExportTraceServiceResponse, with partialSuccess when spans were
// rejected).
func (h *Handler) ok(rw http.ResponseWriter, asJSON bool, res Accepted) {
	resp := &coltracepb.ExportTraceServiceResponse{}
	if res.Rejected > 0 {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: int64(res.Rejected), ErrorMessage: res.Message}
	}
	h.write(rw, asJSON, http.StatusOK, resp)
}

// fail answers with a google.rpc.Status, as OTLP/HTTP asks. The message
// is made valid UTF-8 first: decoders echo the bytes they choke on, and a
// string field that is not UTF-8 cannot be encoded, in JSON or protobuf.
func (h *Handler) fail(rw http.ResponseWriter, asJSON bool, status int, msg string) {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	h.write(rw, asJSON, status, &spb.Status{Code: int32(grpcCode(status)), Message: msg})
}

func (h *Handler) write(rw http.ResponseWriter, asJSON bool, status int, m proto.Message) {
	var out []byte
	var err error
	if asJSON {
		rw.Header().Set("Content-Type", ContentTypeJSON)
		out, err = protojson.Marshal(m)
	} else {
		rw.Header().Set("Content-Type", ContentTypeProtobuf)
		out, err = proto.Marshal(m)
	}
	if err != nil {
		// Never an empty body: say what failed, in a form that always
		// encodes.
		h.cfg.Logger.Error("otlp: encoding the reply", "status", status, "err", err)
		status = http.StatusInternalServerError
		fallback := &spb.Status{Code: 13, Message: "internal error: encoding the reply failed"}
		if asJSON {
			out, err = protojson.Marshal(fallback)
		} else {
			out, err = proto.Marshal(fallback)
		}
		if err != nil {
			out = nil
		}
	}
	rw.WriteHeader(status)
	_, _ = rw.Write(out)
}

// grpcCode maps an HTTP status to the google.rpc code OTLP expects.
func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusRequestTimeout:
		return 4 // DEADLINE_EXCEEDED
	case http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	}
	return 13 // INTERNAL
}

// Run flushes the aggregator every FlushEvery until ctx ends: expired
// spans become virtual edges, anomalies are judged, and batches of
// requests whose write failed are retried. A failed write is kept and
// retried at the next tick. When ctx ends, everything still pending is
// expired and written once more (bounded by five seconds).
func (h *Handler) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			h.flush(final, h.agg.now().Add(h.agg.cfg.Wait))
			return nil
		case <-t.C:
			h.flush(ctx, h.agg.now())
		}
	}
}

// flush writes one round of the background work: the counts of expired
// spans, the anomalies and whatever an earlier write left unwritten.
func (h *Handler) flush(ctx context.Context, now time.Time) {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	b, orgs := h.agg.flushHTTP(now)
	b.Events = append(h.backlog, b.Events...)
	h.backlog = nil
	if b.Len() == 0 {
		h.mu.Lock()
		if len(h.unwritten) > 0 && len(orgs) == 0 {
			h.written()
		}
		h.mu.Unlock()
		return
	}
	if _, err := h.w.Apply(ctx, b); err != nil {
		h.cfg.Logger.Error("otlp: writing expired spans and anomalies", "err", err)
		if !errors.Is(err, graph.ErrInvalid) { // else the same would be refused again
			h.agg.requeue(orgs)
			h.backlog = b.Events
			h.failing = true
		}
		return
	}
	h.failing = false
	h.mu.Lock()
	h.written()
	h.mu.Unlock()
}
