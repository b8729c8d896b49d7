package ingest

import (
	"fmt"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func fluxBody(kind, reason, severity, metadata string) string {
	return fmt.Sprintf(`{"involvedObject":{"kind":%q,"name":"payments","namespace":"prod","uid":"u-1"},"severity":%q,
		"timestamp":"2026-11-21T11:00:00Z","message":"m","reason":%q,"metadata":%s,"reportingController":"c"}`, kind, severity, reason, metadata)
}

func TestFluxReasons(t *testing.T) {
	rev := `{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"}`
	tests := []struct {
		kind, reason, severity string
		want                   graph.Kind // "" = ignored
	}{
		{"Kustomization", "ReconciliationSucceeded", "info", graph.KindDeploy},
		{"HelmRelease", "InstallSucceeded", "info", graph.KindDeploy},
		{"HelmRelease", "UpgradeSucceeded", "info", graph.KindDeploy},
		{"HelmRelease", "RollbackSucceeded", "info", graph.KindRollback},
		{"HelmRelease", "UpgradeFailed", "error", ""},
		{"Kustomization", "ReconciliationSucceeded", "error", ""},
		{"Kustomization", "Progressing", "info", ""},
		{"GitRepository", "ReconciliationSucceeded", "info", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.reason+"/"+tt.severity, func(t *testing.T) {
			items := mustDecode(t, DecodeFlux, fluxBody(tt.kind, tt.reason, tt.severity, rev), nil)
			if tt.want == "" {
				if len(items) != 0 {
					t.Fatalf("got %+v, want nothing", items)
				}
				return
			}
			e := mustEvent(t, items)
			if e.Kind != tt.want || e.Service != "payments" || e.Environment != "prod" {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestFluxRevision(t *testing.T) {
	tests := []struct {
		metadata string
		wantRev  string
		wantID   string
	}{
		{`{"revision":"6.5.4"}`, "6.5.4", "u-1@6.5.4"},
		{`{"helm.toolkit.fluxcd.io/revision":"6.5.4","token":"x"}`, "6.5.4", "u-1@6.5.4+x"},
		{`{"kustomize.toolkit.fluxcd.io/revision":"main/731f7ead"}`, "main/731f7ead", "u-1@main/731f7ead"},
		{`{"commit_status":"update"}`, "", ""},
		{`null`, "", ""},
	}
	for _, tt := range tests {
		e := mustEvent(t, mustDecode(t, DecodeFlux, fluxBody("HelmRelease", "UpgradeSucceeded", "info", tt.metadata), nil))
		if got, _ := e.Attributes["revision"].(string); got != tt.wantRev || e.ExternalID != tt.wantID {
			t.Errorf("metadata %s: revision %q externalId %q, want %q %q", tt.metadata, got, e.ExternalID, tt.wantRev, tt.wantID)
		}
	}
}

func TestFluxShortRevision(t *testing.T) {
	for in, want := range map[string]string{
		"main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1": "main@731f7ea",
		"main/731f7eaddfb6af01cb2173e18f0f75b0ba780ef1":      "main@731f7ea",
		"6.5.4": "6.5.4",
		"731f7eaddfb6af01cb2173e18f0f75b0ba780ef1": "731f7ea",
		"feature/x": "feature/x",
	} {
		if got := fluxShortRevision(in); got != want {
			t.Errorf("fluxShortRevision(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDecodeFlux(f *testing.F) { fuzzDecoder(f, FormatFlux, DecodeFlux) }
