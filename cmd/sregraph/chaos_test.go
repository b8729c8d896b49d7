package main

// The chaos suite: the real binary (built with go build), run as
// `sregraph serve` in a subprocess, under the failures a server meets in
// production — SIGKILL while clients post or a topic is produced to, a
// full disk, a damaged table file, a late topic, hostile clients — each
// checked by counting what was acknowledged and what the store holds.
//
// Loop counts come from the environment, with defaults that keep the
// suite short on a busy machine:
//
//	SREGRAPH_CHAOS_KILLS   SIGKILLs per kill loop (default 10)
//
// Each test logs its figures (kills, faults, requests tried,
// acknowledged, present, lost, duplicated) and, when SREGRAPH_TEST_OUT is
// set (scripts/test.sh sets it), appends them to chaos-figures.txt there.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
)

// chaosInt reads a positive count from the environment, or def.
func chaosInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// figures logs one line of a test's figures and appends it to
// $SREGRAPH_TEST_OUT/chaos-figures.txt when that is set.
func figures(t *testing.T, format string, args ...any) {
	t.Helper()
	line := t.Name() + ": " + fmt.Sprintf(format, args...)
	t.Log(line)
	dir := os.Getenv("SREGRAPH_TEST_OUT")
	if dir == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "chaos-figures.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("figures: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, time.Now().UTC().Format(time.RFC3339), line); err != nil {
		t.Errorf("figures: %v", err)
	}
}

// buildSregraph builds the binary with go build into a temporary
// directory and returns its path.
func buildSregraph(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sregraph")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is `sregraph serve` run from a built binary, started again and
// again on the same arguments.
type proc struct {
	t    *testing.T
	bin  string
	args []string
	cmd  *exec.Cmd
	url  atomic.Pointer[string]
	mu   sync.Mutex
	logs bytes.Buffer
	done chan error
}

// serveProc starts `bin serve` with args (plus a free loopback port) and
// waits until it listens; Cleanup kills what still runs.
func serveProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, bin: bin, args: append([]string{"serve", "--http", "127.0.0.1:0", "--log-level", "warn"}, args...)}
	t.Cleanup(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	p.start()
	return p
}

// start starts the process and waits until it says where it listens.
func (p *proc) start() {
	p.t.Helper()
	root, _ := filepath.Abs("../..")
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = root
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.logs.Write(b)
	})
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	p.done = make(chan error, 1)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
				found <- strings.Fields(rest)[0]
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case u := <-found:
		p.url.Store(&u)
	case err := <-p.done:
		p.cmd = nil
		p.t.Fatalf("sregraph serve exited at start: %v\n%s", err, p.log())
	case <-time.After(60 * time.Second):
		p.t.Fatalf("sregraph serve did not start within 60s\n%s", p.log())
	}
}

// URL is where the running process listens, or "" between a kill and
// the next start.
func (p *proc) URL() string {
	if u := p.url.Load(); u != nil {
		return *u
	}
	return ""
}

// kill SIGKILLs the process and waits for it.
func (p *proc) kill() {
	p.t.Helper()
	p.url.Store(nil)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
	p.cmd = nil
}

// stop SIGTERMs the process and expects a clean exit within 60s.
func (p *proc) stop() {
	p.t.Helper()
	p.url.Store(nil)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.cmd = nil
		if err != nil {
			p.t.Fatalf("serve exited with %v after SIGTERM\n%s", err, p.log())
		}
	case <-time.After(60 * time.Second):
		p.t.Fatalf("serve still runs 60s after SIGTERM\n%s", p.log())
	}
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// ledger counts what a client tried and what was acknowledged.
type ledger struct {
	mu       sync.Mutex
	acked    map[string]bool
	requests int // requests sent, retries included
	refused  int // answered 503
	failed   int // no answer (connection refused or cut)
}

func newLedger() *ledger { return &ledger{acked: map[string]bool{}} }

func (l *ledger) ack(ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.acked[id] = true
	}
}

// chaosEvents is one NDJSON batch of deploys of service svc with the
// given external IDs.
func chaosEvents(svc string, ids []string, at time.Time) []byte {
	var b bytes.Buffer
	for _, id := range ids {
		fmt.Fprintf(&b, `{"id":%q,"kind":"deploy","service":%q,"at":%q,"source":"chaos","summary":"deploy %s"}`+"\n", id, svc, at.Format(time.RFC3339), id)
	}
	return b.Bytes()
}

// postUntilAcked posts one batch to url() until it is acknowledged (200
// with every item accepted or a duplicate) or ctx ends, as a client with
// retries does: a 503 (with Retry-After and a JSON body) or a cut
// connection is retried. It reports whether the batch was acknowledged.
func postUntilAcked(ctx context.Context, t *testing.T, l *ledger, url func() string, svc string, ids []string, at time.Time) bool {
	body := chaosEvents(svc, ids, at)
	client := &http.Client{Timeout: 30 * time.Second}
	for ctx.Err() == nil {
		u := url()
		if u == "" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		l.mu.Lock()
		l.requests++
		l.mu.Unlock()
		resp, err := client.Post(u+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			l.mu.Lock()
			l.failed++
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		raw, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case rerr != nil:
			// Cut mid-answer: not acknowledged.
			l.mu.Lock()
			l.failed++
			l.mu.Unlock()
		case resp.StatusCode == http.StatusOK:
			var a ingestAnswer
			if err := json.Unmarshal(raw, &a); err != nil || a.Accepted+a.Duplicates != len(ids) || len(a.Rejected) > 0 {
				t.Errorf("answer %s (%v); want every item accepted or a duplicate", raw, err)
				return false
			}
			l.ack(ids)
			return true
		case resp.StatusCode == http.StatusServiceUnavailable:
			if resp.Header.Get("Retry-After") == "" || !json.Valid(raw) {
				t.Errorf("503 without Retry-After or with a body that is not JSON: %q %s", resp.Header, raw)
			}
			l.mu.Lock()
			l.refused++
			l.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		default:
			t.Errorf("ingest answered %s: %s", resp.Status, raw)
			return false
		}
	}
	return false
}

// storeCount opens the embedded store in dir (no server may run on it)
// and counts, per external ID, the events of service svc.
func storeCount(t *testing.T, dir, svc string) map[string]int {
	t.Helper()
	s, err := pebble.Open(dir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close %s: %v", dir, err)
		}
	}()
	seen := map[string]int{}
	f := graph.EventFilter{Services: []string{svc}, First: 1000}
	for {
		page, err := s.Events(context.Background(), f)
		if err != nil {
			t.Fatalf("list events of %s: %v", svc, err)
		}
		for _, e := range page.Items {
			seen[e.ExternalID]++
		}
		if !page.HasNext {
			return seen
		}
		last := page.Items[len(page.Items)-1]
		f.After = graph.EncodeCursor(last.At, last.ID)
	}
}

// lostAndDuplicated compares what was acknowledged with what the store
// holds: lost is acknowledged but absent, duplicated stored more than
// once. It fails the test unless both are zero.
func lostAndDuplicated(t *testing.T, acked map[string]bool, seen map[string]int) (lost, dup int) {
	t.Helper()
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for _, n := range seen {
		if n > 1 {
			dup++
		}
	}
	if lost != 0 || dup != 0 {
		t.Errorf("acknowledged %d: lost %d, duplicated %d", len(acked), lost, dup)
	}
	return lost, dup
}

// TestChaosKillHTTPIngest SIGKILLs the server SREGRAPH_CHAOS_KILLS times
// while four clients post batches (retrying each until acknowledged),
// restarting it on the same data directory each time, then counts:
// every acknowledged event present, none twice.
func TestChaosKillHTTPIngest(t *testing.T) {
	kills := chaosInt(t, "SREGRAPH_CHAOS_KILLS", 10)
	bin := buildSregraph(t)
	dir := t.TempDir()
	p := serveProc(t, bin, "--data-dir", dir)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	l := newLedger()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				ids := make([]string, 50)
				for k := range ids {
					ids[k] = fmt.Sprintf("h%d-%d-%d", w, i, k)
				}
				postUntilAcked(ctx, t, l, p.URL, "chaos-http", ids, at)
			}
		}()
	}
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
		p.kill()
		p.start()
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	p.stop()
	seen := storeCount(t, dir, "chaos-http")
	lost, dup := lostAndDuplicated(t, l.acked, seen)
	if len(l.acked) < 1000 {
		t.Errorf("only %d events acknowledged; the loop needs more to mean anything", len(l.acked))
	}
	figures(t, "kills %d, requests %d (no answer %d, 503 %d), acknowledged %d events, present %d, lost %d, duplicated %d",
		kills, l.requests, l.failed, l.refused, len(l.acked), len(seen), lost, dup)
}

// readyz returns /readyz's status code and body.
func readyz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// waitUntil polls cond every 100ms until it holds, failing after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
