package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func MustParseAliases(tb testing.TB, yml string) Aliases {
	tb.Helper()
	a, err := ParseAliases([]byte(yml))
	if err != nil {
		tb.Fatalf("ParseAliases: %v", err)
	}
	return a
}

func TestParseAliasesErrors(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"cycle", "a: b\nb: c\nc: a\n", "cycle"},
		{"two-step cycle through case", "a: b\nB: A\n", "cycle"},
		{"empty alias", `"": payments` + "\n", "alias is empty"},
		{"empty target", "pay: \"\"\n", "empty service name"},
		{"null target", "pay:\n", "must be a string"},
		{"list target", "pay: [a, b]\n", "must be a string"},
		{"case conflict", "PAY: payments\npay: billing\n", "differ only in case"},
		{"slash", "pay: team/payments\n", "'/'"},
		{"not a map", "- a\n- b\n", "YAML map"},
		{"not YAML", "a: [\n", "YAML map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAliases([]byte(tt.yml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAliasesResolve(t *testing.T) {
	a := MustParseAliases(t, `
payments-api: payments
PAY: payments
payments-service: payments-api
Checkout: checkout
checkout: checkout
svc-A: alpha
`)
	for in, want := range map[string]string{
		"payments-api":     "payments",
		"PAYMENTS-API":     "payments", // case-insensitive fallback
		"PAY":              "payments",
		"pay":              "payments",
		"payments-service": "payments", // chain followed
		"payments":         "payments",
		"Checkout":         "checkout",
		"CHECKOUT":         "checkout",
		"svc-a":            "alpha",
		"unknown":          "unknown",
		"":                 "",
	} {
		if got := a.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
	if a.Len() != 6 {
		t.Errorf("Len = %d", a.Len())
	}
	var zero Aliases
	if zero.Resolve("PAY") != "PAY" {
		t.Error("the zero Aliases renamed something")
	}
}

// Exact matches win over case-insensitive ones.
func TestAliasesExactFirst(t *testing.T) {
	a := MustParseAliases(t, "Api: gateway\napi-x: other\n")
	if got := a.Resolve("Api"); got != "gateway" {
		t.Errorf("Resolve(Api) = %q", got)
	}
	if got := a.Resolve("API"); got != "gateway" {
		t.Errorf("Resolve(API) = %q", got)
	}
}

// An event sent under an alias and the same event sent under the real name
// end up with the same ID, with and without a source id.
func TestAliasesApplyMakesDuplicates(t *testing.T) {
	a := MustParseAliases(t, "payments-api: payments\n")
	bodies := map[string]string{
		"no id, no summary":   `{"kind":"deploy","service":%q,"at":"2026-11-21T11:00:00Z","source":"ci"}`,
		"no id, with summary": `{"kind":"deploy","service":%q,"at":"2026-11-21T11:00:00Z","source":"ci","summary":"1.42.0 out","attributes":{"v":"1.42.0"}}`,
		"source id":           `{"id":"d-1","kind":"deploy","service":%q,"at":"2026-11-21T11:00:00Z","source":"ci"}`,
	}
	for name, tmpl := range bodies {
		t.Run(name, func(t *testing.T) {
			viaAlias := mustEvent(t, a.Apply(mustDecode(t, decodeCanonical, sprintfQ(tmpl, "payments-api"), nil)))
			direct := mustEvent(t, a.Apply(mustDecode(t, decodeCanonical, sprintfQ(tmpl, "payments"), nil)))
			if viaAlias.Service != "payments" {
				t.Errorf("service %q, want payments", viaAlias.Service)
			}
			if viaAlias.ID != direct.ID || viaAlias.Summary != direct.Summary {
				t.Errorf("aliased event %s %q != direct %s %q", viaAlias.ID, viaAlias.Summary, direct.ID, direct.Summary)
			}
		})
	}
	// And through a native decoder: an alert labelled with the alias.
	alert := func(svc string) string {
		return alertmanagerBody(`{"status":"firing","labels":{"service":"` + svc + `","slo":"avail"},"startsAt":"2026-11-21T11:00:00Z","fingerprint":"f"}`)
	}
	x := mustEvent(t, a.Apply(mustDecode(t, DecodeAlertmanager, alert("payments-api"), nil)))
	if x.Service != "payments" {
		t.Errorf("alert service %q", x.Service)
	}
}

func TestAliasesApplyLeavesInputAlone(t *testing.T) {
	a := MustParseAliases(t, "payments-api: payments\nledger-svc: ledger\nPAY: payments\n")
	items := []Item{
		mustDecode(t, decodeCanonical, `{"kind":"deploy","service":"payments-api","at":"2026-11-21T11:00:00Z","source":"ci"}`, nil)[0],
		{Dependency: &graph.Dependency{From: "payments-api", To: "ledger-svc", Source: "backstage"}},
		{Dependency: &graph.Dependency{From: "PAY", To: "payments-api", Source: "backstage"}},
		{Err: graph.Invalidf("bad")},
	}
	before := *items[0].Event
	out := a.Apply(items)
	checkItems(t, out, nil)
	if items[0].Event.Service != "payments-api" || items[0].Event.ID != before.ID {
		t.Error("Apply modified its input")
	}
	if out[0].Event.Summary != "deploy on payments" {
		t.Errorf("default summary not redone: %q", out[0].Event.Summary)
	}
	if d := out[1].Dependency; d == nil || d.From != "payments" || d.To != "ledger" {
		t.Errorf("dependency = %+v", out[1])
	}
	if out[2].Err == nil || !strings.Contains(out[2].Err.Error(), "itself") {
		t.Errorf("a dependency aliased onto itself = %+v", out[2])
	}
	if out[3].Err == nil {
		t.Error("an error item lost its error")
	}
}

func TestLoadAliases(t *testing.T) {
	a, err := LoadAliases("../testdata/aliases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a.Resolve("payments-service") != "payments" || a.Resolve("pay") != "payments" || a.Len() == 0 {
		t.Errorf("testdata/aliases.yaml: payments-service -> %q, pay -> %q", a.Resolve("payments-service"), a.Resolve("pay"))
	}
	if a, err := LoadAliases(""); err != nil || a.Len() != 0 {
		t.Errorf(`LoadAliases("") = %d aliases, %v`, a.Len(), err)
	}
	if _, err := LoadAliases(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("a: b\nb: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAliases(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: err = %v, want one naming the file", err)
	}
}

func FuzzParseAliases(f *testing.F) {
	if b, err := os.ReadFile("../testdata/aliases.yaml"); err == nil {
		f.Add(b, "payments-api")
	}
	f.Add([]byte("a: b\nb: c\n"), "A")
	f.Fuzz(func(t *testing.T, yml []byte, name string) {
		a, err := ParseAliases(yml)
		if err != nil {
			return
		}
		// Resolving is idempotent: aliases end in a real service name.
		once := a.Resolve(name)
		if twice := a.Resolve(once); twice != once {
			t.Errorf("Resolve(%q) = %q but Resolve(%q) = %q", name, once, once, twice)
		}
	})
}

// sprintfQ fills the one %q of tmpl.
func sprintfQ(tmpl, s string) string { return strings.Replace(tmpl, "%q", `"`+s+`"`, 1) }
