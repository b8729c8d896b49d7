package ingest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Decoder turns one body (an HTTP request body or a Kafka record value)
// and its headers into Items. It returns an error only when the body as a
// whole is unusable; a problem with one item is that Item's Err. now
// bounds how far in the future a timestamp may be.
type Decoder func(body []byte, h Headers, now time.Time) ([]Item, error)

// Source is one format sregraph reads: how to recognise it, how to decode
// it, how its webhook endpoint authenticates deliveries and which Kafka
// family it travels in. Adding a source is one decoder file, one entry in
// sources and its samples under testdata/ingest/<Name>.
type Source struct {
	// Name is the format name: what Detect returns and the directory of
	// its samples.
	Name string
	// Endpoint is the path segment of the source's webhook endpoint,
	// /v1/webhooks/<Endpoint>; empty for none (canonical events have
	// POST /v1/events). Lookup accepts it as well as Name.
	Endpoint string
	// Title names the source in messages.
	Title string
	// Decode decodes a body in this format.
	Decode Decoder
	// Headers reports whether transport headers alone say a body is in
	// this format; nil when they never do.
	Headers func(h Headers) bool
	// Body reports whether a body's content is in this format; nil when
	// content alone never tells.
	Body func(s Sniffed) bool
	// Signature is how the source signs its webhook deliveries; nil when
	// it does not (the shared token authenticates them).
	Signature *Signature
	// Family is the Kafka family a webhook delivery is published to when
	// none of its items says otherwise (FamilyOf).
	Family Family
	// Delivery lists the headers carrying the source's delivery id, for
	// logs.
	Delivery []string
}

// The format names Detect returns and Lookup accepts.
const (
	FormatCanonical    = "canonical"
	FormatCloudEvents  = "cloudevents"
	FormatGitHub       = "github"
	FormatArgoCD       = "argocd"
	FormatFlux         = "flux"
	FormatKubernetes   = "kubernetes"
	FormatAutoscaling  = "autoscaling"
	FormatJira         = "jira"
	FormatPagerDuty    = "pagerduty"
	FormatAlertmanager = "alertmanager"
	FormatBackstage    = "backstage"
)

// sources is the registry, in detection order: Detect asks every
// source's Headers in this order, then every source's Body, and falls
// back to the canonical format (the last entry).
var sources = []Source{
	{
		Name: FormatAlertmanager, Endpoint: "alertmanager", Title: "Alertmanager", Decode: DecodeAlertmanager, Family: FamilySLO,
		Body: func(s Sniffed) bool { return s.Has("alerts") && s.String("version") == "4" },
	},
	{
		Name: FormatPagerDuty, Endpoint: "pagerduty", Title: "PagerDuty v3", Decode: DecodePagerDuty, Family: FamilyTickets,
		Signature: &pagerdutySignature, Delivery: []string{"x-webhook-id"},
		Headers: func(h Headers) bool { return h.Get("x-pagerduty-signature") != "" },
		Body:    func(s Sniffed) bool { return s.Contains("event", `"event_type"`) },
	},
	{
		Name: FormatJira, Endpoint: "jira", Title: "Jira", Decode: DecodeJira, Family: FamilyTickets,
		Signature: &jiraSignature, Delivery: []string{"x-atlassian-webhook-identifier"},
		Headers: func(h Headers) bool {
			return h.Get("x-atlassian-webhook-identifier") != "" || h.Get("x-atlassian-webhook-retry") != ""
		},
		Body: func(s Sniffed) bool { return s.Has("webhookEvent") },
	},
	{
		Name: FormatAutoscaling, Endpoint: "autoscaling", Title: "AWS Auto Scaling (EventBridge)", Decode: DecodeAutoscaling, Family: FamilyScale,
		Body: func(s Sniffed) bool { return s.Has("detail-type") && s.String("source") == "aws.autoscaling" },
	},
	{
		Name: FormatCloudEvents, Endpoint: "cdevents", Title: "CloudEvents/CDEvents", Decode: DecodeCloudEvents,
		Family: FamilyDeploys, Delivery: []string{"ce-id"},
		Headers: func(h Headers) bool {
			return strings.HasPrefix(h.contentType(), "application/cloudevents") || h.ce("specversion") != ""
		},
		Body: func(s Sniffed) bool {
			return s.Has("specversion") && s.Has("type") || s.Has("context") && s.Has("subject")
		},
	},
	{
		Name: FormatFlux, Endpoint: "flux", Title: "Flux notification", Decode: DecodeFlux, Family: FamilyDeploys,
		Signature: &fluxSignature,
		Headers:   func(h Headers) bool { return h.Get("gotk-component") != "" },
		// Before Kubernetes: a Flux event is a Kubernetes event with the
		// controller that reported it.
		Body: func(s Sniffed) bool { return s.Has("involvedObject") && s.Has("reportingController") },
	},
	{
		Name: FormatKubernetes, Endpoint: "kubernetes", Title: "Kubernetes Event", Decode: DecodeKubernetes, Family: FamilyScale,
		Body: func(s Sniffed) bool {
			kind := s.String("kind")
			return s.Has("involvedObject") || s.Has("regarding") || kind == "Event" ||
				(kind == "EventList" || kind == "List") && s.Has("items")
		},
	},
	{
		Name: FormatGitHub, Endpoint: "github", Title: "GitHub", Decode: DecodeGitHub, Family: FamilyDeploys,
		Signature: &githubSignature, Delivery: []string{"x-github-delivery"},
		Headers: func(h Headers) bool { return h.Get("x-github-event") != "" },
		Body: func(s Sniffed) bool {
			return s.Has("deployment_status") || s.Has("issue") && s.Has("repository") || s.Has("hook") && s.Has("zen")
		},
	},
	{
		Name: FormatArgoCD, Endpoint: "argocd", Title: "Argo CD notification", Decode: DecodeArgoCD, Family: FamilyDeploys,
		Body: func(s Sniffed) bool { return s.Has("app") && s.Has("finishedAt") },
	},
	{
		Name: FormatBackstage, Endpoint: "backstage", Title: "Backstage catalog-info.yaml", Decode: DecodeBackstage, Family: FamilyDeploys,
		Headers: func(h Headers) bool { return strings.Contains(h.contentType(), "yaml") },
		Body:    func(s Sniffed) bool { return looksLikeCatalog(s.Text()) },
	},
	{
		Name: FormatCanonical, Title: "canonical events", Decode: decodeCanonical,
	},
}

// Formats lists every format name, in detection order.
var Formats = func() []string {
	names := make([]string, len(sources))
	for i := range sources {
		names[i] = sources[i].Name
	}
	return names
}()

// Lookup returns the source named name (one of Formats, or a webhook
// path segment such as "cdevents"), matched case-insensitively.
func Lookup(name string) (*Source, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for i := range sources {
		if s := &sources[i]; s.Name == name || s.Endpoint != "" && s.Endpoint == name {
			return s, true
		}
	}
	return nil, false
}

// Webhooks lists the sources that have a webhook endpoint, in path order.
func Webhooks() []*Source {
	var out []*Source
	for i := range sources {
		if sources[i].Endpoint != "" {
			out = append(out, &sources[i])
		}
	}
	slices.SortFunc(out, func(a, b *Source) int { return strings.Compare(a.Endpoint, b.Endpoint) })
	return out
}

// Webhook returns the source whose webhook endpoint is
// /v1/webhooks/<endpoint>, matched case-insensitively.
func Webhook(endpoint string) (*Source, bool) {
	endpoint = strings.ToLower(endpoint)
	for i := range sources {
		if s := &sources[i]; s.Endpoint != "" && s.Endpoint == endpoint {
			return s, true
		}
	}
	return nil, false
}

// FormatDecoder returns the decoder of the named format (see Lookup), for
// endpoints and topics that take one format only.
func FormatDecoder(name string) (Decoder, bool) {
	s, ok := Lookup(name)
	if !ok {
		return nil, false
	}
	return s.Decode, true
}

// decodeCanonical adapts DecodeCanonical to the Decoder signature; the
// canonical format needs no headers.
func decodeCanonical(body []byte, _ Headers, now time.Time) ([]Item, error) {
	return DecodeCanonical(body, now)
}

// Detect names the format of body and returns its decoder. Transport
// headers decide first (each source's Headers, in registry order); then
// the content is sniffed for each format's tell-tale keys (each source's
// Body); anything else is taken as canonical events, whose decoder says
// what is wrong with it.
func Detect(body []byte, h Headers) (string, Decoder) {
	s := detect(body, h)
	return s.Name, s.Decode
}

func detect(body []byte, h Headers) *Source {
	for i := range sources {
		if s := &sources[i]; s.Headers != nil && s.Headers(h) {
			return s
		}
	}
	sn := sniff(body)
	for i := range sources {
		if s := &sources[i]; s.Body != nil && s.Body(sn) {
			return s
		}
	}
	s, _ := Lookup(FormatCanonical)
	return s
}

// Sniffed is what Detect reads of a body to recognise its format: the
// top-level members of its first JSON object (the object itself, the
// first element of an array, or the first line of NDJSON), or the text of
// a body that is not JSON.
type Sniffed struct {
	obj  map[string]json.RawMessage
	text []byte
}

func sniff(body []byte) Sniffed {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return Sniffed{}
	}
	if trimmed[0] != '{' && trimmed[0] != '[' {
		return Sniffed{text: trimmed}
	}
	return Sniffed{obj: sniffObject(trimmed)}
}

// Has reports whether the object has the member k.
func (s Sniffed) Has(k string) bool {
	_, ok := s.obj[k]
	return ok
}

// String returns the member k when it is a JSON string, and "" for any
// other value, which is all sniffing needs.
func (s Sniffed) String(k string) string {
	var v string
	if raw, ok := s.obj[k]; ok && json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v
}

// Contains reports whether the raw JSON of member k contains sub.
func (s Sniffed) Contains(k, sub string) bool {
	raw, ok := s.obj[k]
	return ok && bytes.Contains(raw, []byte(sub))
}

// Text returns a body that is not JSON, trimmed, and nil for JSON.
func (s Sniffed) Text() []byte { return s.text }

// sniffObject returns the top-level keys of the first JSON object in body:
// the object itself, the first element of an array, or the first line of
// NDJSON. It returns nil when there is none.
func sniffObject(body []byte) map[string]json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(body))
	if body[0] == '[' {
		if _, err := dec.Token(); err != nil || !dec.More() {
			return nil
		}
	}
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil
	}
	return obj
}

// looksLikeCatalog reports whether a non-JSON body is a Backstage
// descriptor file.
func looksLikeCatalog(body []byte) bool {
	return bytes.Contains(body, []byte("apiVersion: backstage.io")) ||
		bytes.Contains(body, []byte("apiVersion: \"backstage.io")) ||
		bytes.Contains(body, []byte("apiVersion: 'backstage.io"))
}
