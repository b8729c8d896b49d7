package graph

import (
	"testing"
	"time"
)

func TestConnectionTypeSupersedes(t *testing.T) {
	t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	for _, tc := range []struct {
		name      string
		c         ConnectionType
		at        time.Time
		old       ConnectionType
		oldAt     time.Time
		supersede bool
	}{
		{"a later bucket wins, even a weaker type", ConnectionVirtual, t2, ConnectionDatabase, t1, true},
		{"an earlier bucket never does", ConnectionDatabase, t1, ConnectionVirtual, t2, false},
		{"same bucket: database over messaging", ConnectionDatabase, t1, ConnectionMessaging, t1, true},
		{"same bucket: messaging over direct", ConnectionMessaging, t1, ConnectionNone, t1, true},
		{"same bucket: direct over virtual node", ConnectionNone, t1, ConnectionVirtual, t1, true},
		{"same bucket: virtual node not over direct", ConnectionVirtual, t1, ConnectionNone, t1, false},
		{"same bucket, same type: no change", ConnectionDatabase, t1, ConnectionDatabase, t1, false},
		{"anything over nothing recorded", ConnectionVirtual, t1, ConnectionNone, time.Time{}, true},
	} {
		if got := tc.c.Supersedes(tc.at, tc.old, tc.oldAt); got != tc.supersede {
			t.Errorf("%s: %q supersedes %q = %v", tc.name, tc.c, tc.old, got)
		}
	}
	// Codes follow the rank, so a store can compare codes; 0 is none recorded.
	for _, c := range []ConnectionType{ConnectionVirtual, ConnectionNone, ConnectionMessaging, ConnectionDatabase} {
		if ConnectionOfCode(c.Code()) != c || c.Code() == 0 {
			t.Errorf("%q: code %d reads back as %q", c, c.Code(), ConnectionOfCode(c.Code()))
		}
	}
	if ConnectionOfCode(0) != ConnectionNone || ConnectionOfCode(9) != ConnectionNone {
		t.Error("unknown codes must read as a direct call")
	}
	b := CallBucket{From: "a", To: "b", Start: t1, Producer: "p", Calls: 1, ConnectionType: "carrier_pigeon"}
	if err := b.Validate(); err == nil {
		t.Error("a bucket with an unknown connection type was accepted")
	}
	b.ConnectionType = ConnectionMessaging
	if err := b.Validate(); err != nil {
		t.Errorf("a messaging bucket: %v", err)
	}
}
