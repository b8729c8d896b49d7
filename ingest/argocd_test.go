package ingest

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/sregraph/sregraph/graph"
)

// The template the README ships renders, for a real Application, a body
// that DecodeArgoCD turns into the deploy the contract describes.
func TestArgoCDTemplate(t *testing.T) {
	raw, err := os.ReadFile(samplesDir + "/argocd/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" {
		t.Errorf("kind %q, want ConfigMap", cm.Kind)
	}
	var svc struct{ URL string }
	if err := yaml.Unmarshal([]byte(cm.Data["service.webhook.sregraph"]), &svc); err != nil || !strings.HasSuffix(svc.URL, "/v1/webhooks/argocd") {
		t.Errorf("service.webhook.sregraph url %q (err %v) does not point at /v1/webhooks/argocd", svc.URL, err)
	}
	var triggers []struct {
		Send    []string `yaml:"send"`
		When    string   `yaml:"when"`
		OncePer string   `yaml:"oncePer"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["trigger.on-deployed"]), &triggers); err != nil || len(triggers) != 1 {
		t.Fatalf("trigger.on-deployed: %v (%d conditions)", err, len(triggers))
	}
	if tr := triggers[0]; len(tr.Send) != 1 || tr.Send[0] != "app-deployed-sregraph" || !strings.Contains(tr.When, "Succeeded") || tr.OncePer == "" {
		t.Errorf("trigger.on-deployed = %+v", tr)
	}
	var tmpl struct {
		Webhook map[string]struct {
			Method string `yaml:"method"`
			Body   string `yaml:"body"`
		} `yaml:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["template.app-deployed-sregraph"]), &tmpl); err != nil {
		t.Fatal(err)
	}
	hook, ok := tmpl.Webhook["sregraph"]
	if !ok || hook.Method != "POST" {
		t.Fatalf("template.app-deployed-sregraph has no POST webhook for service sregraph: %+v", tmpl)
	}
	// Argo CD renders the body with text/template over the Application as
	// a map, plus the notification context.
	app := map[string]any{
		"metadata": map[string]any{"name": "payments", "namespace": "argocd"},
		"spec": map[string]any{
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "payments-prod"},
			"source":      map[string]any{"repoURL": "https://github.com/acme/deploy-config.git", "path": "payments"},
		},
		"status": map[string]any{
			"sync":   map[string]any{"status": "Synced", "revision": "9fceb02d0ae598e95dc970b74767f19372d61af8"},
			"health": map[string]any{"status": "Healthy", "lastTransitionTime": "2026-11-21T11:47:40Z"},
			"operationState": map[string]any{
				"phase": "Succeeded", "startedAt": "2026-11-21T11:47:01Z", "finishedAt": "2026-11-21T11:47:32Z",
				"syncResult": map[string]any{"revision": "9fceb02d0ae598e95dc970b74767f19372d61af8"},
			},
		},
	}
	vars := map[string]any{"app": app, "context": map[string]any{"argocdUrl": "https://argocd.acme.example"}}
	var body bytes.Buffer
	if err := template.Must(template.New("body").Parse(hook.Body)).Execute(&body, vars); err != nil {
		t.Fatal(err)
	}
	if name, _ := Detect(body.Bytes(), nil); name != FormatArgoCD {
		t.Errorf("rendered body detected as %q:\n%s", name, body.String())
	}
	e := mustEvent(t, mustDecode(t, DecodeArgoCD, body.String(), nil))
	want := graph.Event{Kind: graph.KindDeploy, Service: "payments", Environment: "payments-prod",
		ExternalID: "payments@9fceb02d0ae598e95dc970b74767f19372d61af8", Source: "argocd",
		URL: "https://argocd.acme.example/applications/argocd/payments"}
	if e.Kind != want.Kind || e.Service != want.Service || e.Environment != want.Environment || e.ExternalID != want.ExternalID ||
		e.Source != want.Source || e.URL != want.URL || e.At.Format("15:04:05") != "11:47:32" {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
}

// The notifier retries on errors and a trigger can fire twice for one
// revision: both land on one event.
func TestArgoCDRetryIsDuplicate(t *testing.T) {
	body := `{"app":"cart","namespace":"shop","revision":"4c1e2f0","finishedAt":"2026-11-21T11:00:00Z","phase":"Succeeded","health":"Healthy"}`
	a := mustEvent(t, mustDecode(t, DecodeArgoCD, body, nil))
	b := mustEvent(t, mustDecode(t, DecodeArgoCD, body, nil))
	if a.ID != b.ID {
		t.Error("a resend got a new ID")
	}
	next := mustEvent(t, mustDecode(t, DecodeArgoCD, replaceOnce(body, "4c1e2f0", "5d2f301"), nil))
	if next.ID == a.ID {
		t.Error("a new revision has the old revision's ID")
	}
}

func FuzzDecodeArgoCD(f *testing.F) { fuzzDecoder(f, FormatArgoCD, DecodeArgoCD) }
