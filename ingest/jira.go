package ingest

import (
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

type jiraNamed struct {
	Name string `json:"name"`
}

// jiraWebhook holds the fields of a Jira issue webhook that sregraph reads.
type jiraWebhook struct {
	Timestamp    *flexInt `json:"timestamp"`
	WebhookEvent string   `json:"webhookEvent"`
	EventType    string   `json:"issue_event_type_name"`
	User         struct {
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Issue *struct {
		ID     flexString `json:"id"`
		Key    string     `json:"key"`
		Self   string     `json:"self"`
		Fields struct {
			Summary string `json:"summary"`
			Status  struct {
				Name           string `json:"name"`
				StatusCategory struct {
					Key string `json:"key"`
				} `json:"statusCategory"`
			} `json:"status"`
			Priority   jiraNamed   `json:"priority"`
			IssueType  jiraNamed   `json:"issuetype"`
			Labels     []string    `json:"labels"`
			Components []jiraNamed `json:"components"`
			Project    struct {
				Key string `json:"key"`
			} `json:"project"`
		} `json:"fields"`
	} `json:"issue"`
}

// DecodeJira decodes a Jira issue webhook (jira:issue_created,
// jira:issue_updated, jira:issue_deleted) into a ticket. The service is
// the issue's first component, else its first "service:<name>" label,
// else its project key; at is the webhook's timestamp (epoch
// milliseconds), also kept as attributes.updatedAt; the externalId is the
// issue key, so every webhook of one issue is one ticket, which keeps the
// time of the first webhook seen (its start) and the state of the newest
// (graph.Merge). Other webhook events (comments, sprints, projects) yield
// no items.
func DecodeJira(body []byte, _ Headers, now time.Time) ([]Item, error) {
	var w jiraWebhook
	if err := decodeJSON("Jira webhook", body, &w); err != nil {
		return nil, err
	}
	if w.WebhookEvent == "" {
		return nil, undecodable("Jira webhook has no webhookEvent: is this a Jira webhook?")
	}
	if !strings.HasPrefix(w.WebhookEvent, "jira:issue_") {
		return nil, nil
	}
	if w.Issue == nil {
		return nil, undecodable("Jira " + w.WebhookEvent + " webhook has no issue object")
	}
	is := w.Issue
	what := "Jira issue " + is.Key
	if strings.TrimSpace(is.Key) == "" {
		return []Item{{Err: graph.Invalidf("Jira %s webhook: issue.key is empty", w.WebhookEvent)}}, nil
	}
	service := ""
	if len(is.Fields.Components) > 0 {
		service = strings.TrimSpace(is.Fields.Components[0].Name)
	}
	if service == "" {
		service = labelService(is.Fields.Labels)
	}
	if service == "" {
		service = is.Fields.Project.Key
	}
	if service == "" {
		return []Item{{Err: graph.Invalidf("%s: no service: give the issue a component, a \"service:<name>\" label, or send fields.project", what)}}, nil
	}
	if w.Timestamp == nil {
		return []Item{{Err: graph.Invalidf("%s: timestamp (epoch milliseconds) is missing", what)}}, nil
	}
	at := time.UnixMilli(int64(*w.Timestamp)).UTC()
	attrs := map[string]any{"webhookEvent": w.WebhookEvent, graph.UpdatedAttr: at.Format(time.RFC3339Nano)}
	setIf(attrs, "status", is.Fields.Status.Name)
	setIf(attrs, "statusCategory", is.Fields.Status.StatusCategory.Key)
	setIf(attrs, "priority", is.Fields.Priority.Name)
	setIf(attrs, "issuetype", is.Fields.IssueType.Name)
	setIf(attrs, "issueEventType", w.EventType)
	setIf(attrs, "project", is.Fields.Project.Key)
	setIf(attrs, "user", w.User.DisplayName)
	if len(is.Fields.Labels) > 0 {
		attrs["labels"] = stringsAny(is.Fields.Labels)
	}
	e := graph.Event{
		Kind:       graph.KindTicket,
		Service:    service,
		At:         at,
		Source:     "jira",
		ExternalID: is.Key,
		Summary:    truncate(is.Key+" "+is.Fields.Summary, graph.MaxSummaryLen),
		URL:        jiraBrowseURL(is.Self, is.Key),
		Attributes: attrs,
	}
	return []Item{eventItem(e, now, what)}, nil
}

// jiraBrowseURL turns an issue's REST URL
// (https://x.atlassian.net/rest/api/2/issue/10002) into the page people
// open (https://x.atlassian.net/browse/KEY).
func jiraBrowseURL(self, key string) string {
	i := strings.Index(self, "/rest/api/")
	if i < 0 || key == "" {
		return ""
	}
	return self[:i] + "/browse/" + key
}

// Jira admin webhooks with a secret sign with X-Hub-Signature:
// <method>=<hex HMAC> (WebSub), in practice sha256.
var jiraSignature = Signature{
	Header:   "X-Hub-Signature",
	Secret:   "jira-secret",
	Describe: "Jira admin webhook secret",
	format:   "sha256=<hex HMAC-SHA256 of the body>",
	parse:    oneAlgDigest,
}
