package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest/ingesttest"
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

// argocdBodyTemplate returns the webhook body template the shipped
// notification ConfigMap defines, and its on-deployed trigger.
func argocdBodyTemplate(t *testing.T) (*template.Template, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(samplesDir + "/argocd/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Webhook map[string]struct {
			Body string `yaml:"body"`
		} `yaml:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["template.app-deployed-sregraph"]), &tmpl); err != nil {
		t.Fatal(err)
	}
	var triggers []map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["trigger.on-deployed"]), &triggers); err != nil || len(triggers) != 1 {
		t.Fatalf("trigger.on-deployed: %v (%d conditions)", err, len(triggers))
	}
	trigger := map[string]string{}
	for _, k := range []string{"when", "oncePer"} {
		trigger[k], _ = triggers[0][k].(string)
	}
	// Argo CD's notifications engine renders with text/template (plus
	// Sprig functions, which the shipped body does not need) over the
	// Application as an unstructured map.
	return template.Must(template.New("body").Parse(tmpl.Webhook["sregraph"].Body)), trigger
}

// Application objects shaped as Argo CD stores them, single- and
// multi-source, rendered through the shipped template and decoded: every
// field is rendered (never "<no value>"), a multi-source application's
// deploy is keyed by the revisions of all its sources, so each sync of a
// new values commit is its own deploy.
func TestArgoCDApplications(t *testing.T) {
	body, _ := argocdBodyTemplate(t)
	files, err := filepath.Glob(samplesDir + "/argocd/applications/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("applications: %v, %d files", err, len(files))
	}
	ids := map[string]string{}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var app map[string]any
			if err := yaml.Unmarshal(raw, &app); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			vars := map[string]any{"app": app, "context": map[string]any{"argocdUrl": "https://argocd.acme.example"}}
			if err := body.Execute(&out, vars); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "<no value>") {
				t.Errorf("rendered body has a field Argo CD could not fill:\n%s", out.String())
			}
			e := mustEvent(t, mustDecode(t, DecodeArgoCD, out.String(), nil))
			if prev, ok := ids[e.ID]; ok {
				t.Errorf("%s has the ID of %s: two syncs are one deploy", name, prev)
			}
			ids[e.ID] = name
			var rendered map[string]any
			if err := json.Unmarshal(out.Bytes(), &rendered); err != nil {
				t.Fatalf("rendered body is not JSON: %v\n%s", err, out.String())
			}
			ingesttest.CheckGoldenJSON(t, strings.TrimSuffix(path, ".yaml")+".golden.json",
				map[string]any{"rendered": rendered, "event": e})
		})
	}
}

// The shipped trigger is upstream's current on-deployed condition
// (upstream/on-deployed.yaml is argoproj/argo-cd's
// notifications_catalog/triggers/on-deployed.yaml): the older one skipped
// syncs whose health never changed.
func TestArgoCDTriggerIsUpstreams(t *testing.T) {
	_, ours := argocdBodyTemplate(t)
	raw, err := os.ReadFile(samplesDir + "/argocd/upstream/on-deployed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var upstream []map[string]any
	if err := yaml.Unmarshal(raw, &upstream); err != nil || len(upstream) != 1 {
		t.Fatalf("upstream trigger: %v", err)
	}
	for _, k := range []string{"when", "oncePer"} {
		if want, _ := upstream[0][k].(string); strings.TrimSpace(ours[k]) != strings.TrimSpace(want) {
			t.Errorf("trigger %s:\n ours     %s\n upstream %s", k, ours[k], want)
		}
	}
	if !strings.Contains(ours["when"], "operationState.startedAt") {
		t.Error("the trigger does not fire for syncs whose health stayed Healthy (lastTransitionTime before startedAt)")
	}
}
