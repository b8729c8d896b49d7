package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/ingest/scenario"
)

// backtestReport is what --json prints.
type backtestReport struct {
	Results []backtestResult `json:"results"`
	Overall scenario.Summary `json:"overall"`
	// Changes and NoChange pool the scenarios caused by a change and those
	// where nothing changed, so one family cannot hide the other.
	Changes  scenario.Summary `json:"changes"`
	NoChange scenario.Summary `json:"noChange"`
}

type backtestResult struct {
	File string `json:"file"`
	scenario.Result
}

func backtestCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("sregraph backtest", flag.ContinueOnError)
	verbose := fset.Bool("verbose", false, "print the top of each ranking with its reasons")
	top := fset.Int("top", 3, "with --verbose, how many ranked changes to print")
	asJSON := fset.Bool("json", false, "print the results as JSON (every ranked change)")
	confirmed := fset.Bool("confirmed", false, "score today's ranking against every breach whose cause a responder confirmed in the store at --data-dir")
	dataDir := fset.String("data-dir", "", "with --confirmed: the embedded store to read (the server must not be running on it)")
	var paths []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		paths, args = append(paths, args[0]), args[1:]
	}
	if err := parseFlags(fset, args, getenv, stderr); err != nil {
		return err
	}
	paths = append(paths, fset.Args()...)
	if *confirmed {
		if *dataDir == "" || len(paths) > 0 {
			return errors.New("usage: sregraph backtest --confirmed --data-dir DIR (scenario files are replayed without --confirmed)")
		}
		rep, err := backtestConfirmed(ctx, *dataDir, stderr)
		if err != nil {
			return err
		}
		return report(stdout, rep, *asJSON, *verbose, *top)
	}
	if len(paths) == 0 {
		return errors.New("which scenarios? usage: sregraph backtest FILE|DIR... [--verbose] [--json]")
	}
	files, err := scenarioFiles(paths)
	if err != nil {
		return err
	}
	var rep backtestReport
	var failed []string
	for i, f := range files {
		if !*asJSON {
			fmt.Fprintf(stderr, "[%d/%d] %s\n", i+1, len(files), f)
		}
		r, err := replayFile(ctx, f)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// One broken file must not hide the others' results.
			fmt.Fprintf(stderr, "sregraph backtest: %s: %v\n", f, err)
			failed = append(failed, f)
			continue
		}
		rep.Results = append(rep.Results, backtestResult{File: f, Result: r})
	}
	rep.summarize()
	if err := report(stdout, rep, *asJSON, *verbose, *top); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d scenarios could not be replayed (see above): %s", len(failed), len(files), strings.Join(failed, ", "))
	}
	return nil
}

// scenarioFiles expands directories into the scenario files under them,
// in name order.
func scenarioFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".json") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s holds no scenario (*.json) files", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// replayFile replays one scenario in a scratch embedded store of its own.
func replayFile(ctx context.Context, path string) (scenario.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return scenario.Result{}, err
	}
	s, err := scenario.Parse(data)
	if err != nil {
		return scenario.Result{}, err
	}
	dir, err := os.MkdirTemp("", "sregraph-backtest-")
	if err != nil {
		return scenario.Result{}, fmt.Errorf("scratch store: %w", err)
	}
	st, err := pebble.Open(dir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return scenario.Result{}, errors.Join(fmt.Errorf("scratch store: %w", err), os.RemoveAll(dir))
	}
	r, err := scenario.Replay(ctx, s, st)
	if cerr := st.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close scratch store: %w", cerr))
	}
	return r, errors.Join(err, os.RemoveAll(dir))
}

func printBacktest(w io.Writer, rep backtestReport, verbose bool, top int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tSCENARIO\tEXPECTED\tRANKED FIRST")
	for _, r := range rep.Results {
		rank := fmt.Sprint(r.Rank)
		if r.Rank == 0 {
			rank = "miss"
		}
		first := "(nothing)"
		if len(r.Changes) > 0 {
			first = describeChange(r.Changes[0])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rank, strings.TrimSuffix(filepath.Base(r.File), ".json"), r.Expected, first)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if verbose {
		for _, r := range rep.Results {
			fmt.Fprintf(w, "\n%s (expected %s, rank %d)\n", r.File, r.Expected, r.Rank)
			for _, o := range r.Origins[:min(3, len(r.Origins))] {
				fmt.Fprintf(w, "  origin %s at %s, strength %.2f, linked %v: %s\n", o.Service, o.Onset.Format("15:04"), o.Strength, o.Linked, o.Evidence[0].Sentence())
			}
			for _, c := range r.Changes[:min(top, len(r.Changes))] {
				fmt.Fprintf(w, "  #%d %.3f %s\n", c.Rank, c.Score, describeChange(c))
				for _, why := range c.Reasons {
					fmt.Fprintf(w, "       %s\n", why)
				}
			}
		}
	}
	fmt.Fprintln(w)
	line := func(name string, s scenario.Summary) {
		if s.Scenarios == 0 {
			return
		}
		fmt.Fprintf(w, "%-10s %2d scenarios  top-1 %2d (%3.0f%%)  top-3 %2d (%3.0f%%)  missed %d  MRR %.3f\n", name, s.Scenarios,
			s.Top1, 100*float64(s.Top1)/float64(s.Scenarios), s.Top3, 100*float64(s.Top3)/float64(s.Scenarios), s.Missed, s.MRR)
	}
	line("changes", rep.Changes)
	line("no change", rep.NoChange)
	line("overall", rep.Overall)
	return nil
}

func describeChange(c graph.RankedChange) string {
	id := c.Event.ExternalID
	if id == "" {
		id = c.Event.ID
	}
	return fmt.Sprintf("%s on %s (%s)", c.Event.Kind, c.Event.Service, id)
}

// summarize pools the results, and apart those caused by a change and
// those where nothing changed.
func (rep *backtestReport) summarize() {
	var all, changes, noChange []scenario.Result
	for _, r := range rep.Results {
		all = append(all, r.Result)
		if r.NoChange {
			noChange = append(noChange, r.Result)
		} else {
			changes = append(changes, r.Result)
		}
	}
	rep.Overall, rep.Changes, rep.NoChange = scenario.Summarize(all), scenario.Summarize(changes), scenario.Summarize(noChange)
}

func report(w io.Writer, rep backtestReport, asJSON, verbose bool, top int) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printBacktest(w, rep, verbose, top)
}

// backtestConfirmed scores today's ranking against every breach in the
// store at dir whose cause a responder confirmed, asking as the breach
// page does.
func backtestConfirmed(ctx context.Context, dir string, progress io.Writer) (rep backtestReport, err error) {
	err = withDataDir(dir, "copy the data directory and give the copy", func(st *pebble.Store) error {
		rep, err = scoreConfirmed(ctx, st, progress)
		return err
	})
	return rep, err
}

// confirmedSource is what scoring confirmations reads.
type confirmedSource interface {
	graph.ContextSource
	Event(ctx context.Context, id string) (graph.Event, error)
}

func scoreConfirmed(ctx context.Context, st confirmedSource, progress io.Writer) (backtestReport, error) {
	var confs []graph.Confirmation
	f := graph.EventFilter{Kinds: []graph.Kind{graph.KindConfirmation}, First: 1000}
	for {
		page, err := st.Events(ctx, f)
		if err != nil {
			return backtestReport{}, fmt.Errorf("confirmations: %w", err)
		}
		for _, e := range page.Items {
			if c, ok := graph.ConfirmationOf(e); ok {
				confs = append(confs, c)
			}
		}
		if !page.HasNext || len(page.Items) == 0 {
			break
		}
		last := page.Items[len(page.Items)-1]
		f.After = graph.EncodeCursor(last.At, last.ID)
	}
	if len(confs) == 0 {
		return backtestReport{}, errors.New("no breach in this store has a confirmed cause yet: confirm one with the breach page's button or the confirmCause mutation")
	}
	var rep backtestReport
	for i, c := range confs {
		e, err := st.Event(ctx, c.Breach)
		if err != nil {
			fmt.Fprintf(progress, "sregraph backtest: breach %s (confirmed %s): %v\n", c.Breach, c.At.Format(time.RFC3339), err)
			continue
		}
		b := graph.BreachOf(e)
		fmt.Fprintf(progress, "[%d/%d] %s on %s at %s\n", i+1, len(confs), b.SLO, b.Service, b.StartedAt.Format(time.RFC3339))
		q := graph.ContextQuery{Service: b.Service, At: b.StartedAt, Before: graph.DefaultBefore, After: graph.DefaultAfter, First: graph.MaxFirst, Breach: &b}
		cx, err := graph.BuildContext(ctx, st, q)
		if err != nil {
			return backtestReport{}, fmt.Errorf("context of breach %s: %w", b.ID, err)
		}
		r := scenario.Result{Name: b.SLO, Expected: c.CauseSummary, NoChange: c.CauseKind == graph.KindDegradation,
			Rank: graph.RankOf(cx, c), Changes: cx.Changes, Origins: cx.Origins}
		rep.Results = append(rep.Results, backtestResult{File: b.Service + "@" + b.StartedAt.Format("2006-01-02T15:04"), Result: r})
	}
	rep.summarize()
	return rep, nil
}
