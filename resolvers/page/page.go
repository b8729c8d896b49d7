package page

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sregraph/sregraph/graph"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/page.css
var pageCSS []byte

// Source is what the pages read. Both graph stores satisfy it.
type Source interface {
	graph.ContextSource
	// Event returns one event by ID, or an error wrapping graph.ErrNotFound.
	Event(ctx context.Context, id string) (graph.Event, error)
	// Services lists the known services by name; the index offers them
	// in its service field.
	Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error)
}

// Options configure the pages.
type Options struct {
	Source Source
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PublicURL is the absolute base URL users reach the server at; links
	// meant to leave the page (permalinks) start with it.
	PublicURL string
	Logger    *slog.Logger
	// RecentBreaches is how many breaches the index lists; 0 means 20.
	RecentBreaches int
	// Recorder, when set, lets a responder confirm a breach's cause from
	// its page (a "This was the cause" button on each suspect).
	Recorder graph.Applier
}

// Pages serves the HTML pages.
type Pages struct {
	src       Source
	recorder  graph.Applier
	now       func() time.Time
	publicURL string
	log       *slog.Logger
	recent    int
	tmpl      map[string]*template.Template
	cssPath   string
	cssETag   string
}

// StylesheetPath is where the stylesheet is served; the page links it
// with a content hash so browsers may cache it for good.
const StylesheetPath = "/static/page.css"

// contentSecurityPolicy allows nothing but the page's own stylesheet,
// links and forms: the pages run no script at all.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// New returns the pages. It panics if the embedded templates do not parse,
// which a test catches before any release.
func New(o Options) *Pages {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RecentBreaches <= 0 {
		o.RecentBreaches = 20
	}
	sum := sha256.Sum256(pageCSS)
	tag := hex.EncodeToString(sum[:6])
	p := &Pages{
		src: o.Source, recorder: o.Recorder, now: o.Now, publicURL: strings.TrimRight(o.PublicURL, "/"), log: o.Logger,
		recent: o.RecentBreaches, cssPath: StylesheetPath + "?v=" + tag, cssETag: `"` + tag + `"`,
		tmpl: map[string]*template.Template{},
	}
	funcs := template.FuncMap{
		"px":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"join": strings.Join,
		"add":  func(a, b int) int { return a + b },
	}
	for _, name := range []string{"context", "index", "error"} {
		p.tmpl[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/shapes.html", "templates/"+name+".html"))
	}
	return p
}

// Register adds the pages' routes to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.index)
	mux.HandleFunc("GET /breaches/{id}", p.breach)
	if p.recorder != nil {
		mux.HandleFunc("POST /breaches/{id}/confirm", p.confirm)
	}
	mux.HandleFunc("GET /context", p.context)
	mux.HandleFunc("GET "+StylesheetPath, p.stylesheet)
}

// BreachURL is the link to a breach's page, absolute when a public URL is
// configured.
func (p *Pages) BreachURL(id string) string { return breachURL(p.publicURL, id) }

func (p *Pages) stylesheet(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", p.cssETag)
	if r.URL.Query().Get("v") != "" {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == p.cssETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(pageCSS)
}

// layoutData is what every page's frame needs.
type layoutData struct {
	Title      string
	Stylesheet string
	Body       any
}

// errorView is the body of an error page.
type errorView struct {
	Status   int
	Heading  string
	Message  string
	Problems []problem
	Hint     string
}

func (p *Pages) breach(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.PathValue("id")
	win, probs := parseWindow(r.URL.Query())
	if len(probs) > 0 {
		p.badRequest(w, probs)
		return
	}
	e, err := p.src.Event(r.Context(), id)
	switch {
	case errors.Is(err, graph.ErrNotFound) || (err == nil && e.Kind != graph.KindSLOBreach):
		p.fail(w, r, errorView{
			Status: http.StatusNotFound, Heading: "No such breach",
			Message: fmt.Sprintf("There is no SLO breach with the id %q.", id),
			Hint:    "Breach ids come from alert links and the list of recent breaches.",
		}, nil)
		return
	case err != nil:
		p.unavailable(w, r, fmt.Errorf("breach %s: %w", id, err))
		return
	}
	b := graph.BreachOf(e)
	win.Service, win.At = b.Service, b.StartedAt
	l := linker{base: "/breaches/" + url.PathEscape(id), p: win}
	p.renderContext(w, r, win, &b, l, start)
}

func (p *Pages) context(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	win, probs := parseContext(r.URL.Query(), p.now())
	if len(probs) > 0 {
		p.badRequest(w, probs)
		return
	}
	if _, given := r.URL.Query()["at"]; given {
		if id, ok := p.breachStartingAt(r, win); ok {
			// An alert links the service and the instant it fired; the
			// breach page says more (the SLO, whether it resolved).
			target := "/breaches/" + url.PathEscape(id)
			if q := win.values(false).Encode(); q != "" {
				target += "?" + q
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
	}
	l := linker{base: "/context", withFocus: true, p: win}
	p.renderContext(w, r, win, nil, l, start)
}

// breachMatch is how far apart an alert's start and a stored breach's
// start may be for the alert link to mean that breach: alert templates
// print whole seconds, stores keep milliseconds.
const breachMatch = 30 * time.Second

// breachStartingAt finds the breach on win's service that started at
// win.At, if there is one.
func (p *Pages) breachStartingAt(r *http.Request, win params) (string, bool) {
	page, err := p.src.Events(r.Context(), graph.EventFilter{
		Services: []string{win.Service}, Kinds: []graph.Kind{graph.KindSLOBreach},
		From: win.At.Add(-breachMatch), To: win.At.Add(breachMatch), First: 10,
	})
	if err != nil {
		p.log.WarnContext(r.Context(), "look up a breach for a context link", "service", win.Service, "err", err)
		return "", false
	}
	best, bestGap := "", breachMatch+1
	for _, e := range page.Items {
		gap := e.At.Sub(win.At)
		if gap < 0 {
			gap = -gap
		}
		if gap < bestGap || (gap == bestGap && e.ID < best) {
			best, bestGap = e.ID, gap
		}
	}
	return best, best != ""
}

func (p *Pages) renderContext(w http.ResponseWriter, r *http.Request, win params, b *graph.Breach, l linker, start time.Time) {
	c, err := graph.BuildContext(r.Context(), p.src, win.query(b, rankedChanges))
	switch {
	case errors.Is(err, graph.ErrInvalid):
		p.badRequest(w, []problem{{Message: messageOf(err)}})
		return
	case err != nil:
		p.unavailable(w, r, fmt.Errorf("context of %s at %s: %w", win.Service, win.At.Format(time.RFC3339), err))
		return
	}
	built := time.Since(start)
	v := buildView(c, win, l, p.now(), p.publicURL)
	if b != nil {
		conf, ok, err := graph.ConfirmationFor(r.Context(), p.src, *b)
		if err != nil {
			p.unavailable(w, r, fmt.Errorf("confirmation of %s: %w", b.ID, err))
			return
		}
		if ok {
			v.Confirmation = &confirmView{Confirmation: conf, When: stampOf(conf.At, time.Time{}, "")}
		}
		if p.recorder != nil {
			action := "/breaches/" + url.PathEscape(b.ID) + "/confirm"
			for _, list := range [][]suspectView{v.Suspects, v.More} {
				for i := range list {
					list[i].ConfirmAction = action
				}
			}
		}
	}
	p.render(w, r, http.StatusOK, "context", v.Title, v, built)
}

// breachRow is one line of the index.
type breachRow struct {
	Breach breachView
	Top    *suspectView
	Href   string
	// Failed says the top suspect could not be worked out.
	Failed bool
}

type indexView struct {
	Rows []breachRow
	// Services are the known services the lookup form offers, by name;
	// ServicesFailed says they could not be read just now.
	Services       []string
	ServicesFailed bool
	More           bool
	Now            stamp
	AtExample      string
	Generated      stamp
}

func (p *Pages) index(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	now := p.now()
	page, err := p.src.Events(r.Context(), graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, First: p.recent})
	if err != nil {
		p.unavailable(w, r, fmt.Errorf("recent breaches: %w", err))
		return
	}
	v := indexView{More: page.HasNext, Now: stampOf(now, time.Time{}, ""), Generated: stampOf(now, time.Time{}, "")}
	v.Rows = make([]breachRow, len(page.Items))
	// Each row needs a breach context of its own; work them out a few
	// at a time. Every goroutine ends before the handler returns.
	var wg sync.WaitGroup
	slots := make(chan struct{}, indexWorkers)
	for i, e := range page.Items {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			v.Rows[i] = p.breachRow(r.Context(), e, now)
		})
	}
	wg.Wait()
	if err := r.Context().Err(); err != nil {
		p.unavailable(w, r, fmt.Errorf("top suspects of recent breaches: %w", err))
		return
	}
	v.Services, err = p.serviceNames(r.Context())
	if err != nil {
		if r.Context().Err() != nil {
			p.unavailable(w, r, err)
			return
		}
		// The list of breaches stands without the picker; the form still
		// takes any name typed in.
		p.log.WarnContext(r.Context(), "services for the lookup form", "err", err)
		v.ServicesFailed = true
	}
	v.AtExample = now.UTC().Truncate(time.Minute).Format(time.RFC3339)
	p.render(w, r, http.StatusOK, "index", "Recent SLO breaches", v, time.Since(start))
}

// pickerServices is how many service names the lookup form offers at
// most; past that, typing filters nothing the browser was not given.
const pickerServices = graph.MaxFirst

// serviceNames lists the known services for the lookup form's picker.
func (p *Pages) serviceNames(ctx context.Context) ([]string, error) {
	page, err := p.src.Services(ctx, graph.ServiceFilter{First: pickerServices})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	names := make([]string, len(page.Items))
	for i, s := range page.Items {
		names[i] = s.Name
	}
	return names, nil
}

// indexWorkers bounds how many breach contexts the index works out at once.
const indexWorkers = 4

// breachRow is one breach of the index with its top suspect.
func (p *Pages) breachRow(ctx context.Context, e graph.Event, now time.Time) breachRow {
	b := graph.BreachOf(e)
	row := breachRow{Breach: *breachViewOf(&b, now, ""), Href: "/breaches/" + url.PathEscape(e.ID)}
	win := params{Service: b.Service, At: b.StartedAt, Before: graph.DefaultBefore, After: graph.DefaultAfter, Depth: graph.DefaultDepth, Direction: graph.Both}
	c, err := graph.BuildContext(ctx, p.src, win.query(&b, rankedChanges))
	if err != nil {
		if ctx.Err() == nil {
			p.log.WarnContext(ctx, "top suspect of a breach", "breach", e.ID, "err", err)
		}
		row.Failed = true
		return row
	}
	l := linker{base: row.Href, p: win}
	for i := range c.Changes {
		if !c.Changes[i].Symptom {
			s := suspectOf(&c.Changes[i], c.At, l)
			row.Top = &s
			break
		}
	}
	return row
}

func (p *Pages) badRequest(w http.ResponseWriter, probs []problem) {
	p.fail(w, nil, errorView{
		Status: http.StatusBadRequest, Heading: "This link has a mistake in it",
		Message:  "The page could not be drawn because of the query parameters below.",
		Problems: probs,
		Hint:     "Fix the parameter in the address bar, or start again from the list of recent breaches.",
	}, nil)
}

func (p *Pages) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if r != nil && r.Context().Err() != nil {
		// The user went away; nothing to tell them.
		p.log.DebugContext(r.Context(), "page request cancelled", "path", r.URL.Path, "err", err)
		return
	}
	p.fail(w, r, errorView{
		Status: http.StatusServiceUnavailable, Heading: "The graph store is not answering",
		Message: "sregraph could not read from its store just now.",
		Hint:    "Reload the page in a few seconds. If this persists, the server log says why.",
	}, err)
}

func (p *Pages) fail(w http.ResponseWriter, r *http.Request, v errorView, cause error) {
	if cause != nil {
		ctx := context.Background()
		if r != nil {
			ctx = r.Context()
		}
		p.log.ErrorContext(ctx, "page failed", "status", v.Status, "err", cause)
	}
	if v.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	p.render(w, r, v.Status, "error", v.Heading, v, 0)
}

// render executes a template into a buffer first, so a failure shows a
// clean error instead of half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name, title string, body any, built time.Duration) {
	renderStart := time.Now()
	var buf bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&buf, "layout", layoutData{Title: title, Stylesheet: p.cssPath, Body: body}); err != nil {
		p.log.Error("page template failed", "page", name, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error · sregraph</title></head><body><main><h1>The page could not be drawn</h1><p>The server log says why.</p></main></body></html>\n")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if built > 0 {
		h.Set("Server-Timing", fmt.Sprintf("build;dur=%.1f, render;dur=%.1f", ms(built), ms(time.Since(renderStart))))
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r != nil && r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// confirmStore is the source and the recorder together, as recording a
// confirmation needs both.
type confirmStore struct {
	Source
	graph.Applier
}

// confirm records the cause a responder picked on a breach page and
// sends them back to it. A form from another site is refused.
func (p *Pages) confirm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			p.fail(w, r, errorView{Status: http.StatusForbidden, Heading: "Not from this server",
				Message: "A cause can only be confirmed from sregraph's own breach page."}, nil)
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.badRequest(w, []problem{{Message: "the form could not be read: " + err.Error()}})
		return
	}
	_, err := graph.RecordConfirmation(r.Context(), confirmStore{p.src, p.recorder}, id, r.PostForm.Get("cause"), r.PostForm.Get("note"), p.now())
	switch {
	case errors.Is(err, graph.ErrNotFound) || errors.Is(err, graph.ErrInvalid):
		p.badRequest(w, []problem{{Message: messageOf(err)}})
		return
	case err != nil:
		p.unavailable(w, r, fmt.Errorf("confirm the cause of %s: %w", id, err))
		return
	}
	http.Redirect(w, r, "/breaches/"+url.PathEscape(id)+"#confirmation", http.StatusSeeOther)
}
