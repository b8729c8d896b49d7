package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errUsage means the flags were wrong and the flag package has already
// said why; errHelp means help was asked for and printed.
var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help")
)

// parseFlags parses args into fs, then fills every flag not given on the
// command line from SREGRAPH_<FLAG> in the environment, and, when fs has
// a --config flag and it names a file, every flag still unset from that
// file: a flag wins over the environment, which wins over the file,
// which wins over the default.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			given[f.Name] = true
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("environment %s=%q: %w", name, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if cfg := fs.Lookup(configFlag); cfg != nil && cfg.Value.String() != "" {
		cf, err := readConfig(cfg.Value.String(), fs)
		if err != nil {
			return err
		}
		return cf.apply(fs, given)
	}
	return nil
}

// envName is the environment variable for a flag: SREGRAPH_DATA_DIR for
// --data-dir.
func envName(flagName string) string {
	return "SREGRAPH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
