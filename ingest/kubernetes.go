package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

type k8sObjectRef struct {
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	APIVersion string `json:"apiVersion"`
}

// k8sEvent holds the fields of core/v1 Event and events.k8s.io/v1 Event
// that sregraph reads; the two versions differ only in names.
type k8sEvent struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
	} `json:"metadata"`
	Reason  string `json:"reason"`
	Type    string `json:"type"`
	Message string `json:"message"` // core/v1
	Note    string `json:"note"`    // events.k8s.io/v1
	// core/v1
	InvolvedObject     *k8sObjectRef              `json:"involvedObject"`
	Source             struct{ Component string } `json:"source"`
	ReportingComponent string                     `json:"reportingComponent"`
	FirstTimestamp     string                     `json:"firstTimestamp"`
	LastTimestamp      string                     `json:"lastTimestamp"`
	Count              flexInt                    `json:"count"`
	// events.k8s.io/v1
	Regarding                *k8sObjectRef `json:"regarding"`
	ReportingController      string        `json:"reportingController"`
	DeprecatedLastTimestamp  string        `json:"deprecatedLastTimestamp"`
	DeprecatedFirstTimestamp string        `json:"deprecatedFirstTimestamp"`
	DeprecatedCount          flexInt       `json:"deprecatedCount"`
	// both
	EventTime string `json:"eventTime"`
	Series    *struct {
		Count            flexInt `json:"count"`
		LastObservedTime string  `json:"lastObservedTime"`
	} `json:"series"`
}

// k8sReasons maps the Event reasons that record a change to its kind:
//   - SuccessfulRescale: the HorizontalPodAutoscaler changed the replica
//     count ("New size: 5; reason: cpu resource utilization ...");
//   - ScalingReplicaSet: the Deployment controller scaled a ReplicaSet, for
//     a rollout or a scale ("Scaled up replica set web-7d9f to 3 from 1");
//   - KEDAScaleTargetActivated/Deactivated: KEDA scaled a workload from or
//     to zero;
//   - DeploymentRollback: a Deployment was rolled back to an earlier
//     revision.
//
// Every other reason (Pulled, Started, Killing, BackOff, Unhealthy,
// FailedScheduling, SuccessfulCreate, FailedRescale, ...) is a symptom or
// a step of one of the above and yields no item.
var k8sReasons = map[string]graph.Kind{
	"SuccessfulRescale":          graph.KindScale,
	"ScalingReplicaSet":          graph.KindScale,
	"KEDAScaleTargetActivated":   graph.KindScale,
	"KEDAScaleTargetDeactivated": graph.KindScale,
	"DeploymentRollback":         graph.KindRollback,
}

var (
	hpaRescaleMessage = regexp.MustCompile(`New size: (\d+); reason: (.*)`)
	replicaSetMessage = regexp.MustCompile(`Scaled (up|down) replica set (\S+) to (\d+)(?: from (\d+))?`)
)

// DecodeKubernetes decodes Kubernetes Event objects (core/v1 or
// events.k8s.io/v1): one object, a List/EventList with "items", or a JSON
// array. Only events whose reason records a change become items (see
// k8sReasons); the service is the involved object's name (for an HPA
// event, the HPA's name: map it to the workload with an alias), the
// environment its namespace, at the last time the event was seen, and the
// externalId the event's uid and count, so each repetition of an
// aggregated event is one scale.
func DecodeKubernetes(body []byte, _ Headers, now time.Time) ([]Item, error) {
	raws, err := jsonList("Kubernetes Event", body)
	if err != nil {
		return nil, err
	}
	if len(raws) == 1 {
		var list struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raws[0], &list); err == nil && list.Items != nil {
			raws = list.Items
		} else if err != nil && strings.Contains(string(raws[0]), `"items"`) {
			return nil, undecodable("Kubernetes EventList: " + JSONError(err, raws[0]))
		}
	}
	var items []Item
	for i, raw := range raws {
		var ev k8sEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			items = append(items, Item{Err: itemError(fmt.Sprintf("event %d", i), undecodable(JSONError(err, bytes.TrimSpace(raw))))})
			continue
		}
		if ev.InvolvedObject == nil && ev.Regarding == nil && ev.Reason == "" {
			if len(raws) == 1 {
				return nil, undecodable("body is not a Kubernetes Event: it has no involvedObject, regarding or reason")
			}
			items = append(items, Item{Err: graph.Invalidf("event %d is not a Kubernetes Event: it has no involvedObject, regarding or reason", i)})
			continue
		}
		if it := k8sItem(i, ev, now); it != nil {
			items = append(items, *it)
		}
	}
	return items, nil
}

func k8sItem(i int, ev k8sEvent, now time.Time) *Item {
	kind, ok := k8sReasons[ev.Reason]
	if !ok {
		return nil
	}
	obj := ev.InvolvedObject
	timestamps := []struct{ field, value string }{
		{"lastTimestamp", ev.LastTimestamp}, {"eventTime", ev.EventTime}, {"firstTimestamp", ev.FirstTimestamp},
	}
	message, component, count := ev.Message, firstNonEmpty(ev.ReportingComponent, ev.Source.Component), int64(ev.Count)
	if obj == nil {
		obj = ev.Regarding
		var series string
		if ev.Series != nil {
			series = ev.Series.LastObservedTime
			count = int64(ev.Series.Count)
		}
		timestamps = []struct{ field, value string }{
			{"deprecatedLastTimestamp", ev.DeprecatedLastTimestamp}, {"series.lastObservedTime", series},
			{"eventTime", ev.EventTime}, {"deprecatedFirstTimestamp", ev.DeprecatedFirstTimestamp},
		}
		message = firstNonEmpty(ev.Note, ev.Message)
		component = firstNonEmpty(ev.ReportingController, component)
		if count == 0 {
			count = int64(ev.DeprecatedCount)
		}
	}
	if obj == nil {
		obj = &k8sObjectRef{}
	}
	what := fmt.Sprintf("event %d (%s %s/%s)", i, ev.Reason, firstNonEmpty(obj.Namespace, ev.Metadata.Namespace), obj.Name)
	if strings.TrimSpace(obj.Name) == "" {
		return &Item{Err: graph.Invalidf("%s: involvedObject.name (regarding.name) is empty: it names the service", what)}
	}
	var at time.Time
	for _, ts := range timestamps {
		t, err := parseTime(ts.field, ts.value)
		if err != nil {
			return &Item{Err: itemError(what, err)}
		}
		if !t.IsZero() && t.Year() > 1 {
			at = t
			break
		}
	}
	if at.IsZero() {
		return &Item{Err: graph.Invalidf("%s: no time: lastTimestamp, eventTime and firstTimestamp are all empty", what)}
	}
	if count < 1 {
		count = 1
	}
	attrs := map[string]any{"reason": ev.Reason, "objectKind": obj.Kind}
	setIf(attrs, "message", truncate(message, graph.MaxSummaryLen))
	setIf(attrs, "type", ev.Type)
	setIf(attrs, "component", component)
	attrs["count"] = count
	switch ev.Reason {
	case "SuccessfulRescale":
		if m := hpaRescaleMessage.FindStringSubmatch(message); m != nil {
			attrs["newReplicas"] = atoi(m[1])
			attrs["rescaleReason"] = m[2]
		}
	case "ScalingReplicaSet":
		if m := replicaSetMessage.FindStringSubmatch(message); m != nil {
			attrs["direction"] = m[1]
			attrs["replicaSet"] = m[2]
			attrs["toReplicas"] = atoi(m[3])
			if m[4] != "" {
				attrs["fromReplicas"] = atoi(m[4])
			}
		}
	}
	summary := firstNonEmpty(message, ev.Reason)
	if obj.Kind != "" {
		summary = obj.Kind + " " + obj.Name + ": " + summary
	}
	e := graph.Event{
		Kind:        kind,
		Service:     obj.Name,
		Environment: firstNonEmpty(obj.Namespace, ev.Metadata.Namespace),
		At:          at,
		Source:      "kubernetes",
		Summary:     truncate(summary, graph.MaxSummaryLen),
		Attributes:  attrs,
	}
	if id := firstNonEmpty(ev.Metadata.UID, namespacedName(ev.Metadata.Namespace, ev.Metadata.Name)); id != "" {
		e.ExternalID = id + "#" + strconv.FormatInt(count, 10)
	}
	it := eventItem(e, now, what)
	return &it
}

func namespacedName(ns, name string) string {
	if name == "" {
		return ""
	}
	return ns + "/" + name
}

// atoi parses a digit string matched by a regexp; an overflow gives 0.
func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
