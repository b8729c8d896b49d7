package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/sregraph/sregraph/graph/pebble"
)

// checkCommand verifies an embedded store without changing it and prints
// what is damaged; it fails (exit 1) when anything is.
func checkCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("sregraph check", flag.ContinueOnError)
	dataDir := fset.String("data-dir", "", "the embedded store to verify (opened read-only; stop the server on it first)")
	if err := parseFlags(fset, args, getenv, stderr); err != nil {
		return err
	}
	if *dataDir == "" || fset.NArg() > 0 {
		return errors.New("usage: sregraph check --data-dir DIR")
	}
	// Pebble's own warnings (a write-ahead log replay that drops records)
	// go to stderr; the report goes to stdout.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := pebble.Check(ctx, *dataDir, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d table files verified block by block, %d keys read, %d write-ahead logs read\n",
		*dataDir, rep.Tables, rep.Keys, rep.Logs)
	for _, d := range rep.Damage {
		fmt.Fprintf(stdout, "damaged: %s: %v\n", d.File, d.Err)
	}
	if len(rep.Damage) > 0 {
		return fmt.Errorf("%s: %d damaged (see above)", *dataDir, len(rep.Damage))
	}
	fmt.Fprintln(stdout, "ok: no damage found")
	return nil
}
