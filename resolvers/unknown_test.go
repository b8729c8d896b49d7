package resolvers

import (
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/client"
)

// An unknown service, kind or direction is the user's mistake, said as
// such with the names meant: never an empty answer that reads as
// "nothing changed".
func TestUnknownNamesAreBadUserInput(t *testing.T) {
	s := mustDemoStore(t)
	c := newClient(s, Options{})
	hidden := newClient(s, Options{NoIntrospection: true})
	tests := []struct {
		name    string
		c       *client.Client
		query   string
		vars    map[string]any
		msg     string
		suggest []string
	}{
		{"service in changesNear", c, `{ changesNear(service: "chekout", at: "2026-11-21T11:40:00Z") { at } }`, nil,
			"no service named `chekout`; did you mean `checkout`?", []string{"checkout"}},
		{"service as a variable", c, `query($s: String!) { changesNear(service: $s, at: "2026-11-21T11:40:00Z") { at } }`, map[string]any{"s": "Payments"},
			"no service named `Payments`; did you mean `payments`?", []string{"payments"}},
		{"service nothing like any", c, `{ changesNear(service: "zzzzzzzz", at: "2026-11-21T11:40:00Z") { at } }`, nil,
			"no service named `zzzzzzzz`", nil},
		{"kind literal", c, `{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", kinds: [DEPLOYS]) { at } }`, nil,
			"no kind named `DEPLOYS`; did you mean `DEPLOY`?", []string{"DEPLOY"}},
		{"kind variable", c, `query($k: [EventKind!]) { changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", kinds: $k) { at } }`, map[string]any{"k": []string{"ROLBACK"}},
			"no kind named `ROLBACK`; did you mean `ROLLBACK`?", []string{"ROLLBACK"}},
		{"direction literal", c, `{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", direction: DEPENDENCY) { at } }`, nil,
			"no direction named `DEPENDENCY`; did you mean `DEPENDENTS` or `DEPENDENCIES`?", []string{"DEPENDENTS", "DEPENDENCIES"}},
		{"direction in a breach's context", c, `{ breaches(first: 1) { nodes { context(direction: BOTHH) { at } } } }`, nil,
			"no direction named `BOTHH`; did you mean `BOTH`?", []string{"BOTH"}},
		{"enum hints hidden without introspection", hidden, `{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", kinds: [DEPLOYS]) { at } }`, nil,
			"no kind named `DEPLOYS`", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []client.Option
			for k, v := range tt.vars {
				opts = append(opts, client.Var(k, v))
			}
			_, errs := post(t, tt.c, tt.query, opts...)
			if len(errs) != 1 {
				t.Fatalf("errors = %+v, want one", errs)
			}
			e := errs[0]
			if e.Message != tt.msg {
				t.Errorf("message %q, want %q", e.Message, tt.msg)
			}
			if e.Extensions["code"] != "BAD_USER_INPUT" {
				t.Errorf("code = %v, want BAD_USER_INPUT", e.Extensions["code"])
			}
			var got []string
			if raw, ok := e.Extensions["suggestions"].([]any); ok {
				for _, r := range raw {
					got = append(got, r.(string))
				}
			}
			if !reflect.DeepEqual(got, tt.suggest) {
				t.Errorf("suggestions = %v, want %v", got, tt.suggest)
			}
		})
	}
	// service(name:) stays nullable: an unknown name is null, no error.
	data, errs := post(t, c, `{ service(name: "chekout") { name } }`)
	if len(errs) > 0 || string(data) != `{"service":null}` {
		t.Errorf("service(name:) of an unknown name: %s %v", data, errs)
	}
}
