package graph

import (
	"errors"
	"testing"
	"time"
)

func TestLatencySlot(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{5 * time.Millisecond, 0},
		{5*time.Millisecond + 1, 1},
		{10 * time.Millisecond, 1},
		{99 * time.Millisecond, 4},
		{time.Second, 7},
		{2500 * time.Millisecond, 8},
		{2500*time.Millisecond + 1, 9},
		{time.Hour, LatencyBuckets - 1},
		{-time.Second, 0},
	} {
		if got := LatencySlot(tc.d); got != tc.want {
			t.Errorf("LatencySlot(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
	for i := 1; i < len(LatencyBounds); i++ {
		if LatencyBounds[i] <= LatencyBounds[i-1] {
			t.Fatalf("bounds not increasing at %d: %v", i, LatencyBounds)
		}
	}
}

func TestCallBucketValidateLatency(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := CallBucket{From: "a", To: "b", Start: at, Producer: "p", Calls: 10, Errors: 1, LatencySum: time.Second}
	hist := func(vals ...int64) [LatencyBuckets]int64 {
		var h [LatencyBuckets]int64
		copy(h[:], vals)
		return h
	}
	for _, tc := range []struct {
		name  string
		hist  [LatencyBuckets]int64
		valid bool
	}{
		{"no histogram", hist(), true},
		{"all calls counted", hist(4, 3, 0, 0, 0, 0, 0, 0, 0, 3), true},
		{"some calls counted", hist(0, 2), true},
		{"more than calls", hist(4, 3, 0, 0, 0, 0, 0, 0, 0, 4), false},
		{"negative slot", hist(5, -1), false},
		{"overflowing sum", hist(1<<62, 1<<62, 1<<62, 1<<62), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.Latency = tc.hist
			err := c.Validate()
			if tc.valid && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.valid && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}
