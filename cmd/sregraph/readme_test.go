package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The README's tour writes the demo breach's time and the server's address
// as these; the test puts in the real ones, as a reader does.
const (
	readmeBreach = "2026-11-21T11:50:00Z"
	readmeAddr   = "127.0.0.1:8080"
)

// fence is a fenced block of the README: its language and its text.
type fence struct {
	lang, body string
	line       int
}

// readmeSection returns the fenced blocks of the README section whose
// heading is title, in order.
func readmeSection(t *testing.T, title string) []fence {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("the README has no section %q", title)
	}
	end := strings.Index(text[start+1:], "\n## ")
	if end < 0 {
		end = len(text) - start - 1
	}
	section := text[start+1 : start+1+end]
	line0 := strings.Count(text[:start+1], "\n") + 1
	var out []fence
	var cur *fence
	for i, l := range strings.Split(section, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &fence{lang: strings.TrimPrefix(l, "```"), line: line0 + i}
		case cur != nil && l == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += l + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a fenced block is never closed", cur.line)
	}
	return out
}

// shellCommand is one command of a sh block: its text (continued lines
// joined as the shell joins them) and what the README says it prints: a
// comment line right after it, either its output or, ending in "(exit
// status N)", what it says on stderr and its exit status.
type shellCommand struct {
	text   string
	expect string
	status int
}

func shellCommands(body string) []shellCommand {
	var cmds []shellCommand
	var cur []string
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		if len(cur) == 0 && strings.HasPrefix(l, "# ") && len(cmds) > 0 {
			c := &cmds[len(cmds)-1]
			c.expect = strings.TrimPrefix(l, "# ")
			if m := regexp.MustCompile(`^(.*) \(exit status (\d+)\)$`).FindStringSubmatch(c.expect); m != nil {
				c.expect = m[1]
				c.status, _ = strconv.Atoi(m[2])
			}
			continue
		}
		cur = append(cur, l)
		joined := strings.Join(cur, "\n")
		if strings.Count(joined, "'")%2 == 0 && !strings.HasSuffix(l, "\\") {
			cmds = append(cmds, shellCommand{text: joined})
			cur = nil
		}
	}
	return cmds
}

// TestReadmeTour runs every command and query of the README's tour
// against the demo, as written, except for the breach's time and the
// server's address: the reader puts in the ones the demo printed, and so
// does the test. `go run ./cmd/sregraph` runs this test binary as
// sregraph. What the README says a command prints, it must print.
func TestReadmeTour(t *testing.T) {
	for _, tool := range []string{"sh", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the tour uses %s: %v", tool, err)
		}
	}
	blocks := readmeSection(t, "A five-minute tour")
	if len(blocks) == 0 || blocks[0].lang != "sh" || blocks[0].body != "go run ./cmd/sregraph serve --demo\n" {
		t.Fatalf("the tour must start the demo with `go run ./cmd/sregraph serve --demo`, first block: %+v", blocks[:min(1, len(blocks))])
	}
	srv := startServer(t, t.TempDir(), "--demo")
	addr := strings.TrimPrefix(srv.url, "http://")
	m := regexp.MustCompile(`breach of \S+ on \S+ at (\S+)\n`).FindStringSubmatch(srv.out.String())
	if m == nil {
		t.Fatalf("the demo did not print its breach:\n%s", srv.out)
	}
	breach := m[1]
	subst := strings.NewReplacer(readmeBreach, breach, readmeAddr, addr, "localhost:8080", addr)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prelude := `go() { if [ "$1" = run ] && [ "$2" = ./cmd/sregraph ]; then shift 2; SREGRAPH_TEST_MAIN=1 "$SREGRAPH_TEST_BINARY" "$@"; else echo "the tour runs only go run ./cmd/sregraph" >&2; return 127; fi; }` + "\n"

	ran := map[string]int{}
	for i := 1; i < len(blocks); i++ {
		b := blocks[i]
		where := fmt.Sprintf("README.md:%d", b.line)
		switch b.lang {
		case "text":
			// What the demo prints when it starts (the version aside: a
			// checkout's build may carry a pseudo-version).
			version := regexp.MustCompile(`(?m)^sregraph \S+ listening on`)
			want := version.ReplaceAllString(subst.Replace(b.body), "sregraph VERSION listening on")
			if got := version.ReplaceAllString(srv.out.String(), "sregraph VERSION listening on"); !strings.HasPrefix(got, want) {
				t.Errorf("%s: the demo prints\n%s\nthe README says\n%s", where, got, want)
			}
			ran["output"]++
		case "sh":
			for _, c := range shellCommands(b.body) {
				text := subst.Replace(c.text)
				cmd := exec.CommandContext(t.Context(), "sh", "-c", prelude+text)
				cmd.Env = append(os.Environ(), "SREGRAPH_TEST_BINARY="+self, "SREGRAPH_SERVER="+srv.url)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				status := 0
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					status = exit.ExitCode()
				} else if err != nil {
					t.Fatalf("%s: %s: %v", where, c.text, err)
				}
				out := stdout.String()
				switch {
				case status != c.status:
					t.Errorf("%s: %s\nexit status %d, want %d\nstdout:\n%s\nstderr:\n%s", where, c.text, status, c.status, out, stderr.String())
				case c.status != 0:
					if strings.TrimSpace(stderr.String()) != c.expect {
						t.Errorf("%s: %s\nsays %q, the README says %q", where, c.text, strings.TrimSpace(stderr.String()), c.expect)
					}
				case c.expect != "":
					if strings.TrimSpace(out) != c.expect {
						t.Errorf("%s: %s\nprints %q, the README says %q", where, c.text, strings.TrimSpace(out), c.expect)
					}
				case strings.Contains(c.text, "sregraph context"):
					// The demo's culprit, whichever way it is asked for.
					if !strings.Contains(out, "ledger 2.14.0 deployed") {
						t.Errorf("%s: %s\ndoes not name the demo's culprit:\n%s\n%s", where, c.text, out, stderr.String())
					}
				case strings.HasPrefix(c.text, "curl"):
					var answer struct {
						Data   map[string]any
						Errors []any
					}
					if err := json.Unmarshal(stdout.Bytes(), &answer); err != nil || len(answer.Errors) > 0 || len(answer.Data) == 0 {
						t.Errorf("%s: %s\nanswers %s (%v)", where, c.text, out, err)
					}
				default:
					t.Errorf("%s: %s: the test does not know what this command should print; say it in a comment after it", where, c.text)
				}
				ran["command"]++
			}
		case "graphql":
			var vars map[string]any
			if i+1 < len(blocks) && blocks[i+1].lang == "json" {
				if err := json.Unmarshal([]byte(subst.Replace(blocks[i+1].body)), &vars); err != nil {
					t.Fatalf("README.md:%d: variables: %v", blocks[i+1].line, err)
				}
				i++
			}
			if strings.HasPrefix(b.body, "subscription") {
				for _, doc := range strings.Split(strings.TrimSpace(b.body), "\n") {
					readmeSubscribe(t, where, srv.url, doc)
					ran["subscription"]++
				}
				continue
			}
			answer := readmeQuery(t, where, srv.url, b.body, vars)
			if strings.Contains(b.body, "changes {") && !strings.Contains(answer, "ledger 2.14.0 deployed") {
				t.Errorf("%s: the answer does not name the demo's culprit:\n%.2000s", where, answer)
			}
			if strings.Contains(answer, ":null") && !strings.Contains(b.body, "url") {
				t.Errorf("%s: the answer has nulls:\n%.2000s", where, answer)
			}
			ran["query"]++
		case "json":
			t.Errorf("%s: variables must follow the query they are for", where)
		default:
			t.Errorf("%s: a %q block the test does not know how to run", where, b.lang)
		}
	}
	// The tour as written today: the demo's output, 3 queries, 2
	// subscriptions, 7 commands. Fewer means the extraction broke.
	if ran["output"] != 1 || ran["query"] < 3 || ran["subscription"] < 2 || ran["command"] < 6 {
		t.Errorf("ran %v from the tour; the extraction lost some", ran)
	}
	t.Logf("ran from the README's tour: %v", ran)
}

// readmeQuery posts a query and returns the answer's data, failing on
// any error.
func readmeQuery(t *testing.T, where, url, query string, vars map[string]any) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Errors) > 0 || len(answer.Data) < 3 {
		t.Errorf("%s: the query answers %s (%v)", where, raw, err)
	}
	return string(answer.Data)
}

// readmeSubscribe starts a subscription over graphql-transport-ws and
// checks that the server accepts it: no error within a second.
func readmeSubscribe(t *testing.T, where, url, doc string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(v any) {
		msg, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"type": "connection_init"})
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), "connection_ack") {
		t.Fatalf("%s: no connection_ack: %s %v", where, msg, err)
	}
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": doc}})
	rctx, rcancel := context.WithTimeout(ctx, time.Second)
	defer rcancel()
	_, msg, err := ws.Read(rctx)
	if err == nil && (strings.Contains(string(msg), `"error"`) || strings.Contains(string(msg), `"errors"`)) {
		t.Errorf("%s: %s\nis refused: %s", where, doc, msg)
	}
}
