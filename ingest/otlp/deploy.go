package otlp

import (
	"fmt"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// maxVersions bounds the versions remembered per service.
const maxVersions = 16

// versionState is what the aggregator remembers of one service's
// versions: when each was last seen.
type versionState struct {
	current  string
	lastSeen map[string]time.Time
}

// seeVersion records that service (in env) ran version at instant at, and
// returns a DEPLOY event when that version is new: the service was seen
// before with another version, and this version was not seen in the last
// VersionForget. The first version seen after start is not a deploy (it
// may have been running for days); a rolling update that alternates
// between the old and the new version yields one event. The ExternalID is
// "<service>@<version>", so seeing the version again, on another replica
// or after a restart, is a duplicate.
func (a *Aggregator) seeVersion(service, env, version string, at time.Time) (graph.Event, bool) {
	key := service + "\x00" + env
	st := a.versions[key]
	if st == nil {
		a.versions[key] = &versionState{current: version, lastSeen: map[string]time.Time{version: at}}
		return graph.Event{}, false
	}
	last, known := st.lastSeen[version]
	if known && at.Sub(last) <= a.cfg.VersionForget {
		if at.After(last) {
			st.lastSeen[version] = at
		}
		return graph.Event{}, false
	}
	previous := st.current
	st.current = version
	st.lastSeen[version] = at
	if len(st.lastSeen) > maxVersions {
		oldest, oldestAt := "", time.Time{}
		for v, t := range st.lastSeen {
			if v != version && (oldest == "" || t.Before(oldestAt)) {
				oldest, oldestAt = v, t
			}
		}
		delete(st.lastSeen, oldest)
	}
	if previous == version {
		return graph.Event{}, false
	}
	e := graph.Event{
		Kind:        graph.KindDeploy,
		Service:     service,
		Environment: env,
		At:          at,
		Source:      Source,
		ExternalID:  service + "@" + version,
		Summary:     fmt.Sprintf("%s %s seen in traces (was %s)", service, version, previous),
		Attributes: map[string]any{
			"version":         version,
			"previousVersion": previous,
			"detectedFrom":    "resource attribute service.version",
		},
	}
	if err := e.Normalize(a.now()); err != nil {
		return graph.Event{}, false
	}
	return e, true
}
