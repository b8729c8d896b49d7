package scenario

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// TestBacktestSuite replays every scenario of the project's suites
// (testdata/scenarios, testdata/heldout and the demo) through the ranking
// and holds it to what the README reports, so the ranking cannot get
// worse unnoticed: every no-change scenario names the degraded service
// first, the cause is first in at least minTop1 of the scenarios and in
// the top 3 in at least minTop3 (all of them), and no cause is missing
// from the answer. The README lists the scenarios that miss, and why.
func TestBacktestSuite(t *testing.T) {
	files := scenarioFiles(t, "scenarios", "heldout")
	files = append(files, filepath.Join(demoDir, File))
	sum := replayAll(t, files)
	if float64(sum.Top1) < minTop1*float64(sum.Scenarios) {
		t.Errorf("top-1 %d of %d, want at least %.0f%%", sum.Top1, sum.Scenarios, 100*minTop1)
	}
	if float64(sum.Top3) < minTop3*float64(sum.Scenarios) {
		t.Errorf("top-3 %d of %d, want at least %.0f%%", sum.Top3, sum.Scenarios, 100*minTop3)
	}
}

// TestHeldOutSecondBatch replays testdata/heldout2, eight incidents
// written without reading the ranking code, and holds the ranking to what
// they score: the README gives their first run and this floor; raise it
// with the engine.
func TestHeldOutSecondBatch(t *testing.T) {
	sum := replayAll(t, scenarioFiles(t, "heldout2"))
	if sum.Scenarios != 8 || sum.Top1 < heldOut2Top1 || sum.Top3 < heldOut2Top3 {
		t.Errorf("held-out second batch: %d scenarios, top-1 %d, top-3 %d; want 8, at least %d and %d",
			sum.Scenarios, sum.Top1, sum.Top3, heldOut2Top1, heldOut2Top3)
	}
}

// scenarioFiles lists the scenario files under the testdata directories.
func scenarioFiles(t *testing.T, dirs ...string) []string {
	t.Helper()
	var files []string
	for _, dir := range dirs {
		more, err := filepath.Glob(filepath.Join("..", "..", "testdata", dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(more) == 0 {
			t.Fatalf("no scenarios under testdata/%s", dir)
		}
		files = append(files, more...)
	}
	sort.Strings(files)
	return files
}

// replayAll replays each file into a scratch store and summarises where
// the causes ranked; a cause missing from the answer, or a no-change
// scenario not naming the degraded service first, fails the test.
func replayAll(t *testing.T, files []string) Summary {
	t.Helper()
	var results []Result
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r, err := Replay(context.Background(), s, pebbletest.MustOpen(t, pebble.Options{}))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		switch {
		case r.Rank == 0:
			t.Errorf("%s: %s is not in the answer", name, r.Expected)
		case r.NoChange && r.Rank != 1:
			t.Errorf("%s: nothing changed, but %s ranks %d: the degraded service must come first", name, r.Expected, r.Rank)
		}
		if r.Rank != 1 && len(r.Changes) > 0 {
			t.Logf("%s: rank %d; first is %s on %s: %s", name, r.Rank, r.Changes[0].Event.Kind, r.Changes[0].Event.Service, strings.Join(r.Changes[0].Reasons, "; "))
		}
		results = append(results, r)
	}
	sum := Summarize(results)
	t.Logf("%d scenarios: top-1 %d, top-3 %d, missed %d, MRR %.3f", sum.Scenarios, sum.Top1, sum.Top3, sum.Missed, sum.MRR)
	return sum
}

// The suite's floor: what the ranking reached when these were last
// raised. Raise them with the engine; never lower them to pass.
const (
	minTop1 = 0.9
	minTop3 = 1.0
	// The held-out second batch, as it scores now. Its first run: top-1
	// 6, top-3 6, one missed (206); one rule came of that miss (a caller's
	// surge counts when it began before the others' calls degraded).
	heldOut2Top1 = 6
	heldOut2Top3 = 7
)

// TestSummarize checks the pooled measures on known ranks.
func TestSummarize(t *testing.T) {
	got := Summarize([]Result{{Rank: 1}, {Rank: 2}, {Rank: 4}, {Rank: 0}})
	want := Summary{Scenarios: 4, Top1: 1, Top3: 2, Missed: 1, MRR: 0.438}
	if got != want {
		t.Errorf("Summarize = %+v; want %+v", got, want)
	}
}
