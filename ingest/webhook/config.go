package webhook

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/ingest"
)

// DefaultMaxBody is the default limit on an ingest request body, after
// decompression.
const DefaultMaxBody = 10 << 20

// Config configures the HTTP ingest endpoints: POST /v1/events and
// POST /v1/webhooks/{source}. Start from DefaultConfig (or RegisterFlags)
// and call Validate.
type Config struct {
	// MaxBody bounds a request body in bytes, both as sent and after
	// gzip decompression; a larger body gets 413.
	MaxBody int64
	// Secrets holds the HMAC secrets of the sources that sign their
	// deliveries, by the name of the secret (ingest.Signature.Secret,
	// e.g. "github-secret", also the name of its flag). When one is set,
	// that source's deliveries must carry a valid signature.
	Secrets map[string]string
	// WebhookToken is a shared secret for every webhook without a
	// signature secret of its own. When set, those deliveries must present
	// it (see TokenHeader).
	WebhookToken string
	// WebhooksToKafka makes webhook endpoints append the raw delivery and
	// its headers to the topic of its family instead of writing to the
	// store; the Kafka consumers then store it.
	WebhooksToKafka bool
	// RetryAfter is what a 503 answer (store or Kafka unavailable) tells
	// the sender to wait before retrying.
	RetryAfter time.Duration
}

// DefaultConfig returns the configuration the flags default to.
func DefaultConfig() Config {
	return Config{MaxBody: DefaultMaxBody, RetryAfter: 5 * time.Second}
}

// RegisterFlags registers the ingest endpoint flags on fs, writing into c
// and setting c to the defaults first. Every secret flag has a -file
// variant that reads the secret from a file (trailing newlines dropped),
// so that secrets need not appear in process listings.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	*c = DefaultConfig()
	fs.Func("max-body", "largest ingest request body, after decompression (bytes, or with a unit: 512KiB, 10MiB, 1GiB; default 10MiB)", func(s string) error {
		n, err := parseByteSize(s)
		if err != nil {
			return err
		}
		c.MaxBody = n
		return nil
	})
	secret := func(name, what string, set func(string)) {
		fs.Func(name, what, func(s string) error {
			set(s)
			return nil
		})
		fs.Func(name+"-file", "file holding the value of --"+name, func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("read secret: %w", err)
			}
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				return fmt.Errorf("secret file %s is empty", path)
			}
			set(v)
			return nil
		})
	}
	for _, src := range ingest.Webhooks() {
		if sig := src.Signature; sig != nil {
			secret(sig.Secret, sig.Describe+": deliveries must carry a valid "+sig.Header, func(v string) {
				if c.Secrets == nil {
					c.Secrets = map[string]string{}
				}
				c.Secrets[sig.Secret] = v
			})
		}
	}
	secret("webhook-token", "shared token every other webhook must present (Authorization: Bearer, basic-auth password, "+TokenHeader+" header or ?token=)", func(v string) { c.WebhookToken = v })
	fs.BoolVar(&c.WebhooksToKafka, "webhooks-to-kafka", false, "append webhook deliveries, raw, to their family's Kafka topic instead of writing them to the store (needs Kafka)")
}

// Validate checks c and fills zero values with the defaults.
func (c *Config) Validate() error {
	d := DefaultConfig()
	if c.MaxBody == 0 {
		c.MaxBody = d.MaxBody
	}
	if c.MaxBody < 1024 {
		return fmt.Errorf("--max-body %d: want at least 1KiB", c.MaxBody)
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = d.RetryAfter
	}
	known := map[string]bool{}
	for _, src := range ingest.Webhooks() {
		if src.Signature != nil {
			known[src.Signature.Secret] = true
		}
	}
	values := map[string]string{"webhook-token": c.WebhookToken}
	for name, v := range c.Secrets {
		if !known[name] {
			return fmt.Errorf("no webhook source signs with a secret named %q", name)
		}
		values[name] = v
	}
	for name, v := range values {
		if v != "" && strings.TrimSpace(v) != v {
			return fmt.Errorf("--%s starts or ends with white space; is that a copy-and-paste accident?", name)
		}
	}
	if c.WebhookToken != "" && len(c.WebhookToken) < 16 {
		return errors.New("--webhook-token is shorter than 16 characters; generate one with `openssl rand -hex 24`")
	}
	return nil
}

// parseByteSize reads a byte count: a plain integer, or one with a unit
// (B, KB, KiB, MB, MiB, GB, GiB; case-insensitive, 1 KB = 1000 bytes).
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	}
	lower := strings.ToLower(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			lower, mult = strings.TrimSpace(strings.TrimSuffix(lower, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(lower, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: want a positive number of bytes, e.g. 10485760 or 10MiB", s)
	}
	return n * mult, nil
}
