package page

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConfirmFromThePage presses "This was the cause" on the demo
// breach's top suspect, as a responder would, and reads the verdict back;
// a form posted from another site is refused.
func TestConfirmFromThePage(t *testing.T) {
	d := openDemo(t)
	mux := http.NewServeMux()
	New(Options{Source: d.store, Recorder: d.store, Now: func() time.Time { return demoNow }, PublicURL: "https://sregraph.example.com/"}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	page := "/breaches/" + url.PathEscape(d.current.ID)

	_, body := fetch(t, srv, page)
	action := `action="` + page + `/confirm"`
	if !strings.Contains(body, action) || !strings.Contains(body, `name="cause" value="`+d.culprit.ID+`"`) {
		t.Fatalf("the breach page offers no button to confirm %s", d.culprit.Summary)
	}
	if strings.Contains(body, `id="confirmation"`) {
		t.Fatal("a confirmation is shown before anyone confirmed")
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+page+"/confirm", strings.NewReader(url.Values{"cause": {d.culprit.ID}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post("https://elsewhere.example"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a form from another site: %s, want 403", res.Status)
	}
	res := post(srv.URL)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page+"#confirmation" {
		t.Fatalf("confirm: %s to %q, want 303 back to the page", res.Status, res.Header.Get("Location"))
	}
	_, body = fetch(t, srv, page)
	if !strings.Contains(body, `id="confirmation" data-cause="`+d.culprit.ID+`"`) || !strings.Contains(body, d.culprit.Summary+"</strong>") {
		t.Fatalf("the verdict does not show the confirmed cause %q", d.culprit.Summary)
	}
}
