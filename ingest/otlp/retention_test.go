package otlp

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestSpansOlderThanRetentionAreRejected posts, as protobuf and as JSON, a
// batch an SDK resent from its disk buffer: one trace from 2022 and one
// from now. With a 30-day retention the 2022 spans are rejected with an
// OTLP partial success (their count and why), never counted: no edge, no
// service seen in 2022, nothing for the retention job to delete later.
func TestSpansOlderThanRetentionAreRejected(t *testing.T) {
	jsonBody, err := os.ReadFile(filepath.Join(testdata, "retention", "resent-from-2022.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := DecodeRequest(jsonBody, ContentTypeJSON)
	if err != nil {
		t.Fatal(err)
	}
	pbBody, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, contentType string
		body              []byte
	}{
		{"protobuf", ContentTypeProtobuf, pbBody},
		{"JSON", ContentTypeJSON, jsonBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := teeWriter{mem: newMemStore(), db: mustOpenPebble(t)}
			clock := goldenNow
			agg := NewAggregator(Config{Retention: 30 * 24 * time.Hour}, func() time.Time { return clock })
			h := NewHandler(agg, store, HandlerConfig{})
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, body := post(t, srv.URL+"/v1/traces", tc.contentType, "", tc.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var rejected int64
			var msg string
			if tc.contentType == ContentTypeProtobuf {
				var r coltracepb.ExportTraceServiceResponse
				if err := proto.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				rejected, msg = r.GetPartialSuccess().GetRejectedSpans(), r.GetPartialSuccess().GetErrorMessage()
			} else {
				var r struct {
					PartialSuccess struct {
						RejectedSpans string `json:"rejectedSpans"`
						ErrorMessage  string `json:"errorMessage"`
					} `json:"partialSuccess"`
				}
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatalf("%s: %v", body, err)
				}
				if r.PartialSuccess.RejectedSpans != "3" {
					t.Errorf("rejectedSpans %q, want \"3\" (int64 as a JSON string): %s", r.PartialSuccess.RejectedSpans, body)
				}
				rejected, msg = 3, r.PartialSuccess.ErrorMessage
			}
			if rejected != 3 || !strings.Contains(msg, "2022-06-23T09:30:00Z is older than the retention of 720h0m0s") {
				t.Errorf("partial success: %d rejected, %q", rejected, msg)
			}
			clock = clock.Add(DefaultWait)
			if _, err := store.Apply(context.Background(), agg.Flush(clock)); err != nil {
				t.Fatal(err)
			}
			// This year's trace: the user's call to checkout's root span and
			// checkout's call to inventory.
			if got := store.mem.edges(); len(got) != 2 || got["checkout->inventory"] != (edgeTotal{1, 0}) || got["user->checkout"] != (edgeTotal{1, 0}) {
				t.Errorf("edges %v, want only this year's user->checkout and checkout->inventory", got)
			}
			for _, name := range []string{"user", "checkout", "inventory"} {
				sv, err := store.db.Service(context.Background(), name)
				if err != nil {
					t.Fatal(err)
				}
				if sv.FirstSeen.Year() != 2026 || sv.LastSeen.Year() != 2026 {
					t.Errorf("%s seen %s..%s, want only 2026", name, sv.FirstSeen, sv.LastSeen)
				}
			}
			if s := agg.Stats(); s.Rejected != 3 || s.Paired != 1 || s.Expired != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestSpansOutsideTheAcceptedRange rejects, each with its reason for the
// partial success, spans starting before the years sregraph stores, after
// them, before the retention, or further ahead of the clock than MaxAhead
// (a device whose clock is a year off), and accepts those just inside.
func TestSpansOutsideTheAcceptedRange(t *testing.T) {
	now := goldenNow
	for _, tc := range []struct {
		name string
		at   time.Time
		want string // the rejection's reason; "" when accepted
	}{
		{"1999", time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), "outside the accepted range 2000..2200"},
		{"2201", time.Date(2201, 1, 1, 0, 0, 0, 0, time.UTC), "outside the accepted range 2000..2200"},
		{"before the retention", now.Add(-31 * 24 * time.Hour), "older than the retention of 720h0m0s"},
		{"a year ahead", now.AddDate(1, 0, 0), "more than 1h0m0s ahead of the server's clock"},
		{"just inside the retention", now.Add(-29 * 24 * time.Hour), ""},
		{"a skewed clock, minutes ahead", now.Add(10 * time.Minute), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(Config{Retention: 30 * 24 * time.Hour, MaxAhead: DefaultMaxAhead}, func() time.Time { return now })
			req := request(sp{svc: "checkout", trace: 1, id: 10, kind: client, at: tc.at.Sub(t0), dur: 20 * time.Millisecond})
			_, res := a.Add(req, "p")
			switch {
			case tc.want == "" && res.Rejected != 0:
				t.Errorf("rejected: %s", res.Message)
			case tc.want != "" && (res.Rejected != 1 || !strings.Contains(res.Message, tc.want)):
				t.Errorf("%d rejected, %q; want 1 rejected for %q", res.Rejected, res.Message, tc.want)
			}
		})
	}
}
