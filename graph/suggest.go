package graph

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// UnknownNameError says that a name the user gave (a service, an event
// kind, a direction) is not one sregraph knows, and which known names it
// may have meant. It is of kind ErrInvalid: an unknown service must never
// read as "nothing changed near it".
type UnknownNameError struct {
	// What is the kind of name: "service", "kind", "direction".
	What string
	// Name is the name as given.
	Name string
	// Suggestions are the known names closest to Name, best first; empty
	// when none is close.
	Suggestions []string
	// Known, when short enough to list, is every valid name; it is
	// offered when nothing is close.
	Known []string
}

// Error reads "no service named `chekout`; did you mean `checkout`?".
func (e *UnknownNameError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no %s named `%s`", e.What, e.Name)
	switch {
	case len(e.Suggestions) > 0:
		b.WriteString("; did you mean ")
		b.WriteString(orList(e.Suggestions))
		b.WriteString("?")
	case len(e.Known) > 0:
		b.WriteString("; want one of ")
		b.WriteString(orList(e.Known))
	}
	return b.String()
}

// Is makes an UnknownNameError an ErrInvalid.
func (e *UnknownNameError) Is(target error) bool { return target == ErrInvalid }

func orList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	if len(quoted) == 1 {
		return quoted[0]
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// maxSuggestions is how many names an UnknownNameError offers at most.
const maxSuggestions = 3

// Suggest returns the candidates closest to name, best first, at most
// three: a candidate that differs only in case (alone, then), then those within an edit
// distance of about a third of the name's length (a typo, a missing or
// doubled letter, two letters swapped), then those that contain name or
// that name contains. It returns nothing when no candidate is close, so
// that a suggestion is always worth reading.
func Suggest(name string, candidates []string) []string {
	type scored struct {
		name string
		dist int
	}
	lname := strings.ToLower(strings.TrimSpace(name))
	if lname == "" {
		return nil
	}
	limit := max(1, (len([]rune(lname))+1)/3)
	var close []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(lname, lc)
		switch {
		case d <= limit:
		case len(lname) >= 3 && (strings.Contains(lc, lname) || strings.Contains(lname, lc) && len(lc) >= 3):
			d = limit + 1
		default:
			continue
		}
		close = append(close, scored{c, d})
	}
	sort.SliceStable(close, func(i, j int) bool {
		if close[i].dist != close[j].dist {
			return close[i].dist < close[j].dist
		}
		return close[i].name < close[j].name
	})
	var out []string
	for _, s := range close[:min(len(close), maxSuggestions)] {
		// A name that differs only in case is the one meant; otherwise
		// the nearest, and those one edit further.
		if s.dist > 0 && close[0].dist == 0 || s.dist > close[0].dist+1 {
			break
		}
		out = append(out, s.name)
	}
	return out
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbouring letters
// each count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// unknownName builds the UnknownNameError for name among known, listing
// every known name when nothing is close and the list is short.
func unknownName(what, name string, known []string) *UnknownNameError {
	e := &UnknownNameError{What: what, Name: name, Suggestions: Suggest(name, known)}
	if len(e.Suggestions) == 0 && len(known) <= 12 {
		e.Known = known
	}
	return e
}

// ServiceDirectory is what CheckService needs of a store.
type ServiceDirectory interface {
	Service(ctx context.Context, name string) (Service, error)
	Services(ctx context.Context, f ServiceFilter) (Page[Service], error)
}

// CheckService returns nil when the store knows a service named name
// (from its events, traces or declared dependencies), and otherwise an
// *UnknownNameError suggesting the known names closest to it. Any other
// error is the store's.
func CheckService(ctx context.Context, d ServiceDirectory, name string) error {
	_, err := d.Service(ctx, name)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	var names []string
	f := ServiceFilter{First: MaxFirst}
	for {
		p, err := d.Services(ctx, f)
		if err != nil {
			return fmt.Errorf("listing services to suggest one: %w", err)
		}
		for _, s := range p.Items {
			names = append(names, s.Name)
		}
		if !p.HasNext || len(p.Items) == 0 {
			break
		}
		f.After = EncodeNameCursor(p.Items[len(p.Items)-1].Name)
	}
	e := &UnknownNameError{What: "service", Name: name, Suggestions: Suggest(name, names)}
	return e
}
