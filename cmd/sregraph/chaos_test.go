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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
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

	"github.com/coder/websocket"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/resolvers"
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

// chaosBinary is the binary the chaos and standalone tests run, built once per test
// binary by buildSregraph and removed by TestMain.
var chaosBinary struct {
	once sync.Once
	dir  string
	err  error
}

// buildSregraph builds the binary with go build (once for all the chaos
// tests and the standalone one) and returns its path.
func buildSregraph(t *testing.T) string {
	t.Helper()
	chaosBinary.once.Do(func() {
		if chaosBinary.dir, chaosBinary.err = os.MkdirTemp("", "sregraph-chaos-"); chaosBinary.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(chaosBinary.dir, "sregraph"), ".").CombinedOutput()
		if err != nil {
			chaosBinary.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if chaosBinary.err != nil {
		t.Fatal(chaosBinary.err)
	}
	return filepath.Join(chaosBinary.dir, "sregraph")
}

// removeChaosBinary removes what buildSregraph built, if anything.
func removeChaosBinary() error {
	if chaosBinary.dir == "" {
		return nil
	}
	return os.RemoveAll(chaosBinary.dir)
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
	lost, dup := pebbletest.LostAndDuplicated(t, l.acked, seen)
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

// gqlErrors posts a GraphQL query and returns the HTTP status and the
// extension codes of its errors.
func gqlErrors(t *testing.T, url, query string) (int, []string, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	resp, err := http.Post(url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("graphql answer %q is not JSON: %v", raw, err)
	}
	var codes []string
	for _, e := range out.Errors {
		codes = append(codes, e.Extensions.Code)
	}
	return resp.StatusCode, codes, string(raw)
}

// TestChaosCorruptFile serves a store with 4 KiB zeroed in the middle of
// its largest table file: a query over the damage answers an INTERNAL
// error, never a shorter count; /readyz then says the store is damaged
// while /healthz still answers; and `sregraph check` names the file and
// exits 1.
func TestChaosCorruptFile(t *testing.T) {
	dir, file := pebbletest.MustCorruptStore(t)
	bin := buildSregraph(t)
	p := serveProc(t, bin, "--data-dir", dir)
	if code, body := readyz(t, p.URL()); code != 200 {
		t.Fatalf("/readyz before any read met the damage: %d %s", code, body)
	}
	_, codes, raw := gqlErrors(t, p.URL(), `{ events(services: ["x"], first: 1) { totalCount } }`)
	if len(codes) == 0 || codes[0] != "INTERNAL" {
		t.Fatalf("count over a damaged table: %s; want an INTERNAL error, not a count", raw)
	}
	code, body := readyz(t, p.URL())
	if code != 503 || !strings.Contains(body, "damaged") {
		t.Errorf("/readyz after the damage was read: %d %q; want 503 saying the store is damaged", code, body)
	}
	if resp, err := http.Get(p.URL() + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz on a damaged store: %v %v; want the process alive", resp, err)
	} else {
		resp.Body.Close()
	}
	if !strings.Contains(p.log(), filepath.Base(file)) && !strings.Contains(p.log(), strings.TrimSuffix(filepath.Base(file), ".sst")) {
		t.Errorf("the log does not name the damaged file %s:\n%s", filepath.Base(file), p.log())
	}
	p.stop()
	out, err := exec.Command(bin, "check", "--data-dir", dir).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), strings.TrimSuffix(filepath.Base(file), ".sst")) {
		t.Errorf("sregraph check: %v\n%s\nwant exit 1 naming %s", err, out, filepath.Base(file))
	}
	figures(t, "faults 1 (4 KiB zeroed in %s), query answered INTERNAL (not a shorter count), /readyz 503 damaged, check exit 1", filepath.Base(file))
}

// TestChaosHostileClients sends what hostile or broken clients send —
// oversized bodies, trickled bodies, hundreds of aliased deep queries,
// more subscriptions than allowed — and checks each is refused the way
// it should be, and that the server still answers a good request after
// each.
func TestChaosHostileClients(t *testing.T) {
	bin := buildSregraph(t)
	p := serveProc(t, bin, "--data-dir", t.TempDir(), "--max-body", "64KiB", "--http-read-timeout", "1s", "--http-write-timeout", "5s")
	url := p.URL()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	good := 0
	stillAnswers := func(after string) {
		t.Helper()
		l := newLedger()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		id := fmt.Sprintf("good-%d", good)
		if !postUntilAcked(ctx, t, l, p.URL, "chaos-hostile", []string{id}, at) || l.requests != 1 {
			t.Fatalf("after %s: a good post took %d requests (acknowledged: %v)", after, l.requests, l.acked[id])
		}
		good++
		if _, codes, raw := gqlErrors(t, url, `{ events(services: ["chaos-hostile"], first: 1) { totalCount } }`); len(codes) != 0 || !strings.Contains(raw, fmt.Sprintf(`"totalCount":%d`, good)) {
			t.Fatalf("after %s: a good query answered %s; want totalCount %d", after, raw, good)
		}
	}
	tried, refused := 0, 0
	refuse := func(what string, ok bool, detail string) {
		t.Helper()
		tried++
		if ok {
			refused++
		} else {
			t.Errorf("%s: %s", what, detail)
		}
		stillAnswers(what)
	}

	// Oversized bodies: 413 with a JSON body, on ingest and on /graphql.
	for _, c := range []struct {
		path, ctype string
		size        int
	}{
		{"/v1/events", "application/x-ndjson", 1 << 20},
		{"/v1/traces", "application/json", 1 << 20},
		{"/graphql", "application/json", 4 << 20},
	} {
		body := `{"query":"` + strings.Repeat(" ", c.size) + `{ __typename }"}`
		resp, err := http.Post(url+c.path, c.ctype, strings.NewReader(body))
		if err != nil {
			refuse("oversized body to "+c.path, false, err.Error())
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		refuse("oversized body to "+c.path, resp.StatusCode == http.StatusRequestEntityTooLarge && json.Valid(raw), fmt.Sprintf("%s %q; want 413 with a JSON body", resp.Status, raw))
	}

	// A trickled body: cut off with 408 after --http-read-timeout.
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 10000\r\n\r\n{")
	start := time.Now()
	got := make(chan string, 1)
	go func() { raw, _ := io.ReadAll(conn); got <- string(raw) }()
	var answer string
trickle:
	for {
		select {
		case answer = <-got:
			break trickle
		case <-time.After(100 * time.Millisecond):
			if time.Since(start) > 10*time.Second {
				break trickle
			}
			_, _ = conn.Write([]byte(" "))
		}
	}
	conn.Close()
	took := time.Since(start)
	refuse("trickled body", strings.HasPrefix(answer, "HTTP/1.1 408") && took < 5*time.Second, fmt.Sprintf("after %s: %q; want 408 after about 1s", took, answer))

	// 300 aliases of a deep neighbourhood read: refused for complexity.
	var q strings.Builder
	q.WriteString("{")
	for i := range 300 {
		fmt.Fprintf(&q, ` a%d: changesNear(service: "chaos-hostile", at: %q, depth: 6, first: 1) { at }`, i, at.Format(time.RFC3339))
	}
	q.WriteString(" }")
	start = time.Now()
	_, codes, raw := gqlErrors(t, url, q.String())
	refuse("300 aliased changesNear(depth: 6)", len(codes) > 0 && codes[0] == "COMPLEXITY_LIMIT_EXCEEDED" && time.Since(start) < 2*time.Second,
		fmt.Sprintf("%.300s; want refused for complexity at once", raw))

	// More subscriptions on one websocket than allowed: the one past the
	// limit is refused, the connection and the server go on.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(msg string) {
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"type":"connection_init"}`)
	if _, raw, err := ws.Read(ctx); err != nil || !strings.Contains(string(raw), "connection_ack") {
		t.Fatalf("connection_init: %s %v", raw, err)
	}
	limit := resolvers.DefaultMaxSubscriptionsPerConnection
	for i := 0; i <= limit; i++ {
		send(fmt.Sprintf(`{"id":"%d","type":"subscribe","payload":{"query":"subscription { changes { id } }"}}`, i))
	}
	var refusal string
	for refusal == "" {
		_, raw, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the refusal of subscription %d: %v", limit+1, err)
		}
		if s := string(raw); strings.Contains(s, `"errors"`) || strings.Contains(s, `"type":"error"`) {
			refusal = s
		}
	}
	refuse(fmt.Sprintf("%d subscriptions on one connection", limit+1), strings.Contains(refusal, "SUBSCRIPTION_LIMIT"),
		fmt.Sprintf("%s; want one of %d subscriptions refused with SUBSCRIPTION_LIMIT", refusal, limit+1))

	figures(t, "hostile requests %d, refused as they should be %d, good requests answered after each %d", tried, refused, good)
}
