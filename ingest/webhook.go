package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/graph"
)

// webhook is one POST /v1/webhooks/{name} endpoint.
type webhook struct {
	// name is the path segment.
	name string
	// title names the source in messages.
	title string
	// format is the decoder's format name (FormatDecoder).
	format string
	// signature is how the source signs deliveries, or nil when it does
	// not; unsigned sources are authenticated by the shared token.
	signature *signatureScheme
	// family is the Kafka family a delivery goes to with
	// --webhooks-to-kafka when its items do not say (declared
	// dependencies only, or nothing).
	family Family
	// delivery lists the headers carrying the source's delivery id, for
	// logs.
	delivery []string
}

// webhooks is the table of webhook endpoints, in path order.
var webhooks = []webhook{
	{name: "alertmanager", title: "Alertmanager", format: FormatAlertmanager, family: FamilySLO},
	{name: "argocd", title: "Argo CD notification", format: FormatArgoCD, family: FamilyDeploys},
	{name: "autoscaling", title: "AWS Auto Scaling (EventBridge)", format: FormatAutoscaling, family: FamilyScale},
	{name: "backstage", title: "Backstage catalog-info.yaml", format: FormatBackstage, family: FamilyDeploys},
	{name: "cdevents", title: "CloudEvents/CDEvents", format: FormatCloudEvents, family: FamilyDeploys, delivery: []string{"ce-id"}},
	{name: "flux", title: "Flux notification", format: FormatFlux, family: FamilyDeploys, signature: &fluxSignature},
	{name: "github", title: "GitHub", format: FormatGitHub, family: FamilyDeploys, signature: &githubSignature, delivery: []string{"x-github-delivery"}},
	{name: "jira", title: "Jira", format: FormatJira, family: FamilyTickets, signature: &jiraSignature, delivery: []string{"x-atlassian-webhook-identifier"}},
	{name: "kubernetes", title: "Kubernetes Event", format: FormatKubernetes, family: FamilyScale},
	{name: "pagerduty", title: "PagerDuty v3", format: FormatPagerDuty, family: FamilyTickets, signature: &pagerdutySignature, delivery: []string{"x-webhook-id"}},
}

// WebhookSources lists the webhook endpoint names, /v1/webhooks/<name>.
func WebhookSources() []string {
	names := make([]string, len(webhooks))
	for i, wh := range webhooks {
		names[i] = wh.name
	}
	return names
}

func (h *HTTP) serveUnknownWebhook(w http.ResponseWriter, r *http.Request) {
	h.fail(w, "unknown", time.Now(), &requestError{http.StatusNotFound, outcomeUnknown,
		fmt.Sprintf("no webhook endpoint at %s: known ones are /v1/webhooks/{%s}", r.URL.Path, strings.Join(WebhookSources(), ","))})
}

func (h *HTTP) serveWebhook(w http.ResponseWriter, r *http.Request) {
	wh := h.byName[strings.ToLower(r.PathValue("source"))]
	if wh == nil {
		h.serveUnknownWebhook(w, r)
		return
	}
	endpoint := wh.name
	start := time.Now()
	if r.Method != http.MethodPost {
		h.fail(w, endpoint, start, &requestError{http.StatusMethodNotAllowed, outcomeMethod, "use POST to deliver " + wh.title + " webhooks to " + r.URL.Path})
		return
	}
	body, rerr := h.readBody(w, r)
	if rerr != nil {
		h.fail(w, endpoint, start, rerr)
		return
	}
	if err := h.authenticate(wh, r, body); err != nil {
		if wh.signature == nil || len(h.secrets[wh.signature.secret]) == 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sregraph webhooks"`)
		}
		h.log.Info("ingest: webhook refused", "source", wh.name, "remote", r.RemoteAddr, "err", err)
		h.fail(w, endpoint, start, &requestError{http.StatusUnauthorized, outcomeAuth, err.Error()})
		return
	}
	hdr := HeadersFromHTTP(r.Header)
	decode, ok := FormatDecoder(wh.format)
	if !ok {
		h.fail(w, endpoint, start, &requestError{http.StatusNotFound, outcomeUnknown, "no decoder for " + wh.title})
		return
	}
	items, err := decode(body, hdr, h.now())
	if err != nil {
		h.log.Debug("ingest: webhook undecodable", "source", wh.name, "delivery", deliveryID(wh, hdr), "err", err)
		h.fail(w, endpoint, start, &requestError{http.StatusBadRequest, outcomeMalformed, userMessage(err)})
		return
	}
	h.log.Debug("ingest: webhook", "source", wh.name, "delivery", deliveryID(wh, hdr), "items", len(items))
	if h.cfg.WebhooksToKafka {
		h.publish(w, r, wh, start, items, body)
		return
	}
	h.storeItems(w, r, endpoint, start, items, hdr, body)
}

// authenticate checks a delivery's signature when its source signs and
// has a secret configured, else the shared token when one is configured.
func (h *HTTP) authenticate(wh *webhook, r *http.Request, body []byte) error {
	if wh.signature != nil {
		if secret := h.secrets[wh.signature.secret]; len(secret) > 0 {
			return wh.signature.verify(secret, body, r.Header.Get(wh.signature.header))
		}
	}
	if h.cfg.WebhookToken == "" {
		return nil
	}
	presented := presentedToken(r)
	if presented == "" {
		return fmt.Errorf("missing webhook token: present the --webhook-token as \"Authorization: Bearer TOKEN\", as the basic-auth password, in the %s header, or as ?token=TOKEN", WebhookTokenHeader)
	}
	if !tokenMatches(presented, h.cfg.WebhookToken) {
		return errors.New("wrong webhook token: it does not match --webhook-token")
	}
	return nil
}

func deliveryID(wh *webhook, hdr Headers) string {
	for _, name := range wh.delivery {
		if v := hdr.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// familyOf is the Kafka family an event kind travels in.
func familyOf(k graph.Kind) Family {
	switch k {
	case graph.KindScale:
		return FamilyScale
	case graph.KindTicket, graph.KindIncident:
		return FamilyTickets
	case graph.KindSLOBreach, graph.KindAnomaly:
		return FamilySLO
	}
	return FamilyDeploys
}

// publish appends a delivery to its family's topic, once, with the
// headers it came with, and answers with what the consumer will store.
// Nothing is published when no item is usable: the consumer could only
// dead-letter it.
func (h *HTTP) publish(w http.ResponseWriter, r *http.Request, wh *webhook, start time.Time, items []Item, body []byte) {
	if h.rename != nil {
		items = h.rename(items)
	}
	resp := IngestResponse{Rejected: []RejectedItem{}}
	family, key := wh.family, ""
	for i, it := range items {
		switch {
		case it.Err != nil:
			resp.Rejected = append(resp.Rejected, RejectedItem{Index: i, Error: userMessage(it.Err)})
			continue
		case it.Event != nil:
			if resp.Accepted == 0 {
				family, key = familyOf(it.Event.Kind), it.Event.Service
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
		h.answer(w, wh.name, start, resp)
		return
	}
	topic := h.pub.topics[family]
	if topic == "" {
		h.log.Debug("ingest: no topic for the family; storing the delivery directly", "source", wh.name, "family", family)
		h.storeItems(w, r, wh.name, start, items, HeadersFromHTTP(r.Header), body)
		return
	}
	msg := kafka.Message{Topic: topic, Key: []byte(key), Value: body, Headers: publishedHeaders(r.Header, wh.format)}
	if err := h.pub.w.WriteMessages(r.Context(), msg); err != nil {
		if errors.Is(err, kafka.MessageSizeTooLarge) || isMessageTooLarge(err) {
			h.fail(w, wh.name, start, &requestError{http.StatusRequestEntityTooLarge, outcomeTooLarge,
				fmt.Sprintf("the delivery (%s) is larger than Kafka accepts on topic %s (the broker's message.max.bytes)", byteSize(int64(len(body))), topic)})
			return
		}
		h.log.Warn("ingest: Kafka unavailable", "source", wh.name, "topic", topic, "err", err)
		h.fail(w, wh.name, start, &requestError{http.StatusServiceUnavailable, outcomeUnavailable,
			fmt.Sprintf("Kafka is unavailable; the delivery was not queued; retry in %s", h.cfg.RetryAfter)})
		return
	}
	resp.Topic = topic
	h.answer(w, wh.name, start, resp)
}

func isMessageTooLarge(err error) bool {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && (errors.Is(e, kafka.MessageSizeTooLarge) || isMessageTooLarge(e)) {
				return true
			}
		}
	}
	var tl kafka.MessageTooLargeError
	return errors.As(err, &tl)
}

// HeaderFormat names, on a published webhook delivery, the format of its
// value (one of Formats).
const HeaderFormat = "sregraph-format"

// publishedHeaders are the request headers a delivery is published with:
// all of them, lower-cased, except credentials and transport framing,
// plus HeaderFormat.
func publishedHeaders(hh http.Header, format string) []kafka.Header {
	names := make([]string, 0, len(hh))
	for k := range hh {
		switch strings.ToLower(k) {
		case "authorization", "proxy-authorization", "cookie", strings.ToLower(WebhookTokenHeader),
			"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "te", "upgrade", "expect":
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]kafka.Header, 0, len(names)+1)
	for _, k := range names {
		if vs := hh[k]; len(vs) > 0 {
			out = append(out, kafka.Header{Key: strings.ToLower(k), Value: []byte(vs[0])})
		}
	}
	return append(out, kafka.Header{Key: HeaderFormat, Value: []byte(format)})
}

// messageWriter is the Kafka producer as the publisher sees it; a
// *kafka.Writer satisfies it.
type messageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

// WebhookPublisher appends webhook deliveries to the Kafka topics of their
// families (--webhooks-to-kafka), each write acknowledged by every in-sync
// replica before the webhook is answered.
type WebhookPublisher struct {
	w      messageWriter
	topics map[Family]string
}

// NewWebhookPublisher builds a publisher to the brokers and family topics
// of cfg, which must have been validated.
func NewWebhookPublisher(cfg KafkaConfig, logger *slog.Logger) (*WebhookPublisher, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("webhook publisher: no Kafka brokers (give --kafka-brokers, or --kafka embedded)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "webhook-publisher")
	topics := make(map[Family]string, len(cfg.Topics))
	for f, t := range cfg.Topics {
		topics[f] = strings.TrimSpace(t)
	}
	return &WebhookPublisher{
		topics: topics,
		w: &kafka.Writer{
			Addr:                   kafka.TCP(cfg.Brokers...),
			Balancer:               &kafka.Hash{},
			RequiredAcks:           kafka.RequireAll,
			BatchTimeout:           2 * time.Millisecond,
			BatchBytes:             1 << 30, // the broker's message.max.bytes is the real limit
			MaxAttempts:            3,
			AllowAutoTopicCreation: true,
			Logger:                 kafkaLogger(log, slog.LevelDebug),
			ErrorLogger:            kafkaLogger(log, slog.LevelWarn),
		},
	}, nil
}

// Close flushes and closes the producer.
func (p *WebhookPublisher) Close() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close webhook publisher: %w", err)
	}
	return nil
}
