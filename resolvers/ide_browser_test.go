package resolvers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestIDEInABrowser opens GET /graphql in a headless Chromium with no
// network but this server's: GraphiQL must start from the files the
// binary carries, under its Content-Security-Policy, with nothing
// refused, and run a query.
func TestIDEInABrowser(t *testing.T) {
	bin := os.Getenv("SREGRAPH_CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SREGRAPH_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SREGRAPH_REQUIRE_BROWSER=1 but there is no chromium at %s: run scripts/browser/install.sh", bin)
		}
		t.Skipf("no chromium at %s (run scripts/browser/install.sh; SREGRAPH_REQUIRE_BROWSER=1 turns this skip into a failure)", bin)
	}
	mux := http.NewServeMux()
	h := New(Options{Store: mustDemoStore(t), Now: func() time.Time { return demoNow }, PublicURL: "http://127.0.0.1"})
	mux.Handle("/graphql", h)
	mux.Handle("GET "+IDEAssetsPath, h)
	// The browser asks for a favicon on its own; that is the pages' business.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	var mu sync.Mutex
	var requested []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requested = append(requested, r.Method+" "+r.URL.Path)
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		// Nothing but this server is reachable: a file from a CDN would
		// fail to load.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"))
	defer acancel()
	tab, tcancel := chromedp.NewContext(actx)
	defer tcancel()
	var pmu sync.Mutex
	var problems []string
	listenErr := chromedp.Listen(tab, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				p = fmt.Sprintf("console %s: %s", e.Entry.Source, e.Entry.Text)
			}
		case *runtime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
		}
		if p != "" {
			pmu.Lock()
			problems = append(problems, p)
			pmu.Unlock()
		}
	})
	if listenErr != nil {
		t.Fatalf("start chromium: %v", listenErr)
	}
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the log domain: %v", err)
	}
	err := chromedp.Do(tab,
		chromedp.Navigate(srv.URL+"/graphql"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-container")),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-query-editor .CodeMirror")),
	)
	if err != nil {
		t.Fatalf("GraphiQL did not start: %v (problems: %v)", err, problems)
	}
	editors, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('.CodeMirror').length`))
	if err != nil {
		t.Fatal(err)
	}
	// GraphiQL asks the server for the schema as it starts.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(requested, "\n")
		mu.Unlock()
		if strings.Contains(got, "POST /graphql") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GraphiQL never queried the server; requests:\n%s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	pmu.Lock()
	defer pmu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the browser reported:\n%s\nrequests:\n%s", strings.Join(problems, "\n"), strings.Join(requested, "\n"))
	}
	if editors < 2 {
		t.Errorf("%d editors drawn, want the query editor and more", editors)
	}
	for _, want := range []string{"GET " + IDEAssetsPath + graphiqlJS, "GET " + IDEAssetsPath + reactJS, "GET " + IDEAssetsPath + reactDOMJS, "GET " + IDEAssetsPath + graphiqlCSS} {
		if !strings.Contains(strings.Join(requested, "\n"), want) {
			t.Errorf("the browser did not load %s", want)
		}
	}
}
