package graph

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90m", 90 * time.Minute, ""},
		{"2h30m", 150 * time.Minute, ""},
		{"PT2H", 2 * time.Hour, ""},
		{"pt15m", 15 * time.Minute, ""},
		{"P1DT2H", 26 * time.Hour, ""},
		{"P1W", 7 * 24 * time.Hour, ""},
		{"PT1.5H", 90 * time.Minute, ""},
		{"30d", 30 * 24 * time.Hour, ""},
		{"", 0, "empty duration"},
		{"P1M", 0, "years and months"},
		{"PT", 0, "bad duration"},
		{"P22", 0, "number without unit"},
		{"PTH", 0, "bad ISO 8601"},
		{"soon", 0, "want Go syntax"},
		{"P99999999999D", 0, "longer than the limit of 3100d"},
		{"3100d", 3100 * 24 * time.Hour, ""},
		{"3650d", 0, `duration "3650d" is longer than the limit of 3100d (about 8.5 years)`},
		{"P3650D", 0, "longer than the limit of 3100d"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want ErrInvalid containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestContextQueryValidate(t *testing.T) {
	at := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    ContextQuery
		err  string
	}{
		{"defaults", ContextQuery{Service: "payments", At: at}, ""},
		{"no service", ContextQuery{At: at}, "service is required"},
		{"no time", ContextQuery{Service: "p"}, "at is required"},
		{"absurd time", ContextQuery{Service: "p", At: time.Unix(0, 0)}, "outside the accepted range"},
		{"depth too deep", ContextQuery{Service: "p", At: at, Depth: 7}, "depth 7 is out of range"},
		{"negative depth", ContextQuery{Service: "p", At: at, Depth: -1}, "depth -1 is out of range"},
		{"negative window", ContextQuery{Service: "p", At: at, Before: -time.Hour}, "must not be negative"},
		{"huge window", ContextQuery{Service: "p", At: at, Before: 40 * 24 * time.Hour}, "longer than the maximum"},
		{"bad direction", ContextQuery{Service: "p", At: at, Direction: "SIDEWAYS"}, "no direction named `SIDEWAYS`"},
		{"bad kind", ContextQuery{Service: "p", At: at, Kinds: []Kind{"reboot"}}, "no kind named `reboot`"},
		{"first too big", ContextQuery{Service: "p", At: at, First: 5000}, "first 5000 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			err := q.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if q.Depth != DefaultDepth || q.Direction != Both || q.First != DefaultFirst {
					t.Fatalf("defaults not filled: %+v", q)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v; want ErrInvalid containing %q", err, tt.err)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 11, 50, 0, 123000000, time.UTC)
	c := EncodeCursor(at, "abc")
	gotAt, gotID, err := DecodeCursor(c)
	if err != nil || !gotAt.Equal(at) || gotID != "abc" {
		t.Fatalf("DecodeCursor(EncodeCursor) = %v %q %v", gotAt, gotID, err)
	}
	if _, _, err := DecodeCursor("!!!"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	older := Event{At: at.Add(-time.Second), ID: "zzz"}
	if !AfterCursor(&older, at, "abc") {
		t.Fatal("an older event must come after the cursor in newest-first order")
	}
	same := Event{At: at, ID: "abd"}
	if !AfterCursor(&same, at, "abc") {
		t.Fatal("same instant, larger id must come after the cursor")
	}
}

func TestFormatAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:            "30 s",
		7 * time.Minute:             "7 min",
		2*time.Hour + 5*time.Minute: "2 h 5 min",
		3 * time.Hour:               "3 h",
		-12 * time.Minute:           "12 min",
		50 * time.Hour:              "2 d 2 h",
		48 * time.Hour:              "2 d",
	} {
		if got := FormatAgo(d); got != want {
			t.Errorf("FormatAgo(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestLatencyCode holds the one-byte latency to its stated precision and
// checks that a code decodes to itself again (stores re-encode it).
func TestLatencyCode(t *testing.T) {
	for _, mean := range []time.Duration{time.Microsecond, 900 * time.Microsecond, 12 * time.Millisecond, 245 * time.Millisecond, 8 * time.Second, time.Hour} {
		for _, calls := range []int64{1, 7, 5000} {
			code := LatencyCode(mean*time.Duration(calls), calls)
			got := LatencyOfCode(code, calls)
			if r := float64(got) / float64(mean*time.Duration(calls)); r < 0.955 || r > 1.045 {
				t.Errorf("mean %s × %d calls: code %d stands for %s (×%.3f)", mean, calls, code, got, r)
			}
			if again := LatencyCode(got, calls); again != code {
				t.Errorf("mean %s × %d calls: code %d re-encodes as %d", mean, calls, code, again)
			}
		}
	}
	if LatencyCode(0, 10) != 0 || LatencyCode(time.Second, 0) != 0 || LatencyOfCode(0, 10) != 0 {
		t.Error("no latency must be code 0 and back")
	}
}
