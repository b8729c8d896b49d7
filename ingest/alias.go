package ingest

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sregraph/sregraph/graph"
)

// Aliases renames services before they are stored: the names teams use in
// alerts, tickets and pipelines ("payments-api", "PAY") become the one
// name traces use ("payments"). The zero value renames nothing.
type Aliases struct {
	// exact maps an alias to its final service name; folded maps the
	// lower-cased alias to the same, for case-insensitive matches.
	exact  map[string]string
	folded map[string]string
}

// LoadAliases reads an alias file: a YAML map of alias to service name.
// An empty path means no aliases.
func LoadAliases(path string) (Aliases, error) {
	if path == "" {
		return Aliases{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Aliases{}, fmt.Errorf("read alias file: %w", err)
	}
	a, err := ParseAliases(b)
	if err != nil {
		return Aliases{}, fmt.Errorf("alias file %s: %w", path, err)
	}
	return a, nil
}

// ParseAliases parses a YAML map of alias to service name, e.g.
//
//	payments-api: payments
//	PAY: payments
//
// An alias may point at another alias (the chain is followed to its end),
// but not back at itself through a cycle. Names may not be empty, and two
// aliases that differ only in case may not point at different services.
func ParseAliases(b []byte) (Aliases, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return Aliases{}, graph.Invalidf("aliases must be a YAML map of alias to service name: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	direct := make(map[string]string, len(raw))
	for alias, v := range raw {
		target, ok := v.(string)
		if !ok {
			return Aliases{}, graph.Invalidf("alias %q: the service name must be a string, not %v", alias, v)
		}
		alias, target = strings.TrimSpace(alias), strings.TrimSpace(target)
		switch {
		case alias == "":
			return Aliases{}, graph.Invalidf("an alias is empty (it maps to %q)", target)
		case target == "":
			return Aliases{}, graph.Invalidf("alias %q maps to an empty service name", alias)
		}
		for _, name := range []string{alias, target} {
			if err := checkServiceName(name); err != nil {
				return Aliases{}, err
			}
		}
		if _, dup := direct[alias]; dup {
			return Aliases{}, graph.Invalidf("alias %q is listed twice", alias)
		}
		direct[alias] = target
	}
	folded := make(map[string]string, len(direct))
	foldedFrom := make(map[string]string, len(direct))
	aliases := make([]string, 0, len(direct))
	for alias := range direct {
		aliases = append(aliases, alias)
	}
	sort.Strings(aliases)
	for _, alias := range aliases {
		k := strings.ToLower(alias)
		if prev, ok := foldedFrom[k]; ok && direct[prev] != direct[alias] {
			return Aliases{}, graph.Invalidf("aliases %q and %q differ only in case but map to different services (%q, %q)",
				prev, alias, direct[prev], direct[alias])
		}
		foldedFrom[k] = alias
		folded[k] = direct[alias]
	}
	lookup := func(name string) (string, bool) {
		if t, ok := direct[name]; ok {
			return t, true
		}
		t, ok := folded[strings.ToLower(name)]
		return t, ok
	}
	a := Aliases{exact: make(map[string]string, len(direct)), folded: make(map[string]string, len(direct))}
	for _, alias := range aliases {
		final, err := followAlias(alias, lookup)
		if err != nil {
			return Aliases{}, err
		}
		a.exact[alias] = final
		a.folded[strings.ToLower(alias)] = final
	}
	return a, nil
}

// followAlias follows alias → target → ... until a name that is not an
// alias (or maps to itself), and reports a cycle.
func followAlias(alias string, lookup func(string) (string, bool)) (string, error) {
	path := []string{alias}
	seen := map[string]bool{alias: true}
	name := alias
	for {
		next, ok := lookup(name)
		if !ok || next == name {
			return name, nil
		}
		if seen[next] {
			return "", graph.Invalidf("aliases form a cycle: %s", strings.Join(append(path, next), " -> "))
		}
		seen[next] = true
		path = append(path, next)
		name = next
	}
}

// checkServiceName applies the rules graph.Event.Validate applies to
// service names, so a bad alias file fails at start-up rather than on
// every event.
func checkServiceName(name string) error {
	switch {
	case len(name) > graph.MaxNameLen:
		return graph.Invalidf("alias name %q is longer than %d characters", name[:32]+"...", graph.MaxNameLen)
	case strings.ContainsAny(name, "\x00\n\r\t/"):
		return graph.Invalidf("alias name %q contains a control character or '/'", name)
	}
	return nil
}

// Len returns the number of aliases.
func (a Aliases) Len() int { return len(a.exact) }

// Resolve returns the service name for name: its alias target when name is
// an alias (an exact match first, then a case-insensitive one), else name
// itself.
func (a Aliases) Resolve(name string) string {
	if len(a.exact) == 0 {
		return name
	}
	if t, ok := a.exact[name]; ok {
		return t
	}
	if t, ok := a.folded[strings.ToLower(name)]; ok {
		return t
	}
	return name
}

// Apply renames the services of items' events and dependencies and
// returns the result; items are not modified. A renamed event is
// normalised again, so that its ID is the one the event would have had
// if it had been sent under the service's real name: an aliased event
// resent under either name is a duplicate. A dependency that an alias
// turns into a self-dependency becomes an item error.
func (a Aliases) Apply(items []Item) []Item {
	if len(a.exact) == 0 {
		return items
	}
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = it
		switch {
		case it.Event != nil:
			name := a.Resolve(it.Event.Service)
			if name == it.Event.Service {
				continue
			}
			e := *it.Event
			if e.Summary == string(e.Kind)+" on "+e.Service {
				e.Summary = "" // the default summary names the service; let Normalize redo it
			}
			e.Service = name
			// The event was validated against the real clock when it was
			// decoded; a zero now skips only the future check here.
			if err := e.Normalize(time.Time{}); err != nil {
				out[i] = Item{Err: itemError("after applying aliases", err)}
				continue
			}
			out[i] = Item{Event: &e}
		case it.Dependency != nil:
			d := *it.Dependency
			d.From, d.To = a.Resolve(d.From), a.Resolve(d.To)
			if d == *it.Dependency {
				continue
			}
			if err := d.Validate(); err != nil {
				out[i] = Item{Err: itemError("after applying aliases", err)}
				continue
			}
			out[i] = Item{Dependency: &d}
		}
	}
	return out
}
