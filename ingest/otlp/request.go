package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
)

// Content types of OTLP/HTTP bodies and of Kafka messages that carry a
// content-type header.
const (
	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"
)

// DecodeRequest decodes an OTLP ExportTraceServiceRequest, protobuf or
// JSON by contentType (parameters such as charset are ignored). JSON
// follows the OTLP JSON encoding: trace and span ids are hex strings
// (base64, as plain protobuf JSON would have them, is accepted too, told
// apart by length), enums are integers or names, 64-bit integers are strings
// or numbers, and unknown fields are ignored. Errors are of kind
// graph.ErrInvalid.
func DecodeRequest(body []byte, contentType string) (*coltracepb.ExportTraceServiceRequest, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && contentType != "" {
		return nil, graph.Invalidf("content type %q: %v", contentType, err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	switch mt {
	case ContentTypeProtobuf, "application/protobuf":
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, graph.Invalidf("OTLP protobuf: %v", err)
		}
	case ContentTypeJSON:
		if err := decodeJSON(body, req); err != nil {
			return nil, err
		}
	default:
		return nil, graph.Invalidf("content type %q is not OTLP: send %s or %s", contentType, ContentTypeProtobuf, ContentTypeJSON)
	}
	return req, nil
}

// decodeJSON rewrites the hex ids that OTLP JSON uses into the base64 that
// protojson expects for bytes fields, then decodes with protojson.
func decodeJSON(body []byte, req *coltracepb.ExportTraceServiceRequest) error {
	rewritten, err := hexIDsToBase64(body)
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(rewritten, req); err != nil {
		return graph.Invalidf("OTLP JSON: %v", err)
	}
	return nil
}

// idBytes says how many bytes the id named by a JSON key has: 16 for a
// trace id, 8 for a span id, 0 for other keys. In an OTLP trace request
// only spans and links have these keys.
func idBytes(key []byte) int {
	switch string(key) {
	case "traceId", "trace_id":
		return 16
	case "spanId", "span_id", "parentSpanId", "parent_span_id":
		return 8
	}
	return 0
}

// hexIDsToBase64 copies a JSON document, replacing every string value of
// an id key (idBytes) that is the hex form of an id of the right length by
// its base64 form. It scans the document once, tracking strings, and
// leaves everything else, including malformed JSON, for protojson to judge.
func hexIDsToBase64(body []byte) ([]byte, error) {
	out := make([]byte, 0, len(body)+len(body)/16)
	i := 0
	for i < len(body) {
		if body[i] != '"' {
			out = append(out, body[i])
			i++
			continue
		}
		end := stringEnd(body, i)
		if end < 0 {
			return append(out, body[i:]...), nil
		}
		key := body[i+1 : end]
		out = append(out, body[i:end+1]...)
		i = end + 1
		n := idBytes(key)
		if n == 0 {
			continue
		}
		// A key is followed by ':' and its value.
		j := skipSpace(body, i)
		if j >= len(body) || body[j] != ':' {
			continue
		}
		j = skipSpace(body, j+1)
		if j >= len(body) || body[j] != '"' {
			continue
		}
		vend := stringEnd(body, j)
		if vend < 0 {
			continue
		}
		val := body[j+1 : vend]
		if len(val) != 2*n {
			continue
		}
		raw := make([]byte, n)
		if _, err := hex.Decode(raw, val); err != nil {
			if bytes.IndexFunc(val, func(r rune) bool { return !isBase64Rune(r) }) >= 0 {
				return nil, graph.Invalidf("OTLP JSON: %s %q is not a hex id", key, val)
			}
			continue // base64 of another length, or a typo protojson reports
		}
		out = append(out, body[i:j]...)
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, raw)
		out = append(out, '"')
		i = vend + 1
	}
	return out, nil
}

// stringEnd returns the index of the quote that closes the JSON string
// opening at body[start], or -1.
func stringEnd(body []byte, start int) int {
	for j := start + 1; j < len(body); j++ {
		switch body[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

func skipSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
}

func isBase64Rune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=-_", r)
}

// SpanCount counts the spans in req.
func SpanCount(req *coltracepb.ExportTraceServiceRequest) int {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n
}

// sniffContentType guesses the encoding of a Kafka message: a content-type
// header wins; otherwise a value whose first non-space byte is '{' is OTLP
// JSON (a protobuf ExportTraceServiceRequest starts with field 1's tag,
// 0x0a) and anything else protobuf.
func sniffContentType(value []byte, headers map[string]string) string {
	for k, v := range headers {
		if strings.EqualFold(k, "content-type") && v != "" {
			return v
		}
	}
	if t := bytes.TrimLeft(value, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return ContentTypeJSON
	}
	return ContentTypeProtobuf
}

func hexID(b []byte) string { return fmt.Sprintf("%x", b) }
