package ingest

import (
	"fmt"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// argocdNotification is the body the README's Argo CD notification
// template (testdata/ingest/argocd/template.yaml) renders.
type argocdNotification struct {
	App        string `json:"app"`
	Namespace  string `json:"namespace"`
	Revision   string `json:"revision"`
	StartedAt  string `json:"startedAt"`
	FinishedAt string `json:"finishedAt"`
	Phase      string `json:"phase"`
	Health     string `json:"health"`
	RepoURL    string `json:"repoURL"`
	ArgoCDURL  string `json:"argocdUrl"`
}

// DecodeArgoCD decodes the JSON rendered by the Argo CD notification
// template sregraph ships: a deploy of service app (environment = the
// destination namespace) at finishedAt, with externalId app@revision so
// the notifier's retries and repeated triggers for one revision are
// duplicates. A multi-source application's revision is the revisions of
// its sources, comma-separated in source order, so a sync that changes
// any of them is a new deploy. A field Argo CD could not fill ("<no
// value>", from older templates) counts as empty. A sync whose phase is
// Failed or Error is kept as a deploy
// with attributes.phase saying so (it may have applied part of the
// change); Running and Terminating syncs yield no items. A body holding a
// JSON array of such objects is accepted too.
func DecodeArgoCD(body []byte, _ Headers, now time.Time) ([]Item, error) {
	raws, err := jsonList("Argo CD notification", body)
	if err != nil {
		return nil, err
	}
	var items []Item
	for i, raw := range raws {
		var n argocdNotification
		if err := decodeJSON("Argo CD notification", raw, &n); err != nil {
			if len(raws) == 1 {
				return nil, err
			}
			items = append(items, Item{Err: itemError(fmt.Sprintf("notification %d", i), err)})
			continue
		}
		items = append(items, collect(argocdItem(i, n, now))...)
	}
	return items, nil
}

func argocdItem(i int, n argocdNotification, now time.Time) *Item {
	for _, f := range []*string{&n.App, &n.Namespace, &n.Revision, &n.StartedAt, &n.FinishedAt, &n.Phase, &n.Health, &n.RepoURL} {
		*f = strings.TrimSpace(strings.ReplaceAll(*f, argocdNoValue, ""))
	}
	what := fmt.Sprintf("notification %d", i)
	app := strings.TrimSpace(n.App)
	if app == "" {
		return &Item{Err: graph.Invalidf("%s: \"app\" is empty: the template must render {{.app.metadata.name}} into it", what)}
	}
	what += " (" + app + ")"
	phase := strings.TrimSpace(n.Phase)
	switch strings.ToLower(phase) {
	case "", "succeeded", "failed", "error":
	default:
		return nil
	}
	at, err := parseTime("finishedAt", n.FinishedAt)
	if err != nil {
		return &Item{Err: itemError(what, err)}
	}
	if at.IsZero() {
		return &Item{Err: graph.Invalidf("%s: \"finishedAt\" is empty: the template must render {{.app.status.operationState.finishedAt}} into it", what)}
	}
	rev := strings.TrimSpace(n.Revision)
	attrs := map[string]any{}
	setIf(attrs, "revision", rev)
	setIf(attrs, "phase", phase)
	setIf(attrs, "health", n.Health)
	setIf(attrs, "repoURL", n.RepoURL)
	setIf(attrs, "startedAt", n.StartedAt)
	short := argocdShortRevisions(rev)
	summary := app + " synced"
	if rev != "" {
		summary += " to " + short
	}
	if p := strings.ToLower(phase); p == "failed" || p == "error" {
		summary = app + " sync " + p
		if rev != "" {
			summary += " at " + short
		}
	}
	e := graph.Event{
		Kind:        graph.KindDeploy,
		Service:     app,
		Environment: n.Namespace,
		At:          at,
		Source:      "argocd",
		Summary:     truncate(summary, graph.MaxSummaryLen),
		URL:         n.ArgoCDURL,
		Attributes:  attrs,
	}
	if rev != "" {
		e.ExternalID = app + "@" + rev
	}
	it := eventItem(e, now, what)
	return &it
}

// argocdNoValue is what Go's text/template renders for a field the
// Application lacks.
const argocdNoValue = "<no value>"

// argocdShortRevisions shortens each of a comma-separated list of
// revisions (a multi-source application's).
func argocdShortRevisions(rev string) string {
	parts := strings.Split(rev, ",")
	for i, p := range parts {
		parts[i] = shortRevision(strings.TrimSpace(p))
	}
	return strings.Join(parts, ", ")
}
