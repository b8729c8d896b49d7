package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sregraph/sregraph/ingest"
)

// Sources lists the webhook endpoint names, /v1/webhooks/<name>.
func Sources() []string {
	var names []string
	for _, src := range ingest.Webhooks() {
		names = append(names, src.Endpoint)
	}
	return names
}

// Publisher appends webhook deliveries to Kafka (--webhooks-to-kafka);
// the kafka package's Publisher is one.
type Publisher interface {
	// Topic returns the topic of family, or "" when the family has none.
	Topic(f ingest.Family) string
	// Publish appends one record to topic and returns once every in-sync
	// replica has it. An error wrapping ingest.ErrTooLarge means the
	// broker refuses a record that large.
	Publish(ctx context.Context, topic string, key, value []byte, headers []ingest.Header) error
}

func (h *Handler) serveUnknownWebhook(w http.ResponseWriter, r *http.Request) {
	h.fail(w, "unknown", time.Now(), &requestError{http.StatusNotFound, outcomeUnknown,
		fmt.Sprintf("no webhook endpoint at %s: known ones are /v1/webhooks/{%s}", r.URL.Path, strings.Join(Sources(), ","))})
}

func (h *Handler) serveWebhook(w http.ResponseWriter, r *http.Request) {
	wh, ok := ingest.Webhook(r.PathValue("source"))
	if !ok {
		h.serveUnknownWebhook(w, r)
		return
	}
	endpoint := wh.Endpoint
	start := time.Now()
	if r.Method != http.MethodPost {
		h.fail(w, endpoint, start, &requestError{http.StatusMethodNotAllowed, outcomeMethod, "use POST to deliver " + wh.Title + " webhooks to " + r.URL.Path})
		return
	}
	body, rerr := h.readBody(w, r)
	if rerr != nil {
		h.fail(w, endpoint, start, rerr)
		return
	}
	if err := h.authenticate(wh, r, body); err != nil {
		if wh.Signature == nil || h.cfg.Secrets[wh.Signature.Secret] == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sregraph webhooks"`)
		}
		h.log.Info("ingest: webhook refused", "source", wh.Endpoint, "remote", r.RemoteAddr, "err", err)
		h.fail(w, endpoint, start, &requestError{http.StatusUnauthorized, outcomeAuth, err.Error()})
		return
	}
	hdr := ingest.HeadersFromHTTP(r.Header)
	items, err := wh.Decode(body, hdr, h.now())
	if err != nil {
		h.log.Debug("ingest: webhook undecodable", "source", wh.Endpoint, "delivery", deliveryID(wh, hdr), "err", err)
		h.fail(w, endpoint, start, &requestError{http.StatusBadRequest, outcomeMalformed, userMessage(err)})
		return
	}
	h.log.Debug("ingest: webhook", "source", wh.Endpoint, "delivery", deliveryID(wh, hdr), "items", len(items))
	if h.cfg.WebhooksToKafka {
		h.publish(w, r, wh, start, items, body)
		return
	}
	h.storeItems(w, r, endpoint, start, items, hdr, body)
}

// authenticate checks a delivery's signature when its source signs and
// has a secret configured, else the shared token when one is configured.
func (h *Handler) authenticate(wh *ingest.Source, r *http.Request, body []byte) error {
	if sig := wh.Signature; sig != nil {
		if secret := h.cfg.Secrets[sig.Secret]; secret != "" {
			return sig.Verify([]byte(secret), body, r.Header.Get(sig.Header))
		}
	}
	if h.cfg.WebhookToken == "" {
		return nil
	}
	presented := presentedToken(r)
	if presented == "" {
		return fmt.Errorf("missing webhook token: present the --webhook-token as \"Authorization: Bearer TOKEN\", as the basic-auth password, in the %s header, or as ?token=TOKEN", TokenHeader)
	}
	if !tokenMatches(presented, h.cfg.WebhookToken) {
		return errors.New("wrong webhook token: it does not match --webhook-token")
	}
	return nil
}

func deliveryID(wh *ingest.Source, hdr ingest.Headers) string {
	for _, name := range wh.Delivery {
		if v := hdr.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// publish appends a delivery to its family's topic, once, with the
// headers it came with, and answers with what the consumer will store.
// Nothing is published when no item is usable: the consumer could only
// dead-letter it.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request, wh *ingest.Source, start time.Time, items []ingest.Item, body []byte) {
	if h.rename != nil {
		items = h.rename(items)
	}
	resp := Response{Rejected: []RejectedItem{}}
	family, key := wh.Family, ""
	for i, it := range items {
		switch {
		case it.Err != nil:
			resp.Rejected = append(resp.Rejected, RejectedItem{Index: i, Error: userMessage(it.Err)})
			continue
		case it.Event != nil:
			if resp.Accepted == 0 {
				family, key = ingest.FamilyOf(it.Event.Kind), it.Event.Service
			}
		case it.Dependency != nil:
			if resp.Accepted == 0 {
				key = it.Dependency.From
			}
		default:
			continue
		}
		resp.Accepted++
	}
	if resp.Accepted == 0 {
		h.answer(w, wh.Endpoint, start, resp)
		return
	}
	topic := h.pub.Topic(family)
	if topic == "" {
		h.log.Debug("ingest: no topic for the family; storing the delivery directly", "source", wh.Endpoint, "family", family)
		h.storeItems(w, r, wh.Endpoint, start, items, ingest.HeadersFromHTTP(r.Header), body)
		return
	}
	if err := h.pub.Publish(r.Context(), topic, []byte(key), body, publishedHeaders(r.Header, wh.Name)); err != nil {
		if errors.Is(err, ingest.ErrTooLarge) {
			h.fail(w, wh.Endpoint, start, &requestError{http.StatusRequestEntityTooLarge, outcomeTooLarge,
				fmt.Sprintf("the delivery (%s) is larger than Kafka accepts on topic %s (the broker's message.max.bytes)", byteSize(int64(len(body))), topic)})
			return
		}
		h.log.Warn("ingest: Kafka unavailable", "source", wh.Endpoint, "topic", topic, "err", err)
		h.fail(w, wh.Endpoint, start, &requestError{http.StatusServiceUnavailable, outcomeUnavailable,
			fmt.Sprintf("Kafka is unavailable; the delivery was not queued; retry in %s", h.cfg.RetryAfter)})
		return
	}
	resp.Topic = topic
	h.answer(w, wh.Endpoint, start, resp)
}

// HeaderFormat names, on a published webhook delivery, the format of its
// value (one of Formats).
const HeaderFormat = "sregraph-format"

// publishedHeaders are the request headers a delivery is published with:
// all of them, lower-cased, except credentials and transport framing,
// plus HeaderFormat.
func publishedHeaders(hh http.Header, format string) []ingest.Header {
	names := make([]string, 0, len(hh))
	for k := range hh {
		switch strings.ToLower(k) {
		case "authorization", "proxy-authorization", "cookie", strings.ToLower(TokenHeader),
			"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "te", "upgrade", "expect":
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]ingest.Header, 0, len(names)+1)
	for _, k := range names {
		if vs := hh[k]; len(vs) > 0 {
			out = append(out, ingest.Header{Key: strings.ToLower(k), Value: []byte(vs[0])})
		}
	}
	return append(out, ingest.Header{Key: HeaderFormat, Value: []byte(format)})
}
