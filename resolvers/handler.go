package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/sregraph/sregraph/graph"
)

// Options configure the GraphQL server.
type Options struct {
	// Store answers every query.
	Store store
	// Feed carries live events to subscriptions; nil means no live events.
	Feed *Feed
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PublicURL is the absolute base URL of this server, for Breach.url.
	PublicURL string
	Logger    *slog.Logger
	// NoIntrospection turns schema introspection (and with it most IDE
	// features) off.
	NoIntrospection bool
	// MaxComplexity and MaxDepth bound what one operation may ask for.
	MaxComplexity int
	MaxDepth      int
	// MaxBodyBytes bounds a request body; a larger one is refused with
	// 413 before it is parsed.
	MaxBodyBytes int64
	// MaxSubscriptionsPerConnection and MaxSubscriptions cap the live
	// subscriptions of one websocket connection and of the server.
	MaxSubscriptionsPerConnection int
	MaxSubscriptions              int
	// Timeout bounds a query or mutation: its resolvers get a context
	// with this deadline, and one still running at it answers an error
	// with code TIMEOUT. 0 means DefaultTimeout; negative means none.
	// Subscriptions are exempt.
	Timeout time.Duration
	// MaxConcurrentExpensive caps the operations reading a neighbourhood
	// (changesNear, Breach.context) that one client (a token, or without
	// tokens an address) runs at once; one more is refused at once with
	// code RETRY_LATER. 0 means DefaultMaxConcurrentExpensive; negative
	// means no cap.
	MaxConcurrentExpensive int
}

// Defaults for the operation limits.
const (
	DefaultMaxComplexity = 20000
	DefaultMaxDepth      = 15
	// DefaultMaxBodyBytes is far above any query the pages, the CLI or an
	// IDE send (a few KiB), and far below what would cost real memory.
	DefaultMaxBodyBytes = 1 << 20
)

// New returns the GraphQL HTTP handler: POST and GET queries, websocket
// subscriptions, and the GraphiQL IDE for browsers asking for HTML.
func New(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Feed == nil {
		o.Feed = NewFeed()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxComplexity == 0 {
		o.MaxComplexity = DefaultMaxComplexity
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxSubscriptionsPerConnection == 0 {
		o.MaxSubscriptionsPerConnection = DefaultMaxSubscriptionsPerConnection
	}
	if o.MaxSubscriptions == 0 {
		o.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConcurrentExpensive == 0 {
		o.MaxConcurrentExpensive = DefaultMaxConcurrentExpensive
	}
	slots := &expensiveSlots{max: o.MaxConcurrentExpensive, running: map[string]int{}}
	subs := &subscriptionLimits{perConnection: int64(o.MaxSubscriptionsPerConnection), max: int64(o.MaxSubscriptions)}
	r := &Resolver{store: guardedStore{o.Store}, feed: o.Feed, now: o.Now, publicURL: o.PublicURL, subs: subs}
	cfg := Config{Resolvers: r}
	setComplexity(&cfg.Complexity)
	es := NewExecutableSchema(cfg)
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           10 * time.Second,
		// Each connection counts its own subscriptions.
		InitFunc: func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			return withConnection(ctx), nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(httpTransport{method: http.MethodGet, log: o.Logger})
	srv.AddTransport(httpTransport{method: http.MethodPost, log: o.Logger})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(extension.FixedComplexityLimit(o.MaxComplexity))
	if !o.NoIntrospection {
		srv.Use(extension.Introspection{})
	} else {
		// "Did you mean …" would tell a prober the schema that
		// introspection hides.
		srv.SetDisableSuggestion(true)
	}
	srv.SetParserTokenLimit(20000)
	maxDepth := o.MaxDepth
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if d := selectionDepth(oc.Operation.SelectionSet, 0); d > maxDepth {
			err := gqlerror.Errorf("operation is %d levels deep; the limit is %d", d, maxDepth)
			err.Extensions = map[string]any{"code": "DEPTH_LIMIT_EXCEEDED"}
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
		}
		if oc.Operation.Operation == ast.Subscription {
			return next(withServiceCache(ctx))
		}
		release := func() {}
		if o.MaxConcurrentExpensive > 0 && expensive(oc.Operation.SelectionSet) {
			key := requestClient(ctx)
			if !slots.acquire(key) {
				err := gqlerror.Errorf("this client already runs as many operations reading a neighbourhood (changesNear, Breach.context) as it may at once (%d); retry when one has finished", o.MaxConcurrentExpensive)
				err.Extensions = map[string]any{"code": "RETRY_LATER"}
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
			}
			release = func() { slots.release(key) }
		}
		cancel := context.CancelFunc(func() {})
		if o.Timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		}
		var once sync.Once
		done := func() { once.Do(func() { cancel(); release() }) }
		rh := next(withServiceCache(ctx))
		// A query or mutation answers once (over a websocket, a second
		// call ends the stream): the slot and the deadline end with the
		// first answer.
		first := true
		return func(ctx context.Context) *graphql.Response {
			defer done()
			resp := rh(ctx)
			if resp == nil && first && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The deadline passed before the work began: gqlgen
				// would answer null.
				err := gqlerror.Errorf("%s", timeoutMessage(o.Timeout))
				err.Extensions = map[string]any{"code": "TIMEOUT"}
				resp = &graphql.Response{Errors: gqlerror.List{err}}
			}
			first = false
			return resp
		}
	})
	srv.SetErrorPresenter(errorPresenter(o.Logger, o.NoIntrospection, o.Timeout, es.Schema()))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		o.Logger.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(p))
		return internalError{fmt.Errorf("panic: %v", p)}
	})
	ide, ideErr := newIDE("sregraph", "/graphql")
	if ideErr != nil {
		o.Logger.Error("the GraphQL IDE cannot be served", "err", ideErr)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		isIDE := req.Method == http.MethodGet && req.URL.Query().Get("query") == "" &&
			req.Header.Get("Upgrade") == "" && strings.Contains(req.Header.Get("Accept"), "text/html")
		isAsset := strings.HasPrefix(req.URL.Path, IDEAssetsPath)
		switch {
		case (isIDE || isAsset) && ideErr != nil:
			http.Error(w, "the GraphQL IDE is missing its files; the API works", http.StatusInternalServerError)
			return
		case isAsset:
			ide.serveAsset(w, req)
			return
		case isIDE:
			ide.ServeHTTP(w, req)
			return
		}
		if !limitBody(w, req, o.MaxBodyBytes, o.Logger) {
			return
		}
		req = req.WithContext(withRequestClient(req.Context(), clientOf(req)))
		srv.ServeHTTP(w, req)
	})
}

// limitBody reads req's body whole, up to max bytes, and puts it back for
// the transport to parse. A larger body is answered with 413 and a
// GraphQL-shaped JSON error, and limitBody reports false.
func limitBody(w http.ResponseWriter, req *http.Request, max int64, log *slog.Logger) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	tooLarge := func() bool {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
			fmt.Sprintf("request body is larger than the %d-byte limit: send a smaller query, and pass large values as variables of several requests", max), log)
		return false
	}
	if req.ContentLength > max {
		return tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, max))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded):
		writeJSONError(w, http.StatusRequestTimeout, "REQUEST_TIMEOUT", "the request body did not arrive within the server's read timeout (--http-read-timeout): send it faster", log)
		return false
	case err != nil:
		writeJSONError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("reading the request body: %v", err), log)
		return false
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// writeJSONError answers with a GraphQL response holding one error.
func writeJSONError(w http.ResponseWriter, status int, code, msg string, log *slog.Logger) {
	e := gqlerror.Errorf("%s", msg)
	e.Extensions = map[string]any{"code": code}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A request error: no "data" entry.
	if err := json.NewEncoder(w).Encode(struct {
		Errors gqlerror.List `json:"errors"`
	}{gqlerror.List{e}}); err != nil {
		log.Warn("graphql: writing an error answer", "status", status, "err", err)
	}
}

// selectionDepth measures how deeply an operation nests fields, following
// fragments.
func selectionDepth(set ast.SelectionSet, depth int) int {
	deepest := depth
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = selectionDepth(s.SelectionSet, depth+1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = selectionDepth(s.Definition.SelectionSet, depth)
			}
		}
		if d > deepest {
			deepest = d
		}
	}
	return deepest
}

// setComplexity weighs list fields by how many items they may return, so
// the complexity limit bounds real work.
func setComplexity(c *ComplexityRoot) {
	page := func(child int, first *int, def int) int {
		n := def
		if first != nil && *first > 0 {
			n = *first
		}
		return 1 + n*child
	}
	c.Query.Services = func(child int, _ *string, first *int, _ *string) int { return page(child, first, 50) }
	c.Query.Events = func(child int, _ []string, _ []graph.Kind, _ *time.Time, _ *time.Time, first *int, _ *string) int {
		return page(child, first, 100)
	}
	c.Query.Breaches = func(child int, _ *string, _ *time.Time, _ *time.Time, _ *bool, first *int, _ *string) int {
		return page(child, first, 50)
	}
	c.Query.ChangesNear = func(child int, _ string, _ time.Time, _ *time.Duration, _ *time.Duration, depth *int, _ *graph.Direction, _ []graph.Kind, first *int) int {
		return contextCost(child, depth, first)
	}
	c.Breach.Context = func(child int, _ *time.Duration, _ *time.Duration, depth *int, _ *graph.Direction, _ []graph.Kind, first *int) int {
		return contextCost(child, depth, first)
	}
	c.Service.Events = func(child int, _ []graph.Kind, _ *time.Time, _ *time.Time, first *int, _ *string) int {
		return page(child, first, 100)
	}
	c.Service.Dependencies = func(child int, _ *time.Time, depth *int) int { return nearbyCost(child, depth) }
	c.Service.Dependents = func(child int, _ *time.Time, depth *int) int { return nearbyCost(child, depth) }
}

// contextHopCost is the price of a one-hop neighbourhood query
// (changesNear, Breach.context). Each one reads the neighbourhood, its
// calls and its changes, and ranks them: work that grows with the
// neighbourhood, which on a wide graph at least doubles with each hop
// (on a small one it stops growing once every service is in it). So depth
// d costs contextHopCost·2^(d-1): under the default limit an operation
// may ask for about 20 contexts at the default depth of 2 and one at the
// deepest (6), and the CLI's query at depth 6 with the largest first
// still fits. Each alias is priced on its own.
const contextHopCost = 500

// contextCost prices a neighbourhood query by depth and first: the work
// grows with the hops and the answer with first. Values beyond the
// allowed ranges are priced as the cheapest: the resolver refuses them
// before any work, with a message saying the range, which the user should
// see rather than a complexity error.
func contextCost(child int, depth, first *int) int {
	d, n := graph.DefaultDepth, 50
	if depth != nil {
		d = *depth
	}
	if d < 1 || d > graph.MaxDepth {
		d = 1
	}
	if first != nil {
		n = *first
	}
	if n < 1 || n > graph.MaxFirst {
		n = 1
	}
	return contextHopCost<<(d-1) + n + child
}

func nearbyCost(child int, depth *int) int {
	d := 1
	if depth != nil && *depth > 0 {
		d = *depth
	}
	return 10*d + 10*child
}

// errorPresenter shows users what they got wrong and nothing of what
// went wrong inside: store and programming errors are logged and replaced
// by a generic message with a code. With hideSuggestions, the validator's
// "Did you mean …?" hints are cut: gqlgen's SetDisableSuggestion covers
// unknown fields only, and unknown arguments, types, input fields and
// enum values would still name what introspection hides.
func errorPresenter(log *slog.Logger, hideSuggestions bool, timeout time.Duration, schema *ast.Schema) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if unknownEnumValue(gerr, schema, hideSuggestions) {
			return gerr
		}
		if code, _ := gerr.Extensions["code"].(string); code == "COMPLEXITY_LIMIT_EXCEEDED" {
			gerr.Message += ": ask for fewer aliases or fields, a smaller depth or first (changesNear and Breach.context cost more with each hop), or split the operation into several requests"
		}
		if hideSuggestions {
			if i := strings.Index(gerr.Message, " Did you mean "); i >= 0 {
				gerr.Message = gerr.Message[:i]
			}
		}
		var internal internalError
		switch {
		// A store error after the deadline is the deadline's doing, however
		// the store words it; a user's mistake stays one.
		case timeout > 0 && (errors.Is(err, context.DeadlineExceeded) ||
			errors.As(err, &internal) && errors.Is(ctx.Err(), context.DeadlineExceeded)):
			gerr.Message = timeoutMessage(timeout)
			setCode(gerr, "TIMEOUT")
		case errors.As(err, &internal) && errors.Is(err, graph.ErrUnavailable):
			log.WarnContext(ctx, "graphql store unavailable", "err", internal.err, "path", gerr.Path.String())
			gerr.Message = "the store is unavailable; retry shortly"
			setCode(gerr, "UNAVAILABLE")
		case errors.As(err, &internal):
			log.ErrorContext(ctx, "graphql internal error", "err", internal.err, "path", gerr.Path.String())
			gerr.Message = "internal error"
			setCode(gerr, "INTERNAL")
		case errors.Is(err, graph.ErrInvalid):
			if msg := graph.Message(err); msg != "" {
				gerr.Message = msg
			}
			setCode(gerr, "BAD_USER_INPUT")
			var unknown *graph.UnknownNameError
			if errors.As(err, &unknown) && len(unknown.Suggestions) > 0 {
				gerr.Extensions["suggestions"] = unknown.Suggestions
			}
		case errors.Is(err, graph.ErrNotFound):
			setCode(gerr, "NOT_FOUND")
		}
		if code, _ := gerr.Extensions["code"].(string); code == "BAD_USER_INPUT" && len(gerr.Locations) == 0 {
			gerr.Locations = inputLocations(ctx, gerr.Path)
		}
		return gerr
	}
}

// inputLocations says where in the query a user's mistake is: the value of
// the argument the error's path ends with (a malformed Time or Duration,
// an out-of-range depth), else the field that refused it.
func inputLocations(ctx context.Context, path ast.Path) []gqlerror.Location {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Position == nil {
		return nil
	}
	pos := fc.Field.Position
	if n := len(path); n > 0 {
		if name, ok := path[n-1].(ast.PathName); ok {
			if arg := fc.Field.Arguments.ForName(string(name)); arg != nil {
				switch {
				case arg.Value != nil && arg.Value.Position != nil:
					pos = arg.Value.Position
				case arg.Position != nil:
					pos = arg.Position
				}
			}
		}
	}
	return []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}
