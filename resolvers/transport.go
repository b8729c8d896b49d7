package resolvers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The media types of GraphQL over HTTP answers.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport carries queries and mutations over HTTP as the GraphQL over
// HTTP specification asks (graphql-http's audit passes it with no
// warning), where gqlgen's POST and GET transports differ:
//
//   - A request that cannot be executed (a parse or validation error, a
//     variable that does not coerce, a limit) answers 200 to a client
//     accepting application/json, a 4xx (or 504 for a timeout) to one
//     accepting application/graphql-response+json; either way without a
//     "data" entry, which a request error must not have.
//   - A body that is not one GraphQL request (malformed JSON, a batch, a
//     query that is not a string) or a request without a query answers
//     400, saying what was wrong without repeating the body.
//   - A mutation over GET answers 405 with Allow: POST.
//
// POST takes a JSON body (Content-Type application/json); GET takes the
// query string (query, variables, operationName, extensions).
type httpTransport struct {
	method string
	log    *slog.Logger
}

var _ graphql.Transport = httpTransport{}

// Supports reports whether r is a request of the transport's method (and
// for POST, with a JSON body); websocket upgrades are another transport's.
func (t httpTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method != t.method {
		return false
	}
	if t.method == http.MethodGet {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaJSON
}

// Do answers one request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(r)
	w.Header().Set("Content-Type", media)
	start := graphql.Now()
	params, err := t.params(r)
	if err != nil {
		t.write(w, http.StatusBadRequest, requestError(err.Error()))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		t.write(w, http.StatusBadRequest, requestError("the request has no query: send the operation's text as query"))
		return
	}
	ctx := r.Context()
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		t.write(w, answerStatus(media, resp), resp)
		return
	}
	if t.method == http.MethodGet {
		if op := oc.Doc.Operations.ForName(oc.OperationName); op != nil && op.Operation != ast.Query {
			w.Header().Set("Allow", http.MethodPost)
			t.write(w, http.StatusMethodNotAllowed, requestError(fmt.Sprintf("a %s cannot be sent with GET: use POST", op.Operation)))
			return
		}
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	t.write(w, answerStatus(media, resp), resp)
}

// answerStatus is the status of an answer: 200 whenever an operation ran
// (its errors are in the body) or the client accepts application/json;
// for application/graphql-response+json, an answer without data (the
// operation was refused before it ran) is a 4xx or 5xx, as the
// specification requires: 429 for RETRY_LATER, 504 for TIMEOUT, 400
// otherwise.
func answerStatus(media string, resp *graphql.Response) int {
	if resp.Data != nil || media != mediaGraphQLResponse {
		return http.StatusOK
	}
	for _, e := range resp.Errors {
		switch code, _ := e.Extensions["code"].(string); code {
		case "RETRY_LATER":
			return http.StatusTooManyRequests
		case "TIMEOUT":
			return http.StatusGatewayTimeout
		}
	}
	return http.StatusBadRequest
}

// params reads the request's parameters.
func (t httpTransport) params(r *http.Request) (*graphql.RawParams, error) {
	p := &graphql.RawParams{}
	if t.method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, fmt.Errorf("the query string is malformed: %w", err)
		}
		p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
		if v := q.Get("variables"); v != "" {
			if err := decodeJSON([]byte(v), &p.Variables); err != nil {
				return nil, fmt.Errorf("variables must be a JSON object: %w", err)
			}
		}
		if v := q.Get("extensions"); v != "" {
			if err := decodeJSON([]byte(v), &p.Extensions); err != nil {
				return nil, fmt.Errorf("extensions must be a JSON object: %w", err)
			}
		}
		return p, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '[' {
		return nil, errors.New("batched requests are not supported: send one JSON object {\"query\": ...} per request")
	}
	if err := decodeJSON(body, p); err != nil {
		return nil, fmt.Errorf("the body is not a GraphQL request, a JSON object with query and optionally variables, operationName and extensions: %w", err)
	}
	return p, nil
}

// decodeJSON decodes one JSON value whole into v, numbers kept as written.
// Its errors name what was wrong, never the input.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field != "" {
				return fmt.Errorf("%s must not be %s", te.Field, te.Value)
			}
			return fmt.Errorf("want an object, not %s", te.Value)
		}
		return errors.New("malformed JSON")
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// requestError is the answer to a request that was not executed.
func requestError(msg string) *graphql.Response {
	e := gqlerror.Errorf("%s", msg)
	e.Extensions = map[string]any{"code": "BAD_REQUEST"}
	return &graphql.Response{Errors: gqlerror.List{e}}
}

// write answers resp with status. A response no operation produced data
// for (a request error) has no "data" entry.
func (t httpTransport) write(w http.ResponseWriter, status int, resp *graphql.Response) {
	var b []byte
	var err error
	if resp.Data == nil {
		b, err = json.Marshal(struct {
			Errors     gqlerror.List  `json:"errors,omitempty"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions})
	} else {
		b, err = json.Marshal(resp)
	}
	if err != nil {
		t.log.Error("graphql: encoding an answer", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		// The client went away; nothing else can be told.
		t.log.Debug("graphql: writing an answer", "err", err)
	}
}

// responseMedia is the media type to answer r with: the first of
// application/json and application/graphql-response+json its Accept header
// names; application/json when it names neither or accepts anything.
func responseMedia(r *http.Request) string {
	accept := r.Header.Get("Accept")
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	if accept == "" {
		return mediaJSON
	}
	return mediaGraphQLResponse
}
