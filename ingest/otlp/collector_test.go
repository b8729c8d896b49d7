package otlp_test

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/kafka"
)

// TestCollectorConfig holds the OpenTelemetry Collector configuration the
// README ships to what sregraph serves and consumes: the exporter names of
// current Collector versions (otlp_http, not the deprecated otlphttp), an
// OTLP/HTTP endpoint the exporter turns into POST <endpoint>/v1/traces, a
// compression the handler reads, the Kafka exporter writing the default
// spans topic in an encoding the consumer reads, partitioned by trace, and
// a pipeline using only exporters it defines.
func TestCollectorConfig(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "Point an OpenTelemetry Collector at sregraph")
	if !ok {
		t.Fatal("the README has no Collector configuration")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the Collector configuration is not a yaml block")
	}
	var cfg struct {
		Exporters map[string]struct {
			Endpoint            string
			Compression         string
			Brokers             []string
			Traces              struct{ Topic, Encoding string }
			PartitionTracesByID bool `yaml:"partition_traces_by_id"`
		}
		Service struct {
			Pipelines map[string]struct{ Receivers, Processors, Exporters []string }
		}
	}
	if err := yaml.Unmarshal([]byte(block), &cfg); err != nil {
		t.Fatalf("the README's Collector configuration: %v\n%s", err, block)
	}
	kinds := map[string]int{}
	for name, e := range cfg.Exporters {
		kind, _, _ := strings.Cut(name, "/")
		kinds[kind]++
		switch kind {
		case "otlp_http":
			u, err := url.Parse(e.Endpoint)
			if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
				t.Errorf("%s: endpoint %q: want the server's base URL, to which the exporter adds /v1/traces", name, e.Endpoint)
			}
			if e.Compression != "" && e.Compression != "gzip" && e.Compression != "none" {
				t.Errorf("%s: compression %q: the handler reads gzip", name, e.Compression)
			}
		case "kafka":
			if want := kafka.DefaultTopics()[ingest.FamilySpans]; e.Traces.Topic != want {
				t.Errorf("%s: topic %q, want the spans topic %q", name, e.Traces.Topic, want)
			}
			if e.Traces.Encoding != "otlp_proto" && e.Traces.Encoding != "otlp_json" {
				t.Errorf("%s: encoding %q: the consumer reads otlp_proto and otlp_json", name, e.Traces.Encoding)
			}
			if !e.PartitionTracesByID || len(e.Brokers) == 0 {
				t.Errorf("%s: want brokers and partition_traces_by_id: true", name)
			}
		default:
			t.Errorf("exporter %s: want otlp_http (current Collectors; otlphttp is deprecated) or kafka", name)
		}
	}
	if kinds["otlp_http"] != 1 || kinds["kafka"] != 1 {
		t.Errorf("exporters %v: want one otlp_http and one kafka", kinds)
	}
	p, ok := cfg.Service.Pipelines["traces"]
	if !ok || len(p.Exporters) == 0 {
		t.Fatal("no traces pipeline with exporters")
	}
	for _, e := range p.Exporters {
		if _, ok := cfg.Exporters[e]; !ok {
			t.Errorf("the traces pipeline uses %s, which the configuration does not define", e)
		}
	}
}
