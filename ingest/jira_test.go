package ingest

import (
	"fmt"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func jiraBody(event string, ts int64, fields string) string {
	return fmt.Sprintf(`{"timestamp":%d,"webhookEvent":%q,"issue":{"id":"1","key":"PAY-1","self":"https://acme.atlassian.net/rest/api/2/issue/1","fields":%s}}`, ts, event, fields)
}

func TestJiraService(t *testing.T) {
	tests := []struct {
		fields, want string
	}{
		{`{"components":[{"name":"payments-api"},{"name":"ledger"}],"labels":["service:other"],"project":{"key":"PAY"}}`, "payments-api"},
		{`{"components":[],"labels":["team:x","service:checkout"],"project":{"key":"PAY"}}`, "checkout"},
		{`{"labels":["bug"],"project":{"key":"PAY"}}`, "PAY"},
	}
	for _, tt := range tests {
		e := mustEvent(t, mustDecode(t, DecodeJira, jiraBody("jira:issue_updated", 1795260800512, tt.fields), nil))
		if e.Service != tt.want || e.Kind != graph.KindTicket || e.ExternalID != "PAY-1" || e.URL != "https://acme.atlassian.net/browse/PAY-1" {
			t.Errorf("fields %s: got %+v, want service %q", tt.fields, e, tt.want)
		}
		if got := e.At.UnixMilli(); got != 1795260800512 {
			t.Errorf("at %d ms, want the webhook timestamp", got)
		}
	}
}

// A later update of the same issue updates the ticket's state; the ticket
// keeps the time of its first webhook, in whatever order they arrive.
func TestJiraUpdateReplaces(t *testing.T) {
	fields := `{"status":{"name":"To Do"},"priority":{"name":"High"},"issuetype":{"name":"Bug"},"project":{"key":"PAY"}}`
	created := mustEvent(t, mustDecode(t, DecodeJira, jiraBody("jira:issue_created", 1795260800512, fields), nil))
	updated := mustEvent(t, mustDecode(t, DecodeJira, jiraBody("jira:issue_updated", 1795261923004, replaceOnce(fields, "To Do", "Done")), nil))
	if created.ID != updated.ID {
		t.Fatal("an update of the same issue got a different ID")
	}
	kept, changed := graph.Merge(created, updated)
	if !changed || kept.Attributes["status"] != "Done" || kept.Attributes["webhookEvent"] != "jira:issue_updated" || !kept.At.Equal(created.At) {
		t.Errorf("merge kept at %v %+v (changed %v)", kept.At, kept.Attributes, changed)
	}
	late, _ := graph.Merge(updated, created)
	if late.Attributes["status"] != "Done" || !late.At.Equal(created.At) {
		t.Errorf("the created webhook arriving late: at %v status %v; want the created time and status Done", late.At, late.Attributes["status"])
	}
	for _, k := range []string{"status", "priority", "issuetype", "webhookEvent"} {
		if created.Attributes[k] == nil {
			t.Errorf("attribute %s missing", k)
		}
	}
}

func TestJiraIgnoredAndRejected(t *testing.T) {
	items, err := DecodeJira([]byte(`{"timestamp":1795260800512,"webhookEvent":"comment_created","comment":{},"issue":{"key":"PAY-1"}}`), nil, testNow)
	if err != nil || len(items) != 0 {
		t.Errorf("comment_created: %v, %v", items, err)
	}
	items = mustDecode(t, DecodeJira, jiraBody("jira:issue_updated", 1795260800, `{"project":{"key":"PAY"}}`), nil)
	if len(items) != 1 || items[0].Err == nil {
		t.Errorf("a timestamp in seconds was accepted: %+v", items)
	}
	if _, err := DecodeJira([]byte(`{"issue":{}}`), nil, testNow); err == nil {
		t.Error("a body without webhookEvent was accepted")
	}
}

func FuzzDecodeJira(f *testing.F) { fuzzDecoder(f, FormatJira, DecodeJira) }
