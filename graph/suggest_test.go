package graph

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	demo := []string{"api-gateway", "auth", "cart", "catalog", "checkout", "inventory", "ledger", "payments", "postgres-payments", "pricing", "search", "shipping"}
	tests := []struct {
		name string
		want []string
	}{
		{"chekout", []string{"checkout"}},    // a letter missing
		{"checkuot", []string{"checkout"}},   // two letters swapped
		{"Checkout", []string{"checkout"}},   // case only
		{"PAYMENTS", []string{"payments"}},   // case only wins over the longer name holding it
		{"paymnts", []string{"payments"}},    // a letter missing
		{"gateway", []string{"api-gateway"}}, // part of a name
		{"card", []string{"cart"}},           // one letter off a short name
		{"ledgers", []string{"ledger"}},      // one letter more
		{"zzzzzzzz", nil},                    // nothing close: nothing suggested
		{"a", nil},                           // too short to contain anything
		{"", nil},                            // nothing asked
		{"pricng", []string{"pricing"}},      // another typo
		{"shiping", []string{"shipping"}},    // a doubled letter written once
		{"seach", []string{"search"}},        // one letter missing
		{"inventroy", []string{"inventory"}}, // swapped
		{"postgres-payment", []string{"postgres-payments"}},
	}
	for _, tt := range tests {
		if got := Suggest(tt.name, demo); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Suggest(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := Suggest("svc", []string{"svc1", "svc2", "svc3", "svc4", "svc5"}); len(got) != maxSuggestions {
		t.Errorf("Suggest offers %v, want at most %d", got, maxSuggestions)
	}
}

func TestUnknownNames(t *testing.T) {
	_, err := ParseKind("deplyo")
	var ue *UnknownNameError
	if !errors.As(err, &ue) || !errors.Is(err, ErrInvalid) || err.Error() != "no kind named `deplyo`; did you mean `deploy`?" {
		t.Errorf("ParseKind(deplyo) = %v", err)
	}
	_, err = ParseKind("meteor")
	if err == nil || !strings.HasPrefix(err.Error(), "no kind named `meteor`; want one of `deploy`, `rollback`") || Message(err) != err.Error() {
		t.Errorf("ParseKind(meteor) = %v (message %q)", err, Message(err))
	}
	_, err = ParseDirection("dependecies")
	if err == nil || err.Error() != "no direction named `dependecies`; did you mean `DEPENDENCIES`?" {
		t.Errorf("ParseDirection(dependecies) = %v", err)
	}
}

// directory is a store's service list, paged like a store pages it.
type directory []string

func (d directory) Service(_ context.Context, name string) (Service, error) {
	for _, n := range d {
		if n == name {
			return Service{Name: n}, nil
		}
	}
	return Service{}, NotFoundf("no service named %q", name)
}

func (d directory) Services(_ context.Context, f ServiceFilter) (Page[Service], error) {
	var p Page[Service]
	for _, n := range d {
		if f.After != "" && n <= mustDecodeName(f.After) {
			continue
		}
		if len(p.Items) == f.First {
			p.HasNext = true
			break
		}
		p.Items = append(p.Items, Service{Name: n})
	}
	return p, nil
}

func mustDecodeName(cursor string) string {
	n, err := DecodeNameCursor(cursor)
	if err != nil {
		panic(err)
	}
	return n
}

func TestCheckService(t *testing.T) {
	ctx := context.Background()
	// More services than one page holds, the one meant on the last page.
	var d directory
	for i := range MaxFirst + 5 {
		d = append(d, "svc-"+strings.Repeat("a", 1+i/26)+string(rune('a'+i%26)))
	}
	d = append(d, "zeta-checkout")
	if err := CheckService(ctx, d, "zeta-checkout"); err != nil {
		t.Fatalf("a known service: %v", err)
	}
	err := CheckService(ctx, d, "zeta-chekout")
	var ue *UnknownNameError
	if !errors.As(err, &ue) || !reflect.DeepEqual(ue.Suggestions, []string{"zeta-checkout"}) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("CheckService(zeta-chekout) = %v", err)
	}
}
