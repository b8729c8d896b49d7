package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
)

// findAlertmanager returns the Alertmanager binary: $SREGRAPH_ALERTMANAGER_BIN,
// else Debian's prometheus-alertmanager or alertmanager on the PATH. Without
// one the test skips, unless SREGRAPH_REQUIRE_ALERTMANAGER=1 (CI), when it
// fails.
func findAlertmanager(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("SREGRAPH_ALERTMANAGER_BIN"); bin != "" {
		return bin
	}
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin
		}
	}
	msg := "no Alertmanager binary (prometheus-alertmanager or alertmanager on the PATH, or SREGRAPH_ALERTMANAGER_BIN): run scripts/alertmanager/install.sh"
	if os.Getenv("SREGRAPH_REQUIRE_ALERTMANAGER") == "1" {
		t.Fatal(msg + " (SREGRAPH_REQUIRE_ALERTMANAGER=1 makes this a failure)")
	}
	t.Skip(msg + "; set SREGRAPH_REQUIRE_ALERTMANAGER=1 to fail instead of skipping")
	return ""
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs Alertmanager on a free loopback port with one
// webhook receiver, webhookURL, that presents token as a bearer token, and
// returns its base URL once it is ready. The process ends with the test.
func startAlertmanager(t *testing.T, bin, webhookURL, token string) string {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  resolve_timeout: 1m
route:
  receiver: sregraph
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sregraph
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            credentials: %q
`, webhookURL, token)
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip: one instance, loopback only
		"--log.level=debug",
	)
	out := &ingesttest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("Alertmanager output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("Alertmanager exited before it was ready: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alertmanager not ready on %s after 30s\n%s", addr, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// postAlert sends one alert to Alertmanager's API.
func postAlert(t *testing.T, base string, labels map[string]string, startsAt, endsAt time.Time) {
	t.Helper()
	body, err := json.Marshal([]map[string]any{{
		"labels":       labels,
		"annotations":  map[string]string{"summary": "payments availability error budget burning"},
		"startsAt":     startsAt.Format(time.RFC3339Nano),
		"endsAt":       endsAt.Format(time.RFC3339Nano),
		"generatorURL": "http://prometheus.example/graph?g0.expr=slo%3Asli_error%3Aratio_rate5m",
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("POST /api/v2/alerts: %s: %s", resp.Status, msg.String())
	}
}

// TestAlertmanagerWebhookIntegration has a real Alertmanager deliver a
// firing and then a resolved alert to /v1/webhooks/alertmanager,
// authenticated with the shared webhook token: the firing notification
// opens a breach in the store, the resolved one closes the same breach.
func TestAlertmanagerWebhookIntegration(t *testing.T) {
	bin := findAlertmanager(t)
	const token = "am-test-token-0123456789abcdef"
	cfg := DefaultConfig()
	cfg.WebhookToken = token
	rig := mustStartHTTP(t, cfg, func(o *Options) { o.Now = time.Now })
	base := startAlertmanager(t, bin, rig.srv.URL+"/v1/webhooks/alertmanager", token)

	labels := map[string]string{"alertname": "PaymentsAvailabilityBurn", "service": "payments", "slo": "availability", "severity": "page"}
	startsAt := time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Second)
	postAlert(t, base, labels, startsAt, time.Now().Add(10*time.Minute))

	breach := func() (graph.Event, bool) {
		page, err := rig.store.Events(context.Background(), graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, First: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 1 {
			t.Fatalf("%d breaches stored, want one: %+v", len(page.Items), page.Items)
		}
		if len(page.Items) == 0 {
			return graph.Event{}, false
		}
		return page.Items[0], true
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		ingesttest.Wait(t, 30*time.Second, what, ok)
	}

	var opened graph.Event
	waitFor("open breach from the firing notification", func() bool {
		e, ok := breach()
		opened = e
		return ok
	})
	b := graph.BreachOf(opened)
	if b.Service != "payments" || b.SLO != "availability" || !b.StartedAt.Equal(startsAt) || b.ResolvedAt != nil {
		t.Fatalf("firing stored as %+v; want an open availability breach on payments from %s", b, startsAt)
	}

	endsAt := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	postAlert(t, base, labels, startsAt, endsAt)
	var closed graph.Event
	waitFor("resolve of the breach", func() bool {
		e, ok := breach()
		closed = e
		return ok && e.End != nil
	})
	if closed.ID != opened.ID || !closed.End.Equal(endsAt) {
		t.Fatalf("resolve stored as %s ending %v; want %s ending %s", closed.ID, closed.End, opened.ID, endsAt)
	}
	if !graph.BreachOf(closed).Open(endsAt.Add(-time.Second)) || graph.BreachOf(closed).Open(time.Now()) {
		t.Fatal("the resolved breach is not closed after its end")
	}

	var refused dto.Metric
	if err := rig.h.m.requests.WithLabelValues("alertmanager", outcomeAuth).Write(&refused); err != nil {
		t.Fatal(err)
	}
	if n := refused.GetCounter().GetValue(); n != 0 {
		t.Errorf("%v Alertmanager deliveries were refused as unauthenticated", n)
	}
}

// TestAlertmanagerSlothEpisodeIntegration has a real Alertmanager deliver
// the page and the ticket alert of one Sloth SLO (the labels Sloth's
// generated rules give them), fire and resolve at different times, to a
// handler writing through ingest.Episodes as sregraph serve does: one
// breach, open until the last alert resolves, with the worst severity and
// both windows.
func TestAlertmanagerSlothEpisodeIntegration(t *testing.T) {
	bin := findAlertmanager(t)
	const token = "am-test-token-0123456789abcdef"
	cfg := DefaultConfig()
	cfg.WebhookToken = token
	store := mustOpenHTTPStore(t)
	rig := mustStartHTTPOn(t, cfg, store, ingest.NewEpisodes(store, store), func(o *Options) { o.Now = time.Now })
	base := startAlertmanager(t, bin, rig.srv.URL+"/v1/webhooks/alertmanager", token)

	sloth := map[string]string{"alertname": "MyServiceHighErrorRate", "category": "availability",
		"sloth_id": "myservice-requests-availability", "sloth_service": "myservice", "sloth_slo": "requests-availability"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range sloth {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	page := with(map[string]string{"routing_key": "myteam", "severity": "pageteam", "sloth_severity": "page"})
	ticket := with(map[string]string{"severity": "slack", "slack_channel": "#alerts-myteam", "sloth_severity": "ticket"})
	pageStart := time.Now().Add(-3 * time.Minute).UTC().Truncate(time.Second)
	ticketStart := pageStart.Add(time.Minute)
	postAlert(t, base, page, pageStart, time.Now().Add(10*time.Minute))

	breaches := func() []graph.Event {
		p, err := rig.store.Events(context.Background(), graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, First: 10})
		if err != nil {
			t.Fatal(err)
		}
		return p.Items
	}
	alerts := func(e graph.Event) int {
		m, _ := e.Attributes[graph.BreachAlertsAttr].(map[string]any)
		return len(m)
	}
	ingesttest.Wait(t, 30*time.Second, "the page alert's breach", func() bool { return len(breaches()) == 1 })
	postAlert(t, base, ticket, ticketStart, time.Now().Add(10*time.Minute))
	ingesttest.Wait(t, 30*time.Second, "the ticket alert joining the breach", func() bool {
		b := breaches()
		if len(b) != 1 {
			t.Fatalf("%d breaches for one SLO: %+v", len(b), b)
		}
		return alerts(b[0]) == 2
	})

	pageEnd := time.Now().Add(-2 * time.Second).UTC().Truncate(time.Millisecond)
	postAlert(t, base, page, pageStart, pageEnd)
	ingesttest.Wait(t, 30*time.Second, "the page alert's resolve", func() bool {
		b := breaches()
		if len(b) != 1 {
			t.Fatalf("%d breaches for one SLO: %+v", len(b), b)
		}
		return b[0].Attributes["status"] == "firing" && strings.Contains(fmt.Sprint(b[0].Attributes[graph.BreachAlertsAttr]), "resolved")
	})
	if b := breaches()[0]; b.End != nil {
		t.Fatalf("breach closed at %v while its ticket alert still fires", b.End)
	}
	ticketEnd := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	postAlert(t, base, ticket, ticketStart, ticketEnd)
	ingesttest.Wait(t, 30*time.Second, "the ticket alert's resolve", func() bool {
		b := breaches()
		return len(b) == 1 && b[0].End != nil
	})
	b := breaches()[0]
	if !b.At.Equal(pageStart) || !b.End.Equal(ticketEnd) || b.Service != "myservice" ||
		b.Attributes["severity"] != "page" || fmt.Sprint(b.Attributes["windows"]) != "[page ticket]" {
		t.Fatalf("breach stored as at %s end %v service %s severity %v windows %v; want %s..%s on myservice, page, [page ticket]",
			b.At, b.End, b.Service, b.Attributes["severity"], b.Attributes["windows"], pageStart, ticketEnd)
	}
}
