package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Kind is what an event says happened.
type Kind string

// The event kinds. Deploy, rollback, config and flag are changes that can
// cause a breach; scale is a weaker cause; tickets and incidents are human
// context; SLO breaches and anomalies are symptoms.
const (
	KindDeploy    Kind = "deploy"
	KindRollback  Kind = "rollback"
	KindScale     Kind = "scale"
	KindConfig    Kind = "config"
	KindFlag      Kind = "flag"
	KindTicket    Kind = "ticket"
	KindIncident  Kind = "incident"
	KindSLOBreach Kind = "slo_breach"
	KindAnomaly   Kind = "anomaly"
	// KindConfirmation records what a responder confirmed caused a
	// breach (see Confirmation): neither a cause nor a symptom, never
	// ranked.
	KindConfirmation Kind = "confirmation"
)

// Kinds lists every stored event kind in a stable order (stores number
// kinds by their place here: append, never reorder).
var Kinds = []Kind{KindDeploy, KindRollback, KindScale, KindConfig, KindFlag, KindTicket, KindIncident, KindSLOBreach, KindAnomaly, KindConfirmation}

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	for _, known := range Kinds {
		if k == known {
			return true
		}
	}
	return false
}

// Symptom reports whether events of this kind describe an effect (a breach,
// an anomaly) rather than something that could have caused one.
func (k Kind) Symptom() bool { return k == KindSLOBreach || k == KindAnomaly }

// ParseKind parses a kind name case-insensitively ("DEPLOY", "deploy",
// "slo-breach").
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	if !k.Valid() {
		names := make([]string, len(Kinds))
		for i, k := range Kinds {
			names[i] = string(k)
		}
		return "", unknownName("kind", s, names)
	}
	return k, nil
}

// Event is one time-stamped fact about one service.
type Event struct {
	// ID is sregraph's identifier, derived from the idempotency key.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Service is the (aliased) name of the service the event happened to.
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	// At is when it happened (UTC). For a breach, when it started.
	At time.Time `json:"at"`
	// End is when it ended, if it has (a breach's resolve, a rollout's end).
	End        *time.Time `json:"end,omitempty"`
	Source     string     `json:"source"`
	ExternalID string     `json:"externalId,omitempty"`
	Summary    string     `json:"summary"`
	URL        string     `json:"url,omitempty"`
	// Attributes holds whatever else the source said, as decoded JSON.
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Limits on event fields; longer values are rejected rather than truncated.
const (
	MaxNameLen    = 253
	MaxSummaryLen = 4096
	MaxURLLen     = 2048
)

// Earliest and Latest bound the instants sregraph accepts. Anything outside
// is almost certainly a unit mistake (seconds read as milliseconds, or a
// zero value).
var (
	Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	Latest   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Normalize trims and canonicalises e in place and fills in its ID, then
// validates it. now bounds how far in the future an event may be (one day of
// clock skew is tolerated).
func (e *Event) Normalize(now time.Time) error {
	e.Service = strings.TrimSpace(e.Service)
	e.Environment = strings.TrimSpace(e.Environment)
	e.Source = strings.TrimSpace(e.Source)
	e.ExternalID = strings.TrimSpace(e.ExternalID)
	e.Summary = strings.TrimSpace(e.Summary)
	e.URL = strings.TrimSpace(e.URL)
	e.At = e.At.UTC().Truncate(time.Millisecond)
	if e.End != nil {
		end := e.End.UTC().Truncate(time.Millisecond)
		e.End = &end
	}
	if len(e.Attributes) == 0 {
		e.Attributes = nil
	}
	if err := e.Validate(now); err != nil {
		return err
	}
	if e.Summary == "" {
		e.Summary = string(e.Kind) + " on " + e.Service
	}
	e.ID = e.key()
	return nil
}

// Validate reports the first problem with e, as an ErrInvalid error whose
// message names the field.
func (e *Event) Validate(now time.Time) error {
	switch {
	case e.Kind == "":
		return Invalidf("kind is required")
	case !e.Kind.Valid():
		_, err := ParseKind(string(e.Kind))
		return err
	case e.Service == "":
		return Invalidf("service is required")
	case len(e.Service) > MaxNameLen:
		return Invalidf("service is longer than %d characters", MaxNameLen)
	case strings.ContainsAny(e.Service, "\x00\n\r\t/"):
		return Invalidf("service %q contains a control character or '/'", e.Service)
	case len(e.Environment) > MaxNameLen:
		return Invalidf("environment is longer than %d characters", MaxNameLen)
	case e.Source == "":
		return Invalidf("source is required")
	case len(e.Source) > MaxNameLen:
		return Invalidf("source is longer than %d characters", MaxNameLen)
	case len(e.ExternalID) > MaxSummaryLen:
		return Invalidf("id is longer than %d characters", MaxSummaryLen)
	case e.At.IsZero():
		return Invalidf("at is required (RFC 3339, e.g. 2026-11-21T11:50:00Z)")
	case e.At.Before(Earliest) || e.At.After(Latest):
		return Invalidf("at %s is outside the accepted range %d..%d", e.At.Format(time.RFC3339), Earliest.Year(), Latest.Year())
	case !now.IsZero() && e.At.After(now.Add(24*time.Hour)):
		return Invalidf("at %s is more than a day in the future", e.At.Format(time.RFC3339))
	case e.End != nil && e.End.Before(e.At):
		return Invalidf("end %s is before at %s", e.End.Format(time.RFC3339), e.At.Format(time.RFC3339))
	case len(e.Summary) > MaxSummaryLen:
		return Invalidf("summary is longer than %d characters", MaxSummaryLen)
	case len(e.URL) > MaxURLLen:
		return Invalidf("url is longer than %d characters", MaxURLLen)
	}
	return nil
}

// key is the idempotency key hashed into an ID: (source, externalId) when
// the source gave an id, else the whole normalised event, so a resend is a
// duplicate rather than a second event.
func (e *Event) key() string {
	h := sha256.New()
	if e.ExternalID != "" {
		h.Write([]byte("ext\x00" + e.Source + "\x00" + e.ExternalID))
	} else {
		h.Write([]byte("hash\x00" + e.Source + "\x00" + string(e.Kind) + "\x00" + e.Service + "\x00" + e.Environment + "\x00"))
		h.Write([]byte(e.At.Format(time.RFC3339Nano) + "\x00"))
		if e.End != nil {
			h.Write([]byte(e.End.Format(time.RFC3339Nano)))
		}
		h.Write([]byte("\x00" + e.Summary + "\x00" + e.URL + "\x00"))
		// encoding/json sorts map keys, which makes this canonical.
		attrs, _ := json.Marshal(e.Attributes)
		h.Write(attrs)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Age returns how long before ref the event happened; negative when it
// happened after ref.
func (e *Event) Age(ref time.Time) time.Duration { return ref.Sub(e.At) }

// SortEvents orders events newest first, ties by ID, the order every
// listing uses.
func SortEvents(evs []Event) {
	sort.Slice(evs, func(i, j int) bool { return EventLess(evs[i], evs[j]) })
}

// EventLess is the listing order: newer first, then by ID.
func EventLess(a, b Event) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	return a.ID < b.ID
}
