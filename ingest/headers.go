package ingest

import (
	"net/http"
	"strings"
)

// Headers are the transport headers that came with a body: HTTP headers or
// Kafka record headers. Keys are lower-case; use NewHeaders or
// HeadersFromHTTP to build them.
type Headers map[string]string

// NewHeaders builds Headers from name/value pairs, lower-casing the names.
// When a name repeats, the first value wins.
func NewHeaders(kv map[string]string) Headers {
	h := make(Headers, len(kv))
	for k, v := range kv {
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := h[k]; !seen {
			h[k] = v
		}
	}
	return h
}

// HeadersFromHTTP turns HTTP request headers into Headers, keeping the
// first value of each.
func HeadersFromHTTP(hh http.Header) Headers {
	h := make(Headers, len(hh))
	for k, vs := range hh {
		if len(vs) > 0 {
			h[strings.ToLower(k)] = vs[0]
		}
	}
	return h
}

// Get returns the value of the named header; name is matched
// case-insensitively.
func (h Headers) Get(name string) string {
	return strings.TrimSpace(h[strings.ToLower(name)])
}

// ce returns the CloudEvents binary-mode attribute attr, which HTTP carries
// as "ce-<attr>" and Kafka as "ce_<attr>".
func (h Headers) ce(attr string) string {
	if v := h.Get("ce-" + attr); v != "" {
		return v
	}
	return h.Get("ce_" + attr)
}

// contentType returns the media type header, lower-cased.
func (h Headers) contentType() string { return strings.ToLower(h.Get("content-type")) }

// Header is one header as a Kafka record carries it: in order, and
// possibly repeated.
type Header struct {
	Key   string
	Value []byte
}
