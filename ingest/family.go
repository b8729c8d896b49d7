package ingest

import "github.com/sregraph/sregraph/graph"

// Family is a group of inputs that travel together: each family has one
// Kafka topic, and a webhook delivery published to Kafka goes to the
// topic of its family.
type Family string

// The families.
const (
	FamilyDeploys Family = "deploys"
	FamilyScale   Family = "scale"
	FamilyTickets Family = "tickets"
	FamilySLO     Family = "slo"
	// FamilySpans carries OTLP traces (the OpenTelemetry Collector Kafka
	// exporter's default topic).
	FamilySpans Family = "spans"
)

// Families lists every family in a stable order.
var Families = []Family{FamilyDeploys, FamilyScale, FamilyTickets, FamilySLO, FamilySpans}

// FamilyOf is the family an event kind travels in.
func FamilyOf(k graph.Kind) Family {
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
