package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sregraph/sregraph/graph"
)

// backstageEntity holds the fields of a Backstage catalog entity that
// sregraph reads.
type backstageEntity struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec struct {
		DependsOn []string `yaml:"dependsOn"`
	} `yaml:"spec"`
}

// maxCatalogDocuments bounds how many YAML documents one body may hold.
const maxCatalogDocuments = 10000

// DecodeBackstage decodes Backstage catalog descriptor files
// (catalog-info.yaml, one or many YAML documents; JSON works too, being
// YAML). Every entry of a Component's or Resource's spec.dependsOn
// ("component:payments", "resource:default/payments-db") becomes a
// declared dependency from the entity's name to the referenced entity's
// name, without its kind and namespace. Other entity kinds (System, API,
// Group, Location, ...) yield no items.
func DecodeBackstage(body []byte, _ Headers, _ time.Time) ([]Item, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, undecodable("empty body: expected a Backstage catalog-info.yaml")
	}
	dec := yaml.NewDecoder(bytes.NewReader(body))
	var items []Item
	sawEntity := false
	for doc := 0; ; doc++ {
		if doc >= maxCatalogDocuments {
			return nil, undecodable(fmt.Sprintf("catalog file holds more than %d YAML documents", maxCatalogDocuments))
		}
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if doc == 0 || !sawEntity {
				return nil, undecodable("catalog file is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "))
			}
			// The decoder cannot resynchronise after a syntax error, so
			// the rest of the file is lost with this document.
			items = append(items, Item{Err: graph.Invalidf("YAML document %d and after: %s", doc+1, strings.TrimPrefix(err.Error(), "yaml: "))})
			break
		}
		if len(node.Content) == 0 || node.Content[0].Tag == "!!null" {
			continue // an empty document (a stray "---")
		}
		var ent backstageEntity
		if err := node.Decode(&ent); err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			var te *yaml.TypeError
			if errors.As(err, &te) {
				msg = strings.Join(te.Errors, "; ")
			}
			items = append(items, Item{Err: graph.Invalidf("YAML document %d: not a Backstage entity: %s", doc+1, msg)})
			continue
		}
		what := fmt.Sprintf("YAML document %d", doc+1)
		if !strings.HasPrefix(ent.APIVersion, "backstage.io/") {
			items = append(items, Item{Err: graph.Invalidf("%s: apiVersion %q is not a Backstage one (backstage.io/v1alpha1)", what, ent.APIVersion)})
			continue
		}
		sawEntity = true
		switch strings.ToLower(ent.Kind) {
		case "component", "resource":
		default:
			continue
		}
		from := strings.TrimSpace(ent.Metadata.Name)
		if from == "" {
			items = append(items, Item{Err: graph.Invalidf("%s: %s has no metadata.name", what, ent.Kind)})
			continue
		}
		what = fmt.Sprintf("%s (%s %s)", what, ent.Kind, from)
		for _, ref := range ent.Spec.DependsOn {
			d := graph.Dependency{From: from, To: entityName(ref), Source: "backstage"}
			if err := d.Validate(); err != nil {
				items = append(items, Item{Err: itemError(fmt.Sprintf("%s: dependsOn %q", what, ref), err)})
				continue
			}
			items = append(items, Item{Dependency: &d})
		}
	}
	if !sawEntity {
		return nil, undecodable("no Backstage entity found: a catalog file holds documents with apiVersion backstage.io/v1alpha1")
	}
	return items, nil
}

// entityName reduces a Backstage entity reference
// ("[<kind>:][<namespace>/]<name>") to its name.
func entityName(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, ':'); i >= 0 {
		ref = ref[i+1:]
	}
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		ref = ref[i+1:]
	}
	return strings.TrimSpace(ref)
}
