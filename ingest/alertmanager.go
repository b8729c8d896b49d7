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

// DefaultSLOServiceLabels are the labels an alert's service is read from,
// first match wins, unless --slo-service-label says otherwise: "service"
// (the common convention, and what a Pyrra SLO's "pyrra.dev/service"
// label becomes), Sloth's "sloth_service", the Kubernetes app labels and
// Prometheus' "job".
var DefaultSLOServiceLabels = []string{"service", "sloth_service", "app", "app_kubernetes_io_name", "job"}

// The labels an alert's SLO name is read from, in order. sloth_* are set
// by Sloth's generated rules; Pyrra's carry "slo".
var alertSLOLabels = []string{"slo", "sloth_slo", "alertname"}

// breachWindowLabels are the labels in which the alerts of one SLO differ
// by burn-rate window or severity (Pyrra: long, short, exhaustion,
// severity; Sloth: sloth_severity, severity; Prometheus' own "for" is not a
// label). They are left out of a breach's identity.
var breachWindowLabels = map[string]bool{
	"severity": true, "sloth_severity": true, "long": true, "short": true,
	"exhaustion": true, "window": true, "sloth_window": true,
}

// DecodeAlertmanager decodes an Alertmanager webhook (version 4) into one
// slo_breach event per alert, each one report of a breach: one firing
// episode of one SLO on one service, whatever windows and severities the
// rule generator emits. The service is the first of the labels
// DefaultSLOServiceLabels names (ServiceLabels.Apply re-reads it with
// configured labels), else the SLO name; the SLO name the first of slo,
// sloth_slo, alertname. The breach's identity (attributes.breachKey) is
// Sloth's sloth_id when the alert has one (its page and ticket alerts
// share it); otherwise the alert's labels without the window and severity
// labels (Pyrra: slo plus the grouping labels; plain Alertmanager: the
// alert rule's own labels). The alert itself is recorded under
// attributes.alerts (graph.BreachAlertsAttr) with its status, severity
// and window, so that the stored breach keeps the worst severity and
// every window that fired, and resolves when its last alert does. At is
// startsAt; the externalId is the breach key and startsAt, and Episodes
// joins the reports of one episode into the breach that was first stored
// for it.
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
	slo := firstLabel(a.Labels, alertSLOLabels)
	service := firstLabel(a.Labels, DefaultSLOServiceLabels)
	if service == "" {
		service = firstNonEmpty(strings.TrimSpace(a.Labels["sloth_slo"]), slo)
	}
	if service == "" {
		return Item{Err: graph.Invalidf("%s: no service label and no SLO name: looked for %s, then slo, sloth_slo, alertname",
			what, strings.Join(DefaultSLOServiceLabels, ", "))}
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
	key := breachKey(a.Labels)
	alert := map[string]any{"status": status, "startsAt": start.UTC().Format(time.RFC3339Nano)}
	if end != nil {
		alert["endsAt"] = end.UTC().Format(time.RFC3339Nano)
	}
	setIf(alert, "severity", firstLabel(a.Labels, []string{"sloth_severity", "severity"}))
	setIf(alert, "window", alertWindow(a.Labels))
	setIf(alert, "alertname", a.Labels["alertname"])
	attrs := map[string]any{
		"status":               status,
		"breachKey":            key,
		graph.BreachAlertsAttr: map[string]any{fingerprint + "@" + start.UTC().Format(time.RFC3339Nano): alert},
	}
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
		ExternalID:  key + "@" + start.UTC().Format(time.RFC3339Nano),
		Summary:     truncate(summary, graph.MaxSummaryLen),
		URL:         a.GeneratorURL,
		Attributes:  attrs,
	}
	if len(e.URL) > graph.MaxURLLen {
		e.URL = ""
	}
	graph.SummarizeBreach(&e)
	return eventItem(e, now, what)
}

// breachKey is the identity of the breach an alert reports: "sloth:" and
// Sloth's sloth_id, else a hash of the labels that are not about windows
// or severity.
func breachKey(labels map[string]string) string {
	if id := strings.TrimSpace(labels["sloth_id"]); id != "" {
		return "sloth:" + id
	}
	rest := make(map[string]string, len(labels))
	for k, v := range labels {
		if !breachWindowLabels[k] {
			rest[k] = v
		}
	}
	return "slo:" + labelsFingerprint(rest)
}

// alertWindow names the burn-rate window an alert watches: Pyrra's
// "long/short" ("1h/5m"), else Sloth's sloth_severity ("page" covers the
// 1h/5m and 6h/30m windows, "ticket" the 1d/2h and 3d/6h ones), else the
// severity.
func alertWindow(labels map[string]string) string {
	if long, short := labels["long"], labels["short"]; long != "" && short != "" {
		return long + "/" + short
	}
	return firstLabel(labels, []string{"window", "sloth_severity", "severity"})
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
