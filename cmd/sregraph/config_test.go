package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// serveFlags parses args (and env, and the config file they name) the way
// `sregraph serve` does.
func serveFlags(t *testing.T, args []string, env map[string]string) (*serveConfig, *componentConfig, error) {
	t.Helper()
	fs := flag.NewFlagSet("sregraph serve", flag.ContinueOnError)
	var cfg serveConfig
	cfg.register(fs)
	extra := registerComponentFlags(fs)
	var stderr bytes.Buffer
	err := parseFlags(fs, args, func(k string) string { return env[k] }, &stderr)
	return &cfg, extra, err
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sregraph.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigFile(t *testing.T) {
	path := writeConfig(t, `# a ConfigMap-able file: keys are the flag names
data-dir: /data
http: 0.0.0.0:8080
insecure-listen: true
retention: 14d
max-body: 20MiB
graphql-max-expensive: 8
log-format: json
kafka-brokers:
  - kafka-0:9092
  - kafka-1:9092
kafka-topic-spans: ""
neo4j-user: ~
`)
	cfg, extra, err := serveFlags(t, []string{"--config", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/data" || cfg.HTTP != "0.0.0.0:8080" || !cfg.InsecureListen || time.Duration(cfg.Retention) != 14*24*time.Hour ||
		cfg.GraphQLMaxExpensive != 8 || cfg.LogFormat != "json" || cfg.Neo4jUser != "neo4j" {
		t.Errorf("settings from the file: %+v", cfg)
	}
	if extra.http.MaxBody != 20<<20 {
		t.Errorf("max-body = %d, want 20 MiB", extra.http.MaxBody)
	}
	if !reflect.DeepEqual(extra.kafka.Brokers, []string{"kafka-0:9092", "kafka-1:9092"}) {
		t.Errorf("kafka-brokers from a YAML list = %v", extra.kafka.Brokers)
	}
	if _, on := extra.kafka.Topics["spans"]; on && extra.kafka.Topics["spans"] != "" {
		t.Errorf("kafka-topic-spans: \"\" should turn the spans topic off: %v", extra.kafka.Topics)
	}

	// The flag's own string form of a list works too.
	_, extra, err = serveFlags(t, []string{"--config", writeConfig(t, "kafka-brokers: kafka-0:9092,kafka-1:9092\n")}, nil)
	if err != nil || !reflect.DeepEqual(extra.kafka.Brokers, []string{"kafka-0:9092", "kafka-1:9092"}) {
		t.Errorf("kafka-brokers as a comma list: %v %v", extra.kafka.Brokers, err)
	}

	// Precedence: flag > environment > file > default.
	path = writeConfig(t, "data-dir: /from-file\nlog-level: debug\nhttp: 127.0.0.1:9000\nlog-format: json\n")
	cfg, _, err = serveFlags(t, []string{"--config", path, "--data-dir", "/from-flag"},
		map[string]string{"SREGRAPH_DATA_DIR": "/from-env", "SREGRAPH_LOG_LEVEL": "warn"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from-flag" || cfg.LogLevel != "warn" || cfg.HTTP != "127.0.0.1:9000" || cfg.LogFormat != "json" || cfg.Store != "embedded" {
		t.Errorf("precedence: data-dir %q (flag), log-level %q (env), http %q and log-format %q (file), store %q (default)",
			cfg.DataDir, cfg.LogLevel, cfg.HTTP, cfg.LogFormat, cfg.Store)
	}
	// The file can be named in the environment too.
	cfg, _, err = serveFlags(t, nil, map[string]string{"SREGRAPH_CONFIG": path})
	if err != nil || cfg.DataDir != "/from-file" {
		t.Errorf("SREGRAPH_CONFIG: data-dir %q, %v", cfg.DataDir, err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown key", "data-dir: /data\ndata_dir: /data\n", ":2: no setting named `data_dir`; did you mean `data-dir`?"},
		{"unknown key, nothing close", "colour: blue\n", ":1: no setting named `colour` (keys are the flag names"},
		{"with dashes", "--http: 127.0.0.1:1\n", "no setting named `--http`; did you mean `http`?"},
		{"twice", "http: 127.0.0.1:1\nhttp: 127.0.0.1:2\n", ":2: key `http` is set twice (first on line 1)"},
		{"a mapping value", "kafka-brokers:\n  a: b\n", "key `kafka-brokers`: want a value or a list of values, not a mapping"},
		{"not a mapping", "- data-dir\n", "want a mapping of flag names to values"},
		{"bad value", "retention: 3650d\n", `:1: retention: "3650d": duration "3650d" is longer than the limit of 3100d`},
		{"config in config", "config: other.yaml\n", "a config file cannot name another one"},
		{"bad YAML", "http: [\n", "config file "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			_, _, err := serveFlags(t, []string{"--config", path}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v; want one naming %s and saying %q", err, path, tt.want)
			}
		})
	}
	_, _, err := serveFlags(t, []string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, nil)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file: %v", err)
	}
	// An empty file sets nothing.
	cfg, _, err := serveFlags(t, []string{"--config", writeConfig(t, "# nothing yet\n")}, nil)
	if err != nil || cfg.DataDir != "./data" {
		t.Errorf("an empty file: %v %+v", err, cfg)
	}
}

// TestServeHelpIsGrouped checks that every serve flag has a topic in
// `serve -h`, and that the topics come in their order.
func TestServeHelpIsGrouped(t *testing.T) {
	fs := flag.NewFlagSet("sregraph serve", flag.ContinueOnError)
	var cfg serveConfig
	cfg.register(fs)
	registerComponentFlags(fs)
	groups := serveGroups()
	fs.VisitAll(func(f *flag.Flag) {
		if groupOf(groups, f.Name) < 0 {
			t.Errorf("flag --%s has no topic in serveGroups", f.Name)
		}
	})
	var out bytes.Buffer
	code := run(t.Context(), []string{"serve", "-h"}, func(string) string { return "" }, &out, &out)
	help := out.String()
	if code != 0 {
		t.Fatalf("serve -h exited %d", code)
	}
	last := -1
	for _, g := range groups {
		i := strings.Index(help, "\n"+g.title+":\n")
		if i < 0 || i < last {
			t.Errorf("topic %q missing or out of order in:\n%s", g.title, help)
		}
		last = i
	}
	for _, want := range []string{"  --data-dir string    (SREGRAPH_DATA_DIR)", "--retention value    (SREGRAPH_RETENTION)", "(default 30d)", "--kafka-topic-spans value"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve -h lacks %q", want)
		}
	}
	if strings.Contains(help, "\nOther:\n") {
		t.Errorf("serve -h has flags without a topic:\n%s", help)
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/sregraph/sregraph", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "8a597e4c0ffee"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "sregraph v1.4.0, revision 8a597e4c0ffee+dirty, committed 2026-12-01T10:00:00Z, built with go1.26.0 linux/arm64"
	if got := buildVersion(info, true); got != want {
		t.Errorf("buildVersion = %q\nwant %q", got, want)
	}
	if got := buildVersion(&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true); got != "sregraph (devel), built with go1.26.0" {
		t.Errorf("a checkout build: %q", got)
	}
	var out bytes.Buffer
	if code := run(t.Context(), []string{"version"}, func(string) string { return "" }, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "sregraph ") || !strings.Contains(out.String(), "built with go1.") {
		t.Errorf("sregraph version: exit %d, %q", code, out.String())
	}
}

// A version stamped at link time (the container image's) stands for the
// module version a checkout build records as "(devel)".
func TestStampedVersion(t *testing.T) {
	old := stamped
	t.Cleanup(func() { stamped = old })
	stamped = "v1.4.0"
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}
	if got, want := buildVersion(info, true), "sregraph v1.4.0, built with go1.26.0"; got != want {
		t.Errorf("buildVersion = %q, want %q", got, want)
	}
	if got := shortVersion(); got != "v1.4.0" {
		t.Errorf("shortVersion = %q, want v1.4.0", got)
	}
}
