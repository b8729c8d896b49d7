package ingest

import (
	"testing"
)

func TestEntityName(t *testing.T) {
	for ref, want := range map[string]string{
		"component:payments":          "payments",
		"component:default/payments":  "payments",
		"resource:shop/checkout-db":   "checkout-db",
		"Component:inventory":         "inventory",
		"ledger":                      "ledger",
		"default/ledger":              "ledger",
		" component:default/search  ": "search",
		"component:":                  "",
	} {
		if got := entityName(ref); got != want {
			t.Errorf("entityName(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestBackstageDependencies(t *testing.T) {
	body := `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
spec:
  dependsOn: [component:payments, resource:default/checkout-db]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-shop
---
`
	items := mustDecode(t, DecodeBackstage, body, nil)
	checkItems(t, items, nil)
	if len(items) != 2 {
		t.Fatalf("got %d items, want 2: %+v", len(items), items)
	}
	for i, to := range []string{"payments", "checkout-db"} {
		d := items[i].Dependency
		if d == nil || d.From != "checkout" || d.To != to || d.Source != "backstage" {
			t.Errorf("item %d = %+v, want checkout -> %s", i, items[i], to)
		}
	}
	// JSON is YAML: a catalog entity posted as JSON works too.
	items = mustDecode(t, DecodeBackstage, `{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":"a"},"spec":{"dependsOn":["component:b"]}}`, nil)
	if len(items) != 1 || items[0].Dependency == nil || items[0].Dependency.To != "b" {
		t.Errorf("JSON entity: %+v", items)
	}
	for name, bad := range map[string]string{
		"not YAML":       "a: [",
		"not Backstage":  "apiVersion: v1\nkind: ConfigMap\n",
		"empty":          "\n",
		"only separator": "---\n---\n",
	} {
		if _, err := DecodeBackstage([]byte(bad), nil, testNow); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeBackstage(f *testing.F) { fuzzDecoder(f, FormatBackstage, DecodeBackstage) }
