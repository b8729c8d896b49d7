// Command sregraph is the SRE knowledge-graph correlation engine: it
// ingests deploys, scale events, tickets, traces and SLO breaches, and
// answers "what changed near this breached service" over GraphQL, on a
// breach-context page and on the command line.
//
// Usage:
//
//	sregraph serve [--demo] [flags]     run the server
//	sregraph context SERVICE --at WHEN  print the ranked changes near SERVICE
//	sregraph backtest FILE|DIR...       replay incidents, score the ranking
//	sregraph check --data-dir DIR       verify an embedded store, print damage
//	sregraph version                    print the version and VCS revision
//
// Every flag can also be set with an environment variable SREGRAPH_<FLAG>
// (upper case, dashes as underscores); a flag given on the command line
// wins.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serveCommand(ctx, args[1:], getenv, stdout, stderr)
	case "context":
		err = contextCommand(ctx, args[1:], getenv, stdout, stderr)
	case "backtest":
		err = backtestCommand(ctx, args[1:], getenv, stdout, stderr)
	case "check":
		err = checkCommand(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
	case "help", "-h", "--help", "-help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "sregraph: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err != nil {
		switch err {
		case errHelp:
			return 0
		case errUsage:
			return 2
		}
		fmt.Fprintf(stderr, "sregraph %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `sregraph answers "what changed near this breached service?"

Commands:
  serve                      run the server (GraphQL, breach pages, ingest)
  serve --demo               the same, with a bundled demo scenario loaded
  context SERVICE --at WHEN  print the ranked changes near SERVICE at WHEN:
                             breach (its latest breach), a time, or 15m (ago)
  backtest FILE|DIR...       replay incident scenarios and score the ranking
  check --data-dir DIR       verify every block of an embedded store, print damage
  version                    print the version, VCS revision and commit time

Run "sregraph COMMAND -h" for a command's flags. Every flag can also be set
with an environment variable SREGRAPH_<FLAG>, e.g. SREGRAPH_HTTP=:8080.
`)
}
