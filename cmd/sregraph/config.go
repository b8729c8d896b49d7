package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sregraph/sregraph/graph"
)

// configFlag is the flag naming a config file. A command that registers
// it reads its flags from that file too.
const configFlag = "config"

// configFile is a config file's settings: flag name (without the dashes)
// to the flag's string form, in the file's order, with the line each
// came from.
type configFile struct {
	path     string
	settings []configSetting
}

type configSetting struct {
	name, value string
	line        int
}

// readConfig reads a config file: one YAML mapping whose keys are exactly
// the names of fs's flags without the leading dashes (data-dir: /data).
// A value is a scalar, written in the flag's own string form (30d, 10MiB,
// true), or for a flag that takes a comma list a YAML list of scalars
// (kafka-brokers: [kafka-0:9092, kafka-1:9092]), which is joined with
// commas; null leaves the flag unset. A key that is not a flag is an
// error naming the key, the file and the line, with the flag meant when
// one is close.
func readConfig(path string, fs *flag.FlagSet) (*configFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	cf := &configFile{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cf, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return cf, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return cf, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s:%d: want a mapping of flag names to values (data-dir: /data)", path, root.Line)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != configFlag {
			names = append(names, f.Name)
		}
	})
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		where := fmt.Sprintf("config file %s:%d", path, k.Line)
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: a key must be a flag name", where)
		}
		name := k.Value
		if name == configFlag {
			return nil, fmt.Errorf("%s: key `config`: a config file cannot name another one", where)
		}
		if fs.Lookup(name) == nil {
			unknown := &graph.UnknownNameError{What: "setting", Name: name, Suggestions: graph.Suggest(strings.TrimLeft(name, "-"), names)}
			return nil, fmt.Errorf("%s: %w (keys are the flag names of `sregraph serve -h` without the dashes)", where, unknown)
		}
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s: key `%s` is set twice (first on line %d)", where, name, first)
		}
		seen[name] = k.Line
		value, set, err := configValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: key `%s`: %w", where, name, err)
		}
		if set {
			cf.settings = append(cf.settings, configSetting{name: name, value: value, line: k.Line})
		}
	}
	return cf, nil
}

// configValue is a node's flag string form; set is false for null.
func configValue(v *yaml.Node) (value string, set bool, err error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return "", false, nil
		}
		return v.Value, true, nil
	case yaml.SequenceNode:
		items := make([]string, 0, len(v.Content))
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return "", false, errors.New("a list holds plain values only")
			}
			items = append(items, it.Value)
		}
		return strings.Join(items, ","), true, nil
	case yaml.AliasNode:
		return configValue(v.Alias)
	}
	return "", false, errors.New("want a value or a list of values, not a mapping")
}

// apply sets every flag the file names that skip does not (those the
// command line or the environment set: they win).
func (cf *configFile) apply(fs *flag.FlagSet, skip map[string]bool) error {
	var errs []error
	for _, s := range cf.settings {
		if skip[s.name] {
			continue
		}
		if err := fs.Set(s.name, s.value); err != nil {
			errs = append(errs, fmt.Errorf("config file %s:%d: %s: %q: %w", cf.path, s.line, s.name, s.value, err))
		}
	}
	return errors.Join(errs...)
}
