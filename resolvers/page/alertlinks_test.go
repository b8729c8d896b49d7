package page

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// The snippets in docs/alert-links.md must produce links that land on the
// breach page. Alertmanager executes its templates with Go's text/template
// over data shaped like amData.
type amAlert struct {
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
}

type amData struct {
	Alerts       []amAlert
	CommonLabels map[string]string
}

func alertLinksDoc(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "alert-links.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestAlertLinkSnippets(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	doc := alertLinksDoc(t)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	const public = "https://sregraph.example.com"
	land := func(t *testing.T, link string) {
		t.Helper()
		if !strings.HasPrefix(link, public+"/context?") {
			t.Fatalf("link %q does not point at the context page", link)
		}
		res, err := client.Get(srv.URL + strings.TrimPrefix(link, public))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := "/breaches/" + d.current.ID; res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("%s: %d to %q, want the breach page %s", link, res.StatusCode, res.Header.Get("Location"), want)
		}
	}

	t.Run("alertmanager", func(t *testing.T) {
		block := regexp.MustCompile("(?s)```gotemplate\n(.*?)```").FindStringSubmatch(doc)
		if block == nil {
			t.Fatal("no gotemplate block")
		}
		tmpl, err := template.New("am").Parse(block[1])
		if err != nil {
			t.Fatalf("the Alertmanager template does not parse: %v", err)
		}
		for _, labels := range []map[string]string{
			d.current.Labels,
			{"sloth_service": d.current.Service, "sloth_slo": d.current.SLO},
			{"job": d.current.Service},
		} {
			data := amData{Alerts: []amAlert{{Labels: labels, StartsAt: d.current.StartedAt.In(time.FixedZone("CET", 3600)).Add(400 * time.Millisecond)}}, CommonLabels: labels}
			var b strings.Builder
			if err := tmpl.ExecuteTemplate(&b, "sregraph.url", data); err != nil {
				t.Fatal(err)
			}
			land(t, b.String())
		}
	})

	t.Run("grafana", func(t *testing.T) {
		row := regexp.MustCompile("\\| URL \\| `([^`]+)` \\|").FindStringSubmatch(doc)
		if row == nil {
			t.Fatal("no Grafana URL row")
		}
		link := strings.NewReplacer(
			"${__field.labels.service:percentencode}", d.current.Service,
			"${__value.time}", strconv.FormatInt(d.current.StartedAt.UnixMilli(), 10),
		).Replace(row[1])
		land(t, link)
	})

	t.Run("pagerduty", func(t *testing.T) {
		href := regexp.MustCompile(`"href": "([^"]+)"`).FindStringSubmatch(doc)
		if href == nil {
			t.Fatal("no Events API link")
		}
		land(t, strings.Replace(href[1], "2026-11-21T11:50:00Z", d.current.StartedAt.Format(time.RFC3339), 1))
	})
}
