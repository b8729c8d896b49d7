package resolvers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestGraphQLOverHTTP holds the HTTP answers to the rules of the GraphQL
// over HTTP specification that graphql-http's audit checks, and to the
// input errors a client makes: status by accepted media type, no "data"
// entry on a request error, BAD_USER_INPUT with locations for a malformed
// scalar (where the value is: the first character of a string literal,
// or the variable), and no echo of the body.
func TestGraphQLOverHTTP(t *testing.T) {
	srv := httptest.NewServer(New(Options{Store: mustDemoStore(t), Now: func() time.Time { return demoNow }}))
	defer srv.Close()
	const (
		appJSON = "application/json"
		gqlJSON = "application/graphql-response+json"
	)
	type answer struct {
		Errors []struct {
			Message    string
			Locations  []struct{ Line, Column int }
			Extensions map[string]any
		}
	}
	for _, tc := range []struct {
		name, method, accept, body, query string
		status                            int
		data                              bool // a "data" entry
		code                              string
		locations                         string
		notInBody                         string
	}{
		{name: "parse error, application/json", method: "POST", accept: appJSON, body: `{"query":"{"}`,
			status: 200, code: "GRAPHQL_PARSE_FAILED"},
		{name: "parse error, graphql-response+json", method: "POST", accept: gqlJSON, body: `{"query":"{"}`,
			status: 400, code: "GRAPHQL_PARSE_FAILED"},
		{name: "validation error, application/json", method: "POST", accept: appJSON, body: `{"query":"{ nope }"}`,
			status: 200, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "validation error, graphql-response+json", method: "POST", accept: gqlJSON, body: `{"query":"{ nope }"}`,
			status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "variable that does not coerce", method: "POST", accept: appJSON,
			body:   `{"query":"query($first: Int) { services(first: $first) { totalCount } }","variables":{"first":"ten"}}`,
			status: 200, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "no query", method: "POST", accept: appJSON, body: `{"variables":{}}`, status: 400, code: "BAD_REQUEST"},
		{name: "query not a string", method: "POST", accept: gqlJSON, body: `{"query":{"secret":"s3cr3t-token"}}`,
			status: 400, code: "BAD_REQUEST", notInBody: "s3cr3t-token"},
		{name: "a batch is refused without echoing it", method: "POST", accept: appJSON,
			body:   `[{"query":"{ services { totalCount } }","variables":{"password":"hunter2"}}]`,
			status: 400, code: "BAD_REQUEST", notInBody: "hunter2"},
		{name: "malformed JSON is refused without echoing it", method: "POST", accept: appJSON,
			body: `{"query":"{ __typename }", "token": "hunter2"`, status: 400, code: "BAD_REQUEST", notInBody: "hunter2"},
		{name: "malformed Time literal", method: "POST", accept: gqlJSON,
			body:   `{"query":"{\n  changesNear(service: \"checkout\", at: \"yesterday\") { at }\n}"}`,
			status: 200, data: true, code: "BAD_USER_INPUT", locations: "[{2 41}]"},
		{name: "malformed Time variable", method: "POST", accept: appJSON,
			body:   `{"query":"query($at: Time!) { changesNear(service: \"checkout\", at: $at) { at } }","variables":{"at":"21/11/2026"}}`,
			status: 200, data: true, code: "BAD_USER_INPUT", locations: "[{1 58}]"},
		{name: "Time that is not a string", method: "POST", accept: appJSON,
			body:   `{"query":"query($from: Time) { events(from: $from) { totalCount } }","variables":{"from":1795255205}}`,
			status: 200, data: true, code: "BAD_USER_INPUT", locations: "[{1 35}]"},
		{name: "malformed Duration", method: "POST", accept: appJSON,
			body:   `{"query":"{ changesNear(service: \"checkout\", at: \"2026-11-21T11:40:00Z\", before: \"a while\") { at } }"}`,
			status: 200, data: true, code: "BAD_USER_INPUT", locations: "[{1 73}]"},
		{name: "over the depth limit, application/json", method: "POST", accept: appJSON,
			body:   `{"query":"{ events(first: 1) { nodes { service { events(first: 1) { nodes { service { events(first: 1) { nodes { service { events(first: 1) { nodes { service { events(first: 1) { nodes { service { name } } } } } } } } } } } } } } } }"}`,
			status: 200, code: "DEPTH_LIMIT_EXCEEDED"},
		{name: "over the depth limit, graphql-response+json", method: "POST", accept: gqlJSON,
			body:   `{"query":"{ events(first: 1) { nodes { service { events(first: 1) { nodes { service { events(first: 1) { nodes { service { events(first: 1) { nodes { service { events(first: 1) { nodes { service { name } } } } } } } } } } } } } } } }"}`,
			status: 400, code: "DEPTH_LIMIT_EXCEEDED"},
		{name: "a query over GET", method: "GET", accept: gqlJSON, query: `{ services { totalCount } }`, status: 200, data: true},
		{name: "a mutation over GET", method: "GET", accept: appJSON,
			query:  `mutation { confirmCause(breach: "b", cause: "e") { breach } }`,
			status: 405, code: "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req *http.Request
			var err error
			if tc.method == "GET" {
				req, err = http.NewRequest("GET", srv.URL+"?query="+url.QueryEscape(tc.query), nil)
			} else {
				req, err = http.NewRequest("POST", srv.URL, strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
			}
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", tc.accept)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != tc.accept {
				t.Errorf("Content-Type %q, want %q", ct, tc.accept)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if _, ok := raw["data"]; ok != tc.data {
				t.Errorf("data entry present = %v, want %v: %s", ok, tc.data, body)
			}
			if tc.notInBody != "" && strings.Contains(string(body), tc.notInBody) {
				t.Errorf("the answer repeats the request: %s", body)
			}
			if tc.code == "" {
				if _, ok := raw["errors"]; ok {
					t.Errorf("errors: %s", body)
				}
				return
			}
			var a answer
			if err := json.Unmarshal(body, &a); err != nil || len(a.Errors) == 0 {
				t.Fatalf("body %s: %v", body, err)
			}
			if got := a.Errors[0].Extensions["code"]; got != tc.code {
				t.Errorf("code %v, want %s: %s", got, tc.code, body)
			}
			if tc.locations != "" {
				if got := fmtLocations(a.Errors[0].Locations); got != tc.locations {
					t.Errorf("locations %s, want %s: %s", got, tc.locations, body)
				}
			}
		})
	}
}

func fmtLocations(ls []struct{ Line, Column int }) string { return fmt.Sprint(ls) }
