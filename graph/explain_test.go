package graph

import "testing"

// An autoscaler adding replicas answers the load; one removing them, or a
// person's scaling, may be a cause. Each source says it its own way: the
// direction a decoder records, the replica counts, or the HPA's message.
func TestAddsCapacity(t *testing.T) {
	hpa := func(attrs map[string]any, summary string) Event {
		a := map[string]any{"reason": "SuccessfulRescale"}
		for k, v := range attrs {
			a[k] = v
		}
		return Event{Kind: KindScale, Service: "api", Summary: summary, Attributes: a}
	}
	tests := []struct {
		name string
		e    Event
		want bool
	}{
		{"decoded direction up", hpa(map[string]any{"direction": "up"}, "api scaled"), true},
		{"decoded direction down", hpa(map[string]any{"direction": "down"}, "api scaled"), false},
		{"more replicas", hpa(map[string]any{"fromReplicas": 4.0, "toReplicas": 6.0}, "api scaled from 4 to 6"), true},
		{"fewer replicas", hpa(map[string]any{"fromReplicas": 6, "toReplicas": 4}, "api scaled from 6 to 4"), false},
		{"above target", hpa(nil, "New size: 8; reason: cpu resource utilization (percentage of request) above target"), true},
		{"below target", hpa(nil, "New size: 3; reason: All metrics below target"), false},
		{"a person's scale-up", Event{Kind: KindScale, Service: "api", Summary: "scaled to 10 for the sale",
			Attributes: map[string]any{"fromReplicas": 4.0, "toReplicas": 10.0}}, false},
		{"not a scale", Event{Kind: KindDeploy, Service: "api", Attributes: map[string]any{"direction": "up"}}, false},
	}
	for _, tc := range tests {
		if got := AddsCapacity(tc.e); got != tc.want {
			t.Errorf("%s: AddsCapacity = %v, want %v", tc.name, got, tc.want)
		}
	}
}
