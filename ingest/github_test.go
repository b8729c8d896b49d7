package ingest

import (
	"fmt"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func githubDeployment(state, payload string) string {
	return fmt.Sprintf(`{"action":"created","deployment_status":{"id":42,"state":%q,"environment":"prod","target_url":"https://ci.example/run/1","created_at":"2026-11-21T11:00:00Z"},
		"deployment":{"id":7,"url":"https://api.github.com/repos/acme/pay/deployments/7","sha":"9fceb02d0ae598e95dc970b74767f19372d61af8","ref":"main","environment":"prod","payload":%s},
		"repository":{"name":"pay","full_name":"acme/pay"}}`, state, payload)
}

func TestGitHubDeploymentStates(t *testing.T) {
	h := map[string]string{"X-GitHub-Event": "deployment_status"}
	for _, tt := range []struct {
		state string
		emit  bool
	}{
		{"success", true}, {"failure", true}, {"error", true},
		{"pending", false}, {"queued", false}, {"in_progress", false}, {"waiting", false}, {"inactive", false},
	} {
		t.Run(tt.state, func(t *testing.T) {
			items := mustDecode(t, DecodeGitHub, githubDeployment(tt.state, `{}`), h)
			if !tt.emit {
				if len(items) != 0 {
					t.Fatalf("state %s gave %+v, want nothing", tt.state, items)
				}
				return
			}
			e := mustEvent(t, items)
			if e.Kind != graph.KindDeploy || e.Attributes["state"] != tt.state || e.ExternalID != "42" || e.Environment != "prod" || e.URL != "https://ci.example/run/1" {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestGitHubDeploymentService(t *testing.T) {
	h := map[string]string{"x-github-event": "deployment_status"}
	for payload, want := range map[string]string{
		`{"service":"payments"}`:          "payments",
		`"{\"service\": \"ledger\"}"`:     "ledger",
		`{}`:                              "pay",
		`null`:                            "pay",
		`"not json"`:                      "pay",
		`{"service":7}`:                   "pay",
		`{"service":" billing ","x":[1]}`: "billing",
	} {
		e := mustEvent(t, mustDecode(t, DecodeGitHub, githubDeployment("success", payload), h))
		if e.Service != want {
			t.Errorf("payload %s: service %q, want %q", payload, e.Service, want)
		}
	}
}

func TestGitHubIssues(t *testing.T) {
	body := `{"action":"opened","issue":{"number":12,"title":"Slow","state":"open","html_url":"https://github.com/acme/shop/issues/12",
		"updated_at":"2026-11-21T11:00:00Z","labels":[{"name":"bug"},{"name":"service: checkout"}]},"repository":{"name":"shop","full_name":"acme/shop"}}`
	e := mustEvent(t, mustDecode(t, DecodeGitHub, body, map[string]string{"X-GitHub-Event": "issues"}))
	if e.Kind != graph.KindTicket || e.Service != "checkout" || e.ExternalID != "acme/shop#12" || e.URL != "https://github.com/acme/shop/issues/12" {
		t.Errorf("got %+v", e)
	}
	// A later update of the same issue (closing it) updates its state
	// and end; the ticket keeps the time it was opened.
	opened := replaceOnce(body, `"updated_at"`, `"created_at":"2026-11-21T10:40:00Z","updated_at"`)
	first := mustEvent(t, mustDecode(t, DecodeGitHub, opened, map[string]string{"X-GitHub-Event": "issues"}))
	closed := replaceOnce(replaceOnce(replaceOnce(opened, "11:00:00Z", "11:30:00Z"), `"state":"open"`, `"state":"closed","closed_at":"2026-11-21T11:30:00Z"`), `"opened"`, `"closed"`)
	later := mustEvent(t, mustDecode(t, DecodeGitHub, closed, map[string]string{"X-GitHub-Event": "issues"}))
	if later.ID != first.ID {
		t.Fatal("an update of the same issue has a different ID")
	}
	for _, order := range [][2]graph.Event{{first, later}, {later, first}} {
		kept, _ := graph.Merge(order[0], order[1])
		if !kept.At.Equal(first.At) || kept.At.Format("15:04") != "10:40" || kept.End == nil || kept.End.Format("15:04") != "11:30" || kept.Attributes["state"] != "closed" {
			t.Errorf("stored ticket: at %v end %v state %v; want opened 10:40, closed 11:30", kept.At, kept.End, kept.Attributes["state"])
		}
	}
}

func TestGitHubOtherEvents(t *testing.T) {
	for _, ev := range []string{"ping", "deployment"} {
		items, err := DecodeGitHub([]byte(`{"zen":"Keep it logically awesome."}`), NewHeaders(map[string]string{"X-GitHub-Event": ev}), testNow)
		if err != nil || len(items) != 0 {
			t.Errorf("%s: got %v, %v; want nothing", ev, items, err)
		}
	}
	if _, err := DecodeGitHub([]byte(`{}`), NewHeaders(map[string]string{"X-GitHub-Event": "push"}), testNow); err == nil {
		t.Error("a push event was accepted")
	}
	if _, err := DecodeGitHub([]byte(`{"ref":"main"}`), nil, testNow); err == nil {
		t.Error("a body with no header and no known shape was accepted")
	}
}

func FuzzDecodeGitHub(f *testing.F) { fuzzDecoder(f, FormatGitHub, DecodeGitHub) }
