package webhook

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sregraph/sregraph/graph"
)

// exporterConfig is the part of kubernetes-event-exporter's configuration
// that decides what reaches sregraph: routes matching reasons (regular
// expressions) to receivers, and the webhook receivers' endpoint and
// headers.
type exporterConfig struct {
	Route struct {
		Routes []struct {
			Match []struct {
				Receiver string `yaml:"receiver"`
				Reason   string `yaml:"reason"`
			} `yaml:"match"`
		} `yaml:"routes"`
	} `yaml:"route"`
	Receivers []struct {
		Name    string `yaml:"name"`
		Webhook *struct {
			Endpoint string            `yaml:"endpoint"`
			Headers  map[string]string `yaml:"headers"`
		} `yaml:"webhook"`
	} `yaml:"receivers"`
}

// TestEventExporterConfig holds the README's kubernetes-event-exporter
// configuration to what the Kubernetes webhook does: the README shows the
// tested file, its route lets through exactly the reasons the decoder
// turns into events, and a delivery made the way it configures (endpoint,
// header, the exporter's JSON body) is stored.
func TestEventExporterConfig(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "ingest", "kubernetes-event-exporter", "config.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(raw)+"```") {
		t.Errorf("README.md does not show %s as it is", path)
	}
	var cfg exporterConfig
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Route.Routes) != 1 || len(cfg.Route.Routes[0].Match) != 1 || len(cfg.Receivers) != 1 || cfg.Receivers[0].Webhook == nil {
		t.Fatalf("config = %+v; want one route to one webhook receiver", cfg)
	}
	match, recv := cfg.Route.Routes[0].Match[0], cfg.Receivers[0]
	if match.Receiver != recv.Name {
		t.Errorf("the route sends to %q, the receiver is %q", match.Receiver, recv.Name)
	}
	reason := regexp.MustCompile(match.Reason)
	for _, r := range []string{"SuccessfulRescale", "ScalingReplicaSet", "KEDAScaleTargetActivated", "KEDAScaleTargetDeactivated", "DeploymentRollback"} {
		if !reason.MatchString(r) {
			t.Errorf("the route drops %s, which sregraph reads", r)
		}
	}
	for _, r := range []string{"Pulled", "BackOff", "FailedRescale", "SuccessfulCreate", "ScalingReplicaSetFailed"} {
		if reason.MatchString(r) {
			t.Errorf("the route sends %s, which sregraph ignores", r)
		}
	}
	endpoint := recv.Webhook.Endpoint
	if !strings.HasSuffix(endpoint, "/v1/webhooks/kubernetes") {
		t.Fatalf("endpoint %q is not the Kubernetes webhook", endpoint)
	}

	const token = "k8s-events-token"
	rig := mustStartHTTP(t, Config{WebhookToken: token}, nil)
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ingest", "kubernetes", "event-exporter-deployment.json"))
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	for k, v := range recv.Webhook.Headers {
		hdr[k] = strings.ReplaceAll(v, "${SREGRAPH_WEBHOOK_TOKEN}", token)
	}
	got := rig.request(t, http.MethodPost, "/v1/webhooks/kubernetes", body, hdr)
	if got.Status != http.StatusOK || got.Body.Accepted != 1 {
		t.Fatalf("delivery as configured: %d %s", got.Status, got.Raw)
	}
	hdr["Authorization"] = "Bearer wrong"
	if got := rig.request(t, http.MethodPost, "/v1/webhooks/kubernetes", body, hdr); got.Status != http.StatusUnauthorized {
		t.Errorf("delivery with another token: %d, want 401", got.Status)
	}
	page, err := rig.store.Events(t.Context(), graph.EventFilter{Services: []string{"checkout"}, First: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Kind != graph.KindScale {
		t.Errorf("stored = %+v; want checkout's scale-up", page.Items)
	}
}
