package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sregraph/sregraph/graph"
)

// alertmanagerPayload is the Alertmanager webhook body (version 4). Fields
// added in later releases (notification_reason, routeLabels) are ignored.
type alertmanagerPayload struct {
	Version         string            `json:"version"`
	GroupKey        string            `json:"groupKey"`
	TruncatedAlerts int               `json:"truncatedAlerts"`
	Status          string            `json:"status"`
	Receiver        string            `json:"receiver"`
	ExternalURL     string            `json:"externalURL"`
	CommonLabels    map[string]string `json:"commonLabels"`
	Alerts          []json.RawMessage `json:"alerts"`
}

type alertmanagerAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// The labels an alert's service and SLO name are read from, in order.
// sloth_* are set by Sloth's generated rules; Pyrra's carry "slo".
var (
	alertServiceLabels = []string{"service", "sloth_service", "app", "job"}
	alertSLOLabels     = []string{"slo", "sloth_slo", "alertname"}
)

// DecodeAlertmanager decodes an Alertmanager webhook (version 4) into one
// slo_breach event per alert. The service is the first of the labels
// service, sloth_service, app, job; the SLO name the first of slo,
// sloth_slo, alertname. At is startsAt; a resolved alert carries End =
// endsAt and the same ID as its firing notification (fingerprint +
// startsAt), so its arrival closes the breach.
func DecodeAlertmanager(body []byte, _ Headers, now time.Time) ([]Item, error) {
	var p alertmanagerPayload
	if err := decodeJSON("Alertmanager webhook", body, &p); err != nil {
		return nil, err
	}
	if p.Alerts == nil {
		return nil, undecodable("Alertmanager webhook has no \"alerts\" array: is this an Alertmanager webhook (version 4)?")
	}
	if p.Version != "" && p.Version != "4" {
		return nil, undecodable(fmt.Sprintf("Alertmanager webhook version %q is not supported: sregraph reads version \"4\"", p.Version))
	}
	items := make([]Item, 0, len(p.Alerts))
	for i, raw := range p.Alerts {
		var a alertmanagerAlert
		if err := json.Unmarshal(raw, &a); err != nil {
			items = append(items, Item{Err: itemError(fmt.Sprintf("alert %d", i), undecodable(JSONError(err, raw)))})
			continue
		}
		items = append(items, alertItem(i, a, now))
	}
	return items, nil
}

func alertItem(i int, a alertmanagerAlert, now time.Time) Item {
	what := fmt.Sprintf("alert %d", i)
	if name := a.Labels["alertname"]; name != "" {
		what = fmt.Sprintf("alert %d (%s)", i, name)
	}
	service := firstLabel(a.Labels, alertServiceLabels)
	if service == "" {
		return Item{Err: graph.Invalidf("%s: no service label: looked for %s; add one of them to the alert rule's labels",
			what, strings.Join(alertServiceLabels, ", "))}
	}
	start, err := parseTime("startsAt", a.StartsAt)
	if err != nil {
		return Item{Err: itemError(what, err)}
	}
	if start.IsZero() {
		return Item{Err: graph.Invalidf("%s: startsAt is missing", what)}
	}
	status := strings.ToLower(strings.TrimSpace(a.Status))
	var end *time.Time
	switch status {
	case "resolved":
		t, err := parseTime("endsAt", a.EndsAt)
		if err != nil {
			return Item{Err: itemError(what, err)}
		}
		if t.IsZero() || t.Year() <= 1 {
			return Item{Err: graph.Invalidf("%s: resolved alert has no endsAt", what)}
		}
		end = &t
	case "firing":
	default:
		return Item{Err: graph.Invalidf("%s: status %q is neither firing nor resolved", what, a.Status)}
	}
	fingerprint := strings.TrimSpace(a.Fingerprint)
	if fingerprint == "" {
		fingerprint = labelsFingerprint(a.Labels)
	}
	slo := firstLabel(a.Labels, alertSLOLabels)
	attrs := map[string]any{"status": status}
	setIf(attrs, "slo", slo)
	setIf(attrs, "generatorURL", a.GeneratorURL)
	if len(a.Labels) > 0 {
		attrs["labels"] = stringMap(a.Labels)
	}
	if len(a.Annotations) > 0 {
		attrs["annotations"] = stringMap(a.Annotations)
	}
	summary := firstLabel(a.Annotations, []string{"summary", "title", "description"})
	if summary == "" {
		summary = "SLO " + slo + " breached"
	}
	e := graph.Event{
		Kind:        graph.KindSLOBreach,
		Service:     service,
		Environment: firstLabel(a.Labels, []string{"environment", "env"}),
		At:          start,
		End:         end,
		Source:      "alertmanager",
		ExternalID:  fingerprint + "@" + start.UTC().Format(time.RFC3339Nano),
		Summary:     truncate(summary, graph.MaxSummaryLen),
		URL:         a.GeneratorURL,
		Attributes:  attrs,
	}
	if len(e.URL) > graph.MaxURLLen {
		e.URL = ""
	}
	return eventItem(e, now, what)
}

func firstLabel(labels map[string]string, names []string) string {
	for _, n := range names {
		if v := strings.TrimSpace(labels[n]); v != "" {
			return v
		}
	}
	return ""
}

// labelsFingerprint stands in for Alertmanager's fingerprint when an alert
// lacks one: a hash of its sorted label set, stable from firing to resolve.
func labelsFingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "\x00" + labels[k] + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// stringMap converts a label map into the map[string]any attributes hold.
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// truncate shortens s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
