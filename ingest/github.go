package ingest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

type githubRepository struct {
	Name     string `json:"name"`
	FullName string `json:"full_name"`
	HTMLURL  string `json:"html_url"`
}

type githubUser struct {
	Login string `json:"login"`
}

type githubDeploymentStatusPayload struct {
	Action           string `json:"action"`
	DeploymentStatus *struct {
		ID             flexInt    `json:"id"`
		State          string     `json:"state"`
		Description    string     `json:"description"`
		Environment    string     `json:"environment"`
		TargetURL      string     `json:"target_url"`
		EnvironmentURL string     `json:"environment_url"`
		LogURL         string     `json:"log_url"`
		CreatedAt      string     `json:"created_at"`
		Creator        githubUser `json:"creator"`
	} `json:"deployment_status"`
	Deployment struct {
		ID          flexInt    `json:"id"`
		URL         string     `json:"url"`
		SHA         string     `json:"sha"`
		Ref         string     `json:"ref"`
		Task        string     `json:"task"`
		Payload     any        `json:"payload"`
		Environment string     `json:"environment"`
		Description string     `json:"description"`
		Creator     githubUser `json:"creator"`
	} `json:"deployment"`
	Repository githubRepository `json:"repository"`
}

type githubIssuesPayload struct {
	Action string `json:"action"`
	Issue  *struct {
		Number    flexInt    `json:"number"`
		Title     string     `json:"title"`
		State     string     `json:"state"`
		HTMLURL   string     `json:"html_url"`
		UpdatedAt string     `json:"updated_at"`
		CreatedAt string     `json:"created_at"`
		ClosedAt  string     `json:"closed_at"`
		User      githubUser `json:"user"`
		Labels    []struct {
			Name string `json:"name"`
		} `json:"labels"`
		Assignees []githubUser `json:"assignees"`
	} `json:"issue"`
	Repository githubRepository `json:"repository"`
}

// DecodeGitHub decodes a GitHub webhook delivery. The event name comes
// from the X-GitHub-Event header (or, without it, from the payload's
// shape).
//
// deployment_status: states success, failure and error become deploy
// events (a failed deployment may have changed part of the fleet, so it
// is kept as a suspect, with attributes.state saying how it ended); the
// states that are not an outcome (pending, queued, in_progress, waiting,
// inactive) yield no items. Service is deployment.payload.service, else
// repository.name; at is deployment_status.created_at; externalId is
// deployment_status.id.
//
// issues: a ticket; service is the issue's first "service:<name>" label,
// else repository.name; at is issue.created_at (issue.updated_at if it
// is absent), the update time kept as attributes.updatedAt; a closed
// issue ends at issue.closed_at; externalId is "<owner>/<repo>#<number>",
// so every delivery about one issue is one ticket, which keeps its start
// and takes the state of the newest update (graph.Merge).
//
// ping and deployment deliveries yield no items; any other event is an
// error telling the user which events to send.
func DecodeGitHub(body []byte, h Headers, now time.Time) ([]Item, error) {
	event := strings.ToLower(h.Get("x-github-event"))
	if event == "" {
		var probe map[string]json.RawMessage
		if err := decodeJSON("GitHub webhook", body, &probe); err != nil {
			return nil, err
		}
		switch {
		case probe["deployment_status"] != nil:
			event = "deployment_status"
		case probe["issue"] != nil && probe["repository"] != nil:
			event = "issues"
		case probe["zen"] != nil:
			event = "ping"
		default:
			return nil, undecodable("GitHub webhook without an X-GitHub-Event header, and the body is neither a deployment_status nor an issues event")
		}
	}
	switch event {
	case "ping", "deployment":
		var probe json.RawMessage
		if err := decodeJSON("GitHub webhook", body, &probe); err != nil {
			return nil, err
		}
		return nil, nil
	case "deployment_status":
		var p githubDeploymentStatusPayload
		if err := decodeJSON("GitHub deployment_status", body, &p); err != nil {
			return nil, err
		}
		if p.DeploymentStatus == nil {
			return nil, undecodable("GitHub deployment_status event has no \"deployment_status\" object")
		}
		return collect(githubDeploymentItem(p, now)), nil
	case "issues":
		var p githubIssuesPayload
		if err := decodeJSON("GitHub issues", body, &p); err != nil {
			return nil, err
		}
		if p.Issue == nil {
			return nil, undecodable("GitHub issues event has no \"issue\" object")
		}
		return []Item{githubIssueItem(p, now)}, nil
	}
	return nil, graph.Invalidf("GitHub event %q is not one sregraph reads: send deployment_status and issues events (untick the others in the webhook settings)", event)
}

func githubDeploymentItem(p githubDeploymentStatusPayload, now time.Time) *Item {
	ds := p.DeploymentStatus
	state := strings.ToLower(strings.TrimSpace(ds.State))
	switch state {
	case "success", "failure", "error":
	default:
		return nil
	}
	service := githubPayloadService(p.Deployment.Payload)
	if service == "" {
		service = p.Repository.Name
	}
	what := "deployment_status " + itoa(int64(ds.ID))
	if service == "" {
		return &Item{Err: graph.Invalidf("%s: no service: set deployment.payload.service or send the repository object", what)}
	}
	at, err := parseTime("deployment_status.created_at", ds.CreatedAt)
	if err != nil {
		return &Item{Err: itemError(what, err)}
	}
	env := firstNonEmpty(p.Deployment.Environment, ds.Environment)
	attrs := map[string]any{"state": state}
	setIf(attrs, "sha", p.Deployment.SHA)
	setIf(attrs, "ref", p.Deployment.Ref)
	setIf(attrs, "task", p.Deployment.Task)
	setIf(attrs, "repository", p.Repository.FullName)
	setIf(attrs, "creator", firstNonEmpty(p.Deployment.Creator.Login, ds.Creator.Login))
	setIf(attrs, "description", firstNonEmpty(ds.Description, p.Deployment.Description))
	if p.Deployment.ID != 0 {
		attrs["deploymentId"] = int64(p.Deployment.ID)
	}
	version := firstNonEmpty(p.Deployment.Ref, shortRevision(p.Deployment.SHA))
	summary := service + " " + version
	switch state {
	case "success":
		summary += " deployed"
	case "failure":
		summary += " deployment failed"
	default:
		summary += " deployment errored"
	}
	if env != "" {
		summary += " to " + env
	}
	e := graph.Event{
		Kind:        graph.KindDeploy,
		Service:     service,
		Environment: env,
		At:          at,
		Source:      "github",
		Summary:     truncate(summary, graph.MaxSummaryLen),
		URL:         firstNonEmpty(ds.TargetURL, ds.LogURL, p.Deployment.URL),
		Attributes:  attrs,
	}
	if ds.ID != 0 {
		e.ExternalID = itoa(int64(ds.ID))
	}
	it := eventItem(e, now, what)
	return &it
}

// githubPayloadService reads "service" from a deployment payload, which
// GitHub passes through as the JSON object (or JSON-encoded string) the
// deployment was created with.
func githubPayloadService(payload any) string {
	switch p := payload.(type) {
	case map[string]any:
		s, _ := p["service"].(string)
		return strings.TrimSpace(s)
	case string:
		var m map[string]any
		if json.Unmarshal([]byte(p), &m) == nil {
			return githubPayloadService(m)
		}
	}
	return ""
}

func githubIssueItem(p githubIssuesPayload, now time.Time) Item {
	is := p.Issue
	repo := firstNonEmpty(p.Repository.FullName, p.Repository.Name)
	what := "issue " + repo + "#" + itoa(int64(is.Number))
	labels := make([]string, 0, len(is.Labels))
	for _, l := range is.Labels {
		labels = append(labels, l.Name)
	}
	service := labelService(labels)
	if service == "" {
		service = p.Repository.Name
	}
	if service == "" {
		return Item{Err: graph.Invalidf("%s: no service: add a \"service:<name>\" label or send the repository object", what)}
	}
	updated, err := parseTime("issue.updated_at", is.UpdatedAt)
	if err != nil {
		return Item{Err: itemError(what, err)}
	}
	created, err := parseTime("issue.created_at", is.CreatedAt)
	if err != nil {
		return Item{Err: itemError(what, err)}
	}
	closed, err := parseTime("issue.closed_at", is.ClosedAt)
	if err != nil {
		return Item{Err: itemError(what, err)}
	}
	// The ticket starts when the issue was opened; the update orders the
	// reports (graph.Merge).
	at := created
	if at.IsZero() || (!updated.IsZero() && updated.Before(at)) {
		at = updated
	}
	attrs := map[string]any{"number": int64(is.Number)}
	if !updated.IsZero() {
		attrs[graph.UpdatedAttr] = updated.UTC().Format(time.RFC3339Nano)
	}
	setIf(attrs, "action", p.Action)
	setIf(attrs, "state", is.State)
	setIf(attrs, "repository", repo)
	setIf(attrs, "author", is.User.Login)
	setIf(attrs, "createdAt", is.CreatedAt)
	setIf(attrs, "closedAt", is.ClosedAt)
	if len(labels) > 0 {
		attrs["labels"] = stringsAny(labels)
	}
	if len(is.Assignees) > 0 {
		logins := make([]any, len(is.Assignees))
		for i, a := range is.Assignees {
			logins[i] = a.Login
		}
		attrs["assignees"] = logins
	}
	e := graph.Event{
		Kind:       graph.KindTicket,
		Service:    service,
		At:         at,
		Source:     "github",
		Summary:    truncate("#"+itoa(int64(is.Number))+" "+is.Title, graph.MaxSummaryLen),
		URL:        is.HTMLURL,
		Attributes: attrs,
	}
	if is.State == "closed" && !closed.IsZero() && !closed.Before(at) {
		e.End = &closed
	}
	if repo != "" && is.Number != 0 {
		e.ExternalID = repo + "#" + itoa(int64(is.Number))
	}
	return eventItem(e, now, what)
}

// GitHub signs with X-Hub-Signature-256: sha256=<hex HMAC-SHA256>.
var githubSignature = Signature{
	Header:   "X-Hub-Signature-256",
	Secret:   "github-secret",
	Describe: "GitHub webhook secret",
	format:   "sha256=<hex HMAC-SHA256 of the body>",
	parse: func(v string) ([]claimedDigest, error) {
		d, err := parseAlgDigest(v)
		if err != nil {
			return nil, err
		}
		if len(d.sum) != sha256.Size {
			return nil, fmt.Errorf("want sha256=<64 hex digits>")
		}
		return []claimedDigest{d}, nil
	},
}
