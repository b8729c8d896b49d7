package ingest

import (
	"fmt"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func coreEvent(reason, message, times string) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"v1","metadata":{"name":"e.1","namespace":"shop","uid":"uid-1"},
		"involvedObject":{"kind":"Deployment","namespace":"shop","name":"cart"},"reason":%q,"message":%q,%s,"count":4,"type":"Normal"}`, reason, message, times)
}

func TestKubernetesReasons(t *testing.T) {
	times := `"lastTimestamp":"2026-11-21T11:00:00Z"`
	tests := []struct {
		reason, message string
		want            graph.Kind
		attrs           map[string]any
	}{
		{"SuccessfulRescale", "New size: 5; reason: cpu resource utilization (percentage of request) above target", graph.KindScale,
			map[string]any{"newReplicas": int64(5), "rescaleReason": "cpu resource utilization (percentage of request) above target"}},
		{"ScalingReplicaSet", "Scaled up replica set cart-7d9f to 3", graph.KindScale,
			map[string]any{"direction": "up", "replicaSet": "cart-7d9f", "toReplicas": int64(3)}},
		{"ScalingReplicaSet", "Scaled down replica set cart-5b6c to 1 from 4", graph.KindScale,
			map[string]any{"direction": "down", "replicaSet": "cart-5b6c", "toReplicas": int64(1), "fromReplicas": int64(4)}},
		{"ScalingReplicaSet", "something unexpected", graph.KindScale, map[string]any{"message": "something unexpected"}},
		{"KEDAScaleTargetActivated", "Scaled apps/v1.Deployment shop/cart from 0 to 1", graph.KindScale, nil},
		{"DeploymentRollback", `Rolled back deployment "cart" to revision 3`, graph.KindRollback, nil},
		{"Pulled", "Successfully pulled image", "", nil},
		{"BackOff", "Back-off restarting failed container", "", nil},
		{"FailedRescale", "New size: 5; reason: ...; error: forbidden", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.reason+"/"+tt.message, func(t *testing.T) {
			items := mustDecode(t, DecodeKubernetes, coreEvent(tt.reason, tt.message, times), nil)
			if tt.want == "" {
				if len(items) != 0 {
					t.Fatalf("got %+v, want nothing", items)
				}
				return
			}
			e := mustEvent(t, items)
			if e.Kind != tt.want || e.Service != "cart" || e.Environment != "shop" || e.ExternalID != "uid-1#4" || e.Attributes["reason"] != tt.reason {
				t.Errorf("got %+v", e)
			}
			for k, v := range tt.attrs {
				if e.Attributes[k] != v {
					t.Errorf("attributes[%s] = %#v, want %#v", k, e.Attributes[k], v)
				}
			}
		})
	}
}

func TestKubernetesTimes(t *testing.T) {
	tests := []struct {
		name, times, want string
	}{
		{"lastTimestamp first", `"firstTimestamp":"2026-11-21T10:00:00Z","lastTimestamp":"2026-11-21T11:00:00Z","eventTime":"2026-11-21T10:30:00.000001Z"`, "11:00:00"},
		{"eventTime when lastTimestamp is null", `"firstTimestamp":null,"lastTimestamp":null,"eventTime":"2026-11-21T10:30:00.000001Z"`, "10:30:00"},
		{"firstTimestamp last", `"firstTimestamp":"2026-11-21T10:00:00Z"`, "10:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEvent(t, mustDecode(t, DecodeKubernetes, coreEvent("ScalingReplicaSet", "Scaled up replica set cart-1 to 2", tt.times), nil))
			if got := e.At.Format("15:04:05"); got != tt.want {
				t.Errorf("at %s, want %s", got, tt.want)
			}
		})
	}
	newStyle := `{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"uid":"u-2","namespace":"search"},"reason":"SuccessfulRescale",
		"regarding":{"kind":"HorizontalPodAutoscaler","name":"search","namespace":"search"},"note":"New size: 3; reason: x",
		"eventTime":"2026-11-21T10:00:00.000000Z","series":{"count":2,"lastObservedTime":"2026-11-21T10:20:00.000000Z"}%s}`
	e := mustEvent(t, mustDecode(t, DecodeKubernetes, fmt.Sprintf(newStyle, ""), nil))
	if e.At.Format("15:04") != "10:20" || e.ExternalID != "u-2#2" || e.Service != "search" || e.Attributes["newReplicas"] != int64(3) {
		t.Errorf("events.k8s.io with series: got %+v", e)
	}
	e = mustEvent(t, mustDecode(t, DecodeKubernetes, fmt.Sprintf(newStyle, `,"deprecatedLastTimestamp":"2026-11-21T10:25:00Z"`), nil))
	if e.At.Format("15:04") != "10:25" {
		t.Errorf("deprecatedLastTimestamp not preferred: at %s", e.At)
	}
}

// Each repetition of an aggregated event (count goes up) is one more
// scale; a resend of the same repetition is a duplicate.
func TestKubernetesRepetitions(t *testing.T) {
	body := coreEvent("SuccessfulRescale", "New size: 5; reason: x", `"lastTimestamp":"2026-11-21T11:00:00Z"`)
	a := mustEvent(t, mustDecode(t, DecodeKubernetes, body, nil))
	b := mustEvent(t, mustDecode(t, DecodeKubernetes, body, nil))
	c := mustEvent(t, mustDecode(t, DecodeKubernetes, replaceOnce(body, `"count":4`, `"count":5`), nil))
	if a.ID != b.ID || a.ID == c.ID {
		t.Errorf("IDs: resend %v, next repetition %v", a.ID == b.ID, a.ID == c.ID)
	}
}

func TestKubernetesListShapes(t *testing.T) {
	one := coreEvent("ScalingReplicaSet", "Scaled up replica set cart-1 to 2", `"lastTimestamp":"2026-11-21T11:00:00Z"`)
	for name, body := range map[string]string{
		"List":      `{"kind":"List","apiVersion":"v1","items":[` + one + `,` + one + `]}`,
		"EventList": `{"kind":"EventList","apiVersion":"v1","metadata":{},"items":[` + one + `,` + one + `]}`,
		"array":     `[` + one + `,` + one + `]`,
	} {
		items := mustDecode(t, DecodeKubernetes, body, nil)
		checkItems(t, items, nil)
		if len(items) != 2 || items[0].Event == nil {
			t.Errorf("%s: got %+v", name, items)
		}
	}
	if _, err := DecodeKubernetes([]byte(`{"kind":"Deployment","metadata":{"name":"x"}}`), nil, testNow); err == nil {
		t.Error("a Deployment was accepted as an Event")
	}
}

func FuzzDecodeKubernetes(f *testing.F) { fuzzDecoder(f, FormatKubernetes, DecodeKubernetes) }
