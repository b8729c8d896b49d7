package otlp

import (
	"strconv"
	"unicode/utf8"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sregraph/sregraph/graph"
)

// Field numbers of the OTLP trace protobuf messages that the wire reader
// uses (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto).
const (
	fieldResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	fieldResource   = 1 // ResourceSpans.resource
	fieldScopeSpans = 2 // ResourceSpans.scope_spans
	fieldAttributes = 1 // Resource.attributes
	fieldSpans      = 2 // ScopeSpans.spans

	fieldTraceID      = 1
	fieldSpanID       = 2
	fieldParentSpanID = 4
	fieldKind         = 6
	fieldStart        = 7
	fieldEnd          = 8
	fieldSpanAttrs    = 9
	fieldStatus       = 15
	fieldStatusCode   = 3

	fieldKey         = 1 // KeyValue.key
	fieldValue       = 2 // KeyValue.value
	fieldStringValue = 1 // AnyValue.string_value
	fieldIntValue    = 3 // AnyValue.int_value
	fieldAnyValueMax = 7 // AnyValue's oneof fields are 1..7
)

// addWire is add for a protobuf ExportTraceServiceRequest read straight
// from the wire: the same spans, counted the same way, without building
// the message tree. It reads only the fields pairing needs and checks the
// wire structure of everything; strings it does not read are not checked
// for UTF-8, so it accepts a few bodies that the generated decoder
// rejects. Errors are of kind graph.ErrInvalid, and on error nothing has
// been counted.
func (a *Aggregator) addWire(body []byte, p *pass) (Accepted, error) {
	if err := checkWire(body, levelRequest); err != nil {
		return Accepted{}, err
	}
	return a.readWire(body, p), nil
}

// readWire is addWire for a body that checkWire has accepted.
func (a *Aggregator) readWire(body []byte, p *pass) Accepted {
	var res Accepted
	var v spanView
	eachField(body, func(num protowire.Number, typ protowire.Type, rs []byte) {
		if num != fieldResourceSpans || typ != protowire.BytesType {
			return
		}
		var ra resourceAttrs
		eachField(rs, func(num protowire.Number, typ protowire.Type, res []byte) {
			if num != fieldResource || typ != protowire.BytesType {
				return
			}
			eachField(res, func(num protowire.Number, typ protowire.Type, kv []byte) {
				if num == fieldAttributes && typ == protowire.BytesType {
					k, val := keyValue(kv, nil)
					switch string(k) {
					case "service.name", "service.version", "deployment.environment.name", "deployment.environment":
						ra.set(string(k), string(val))
					}
				}
			})
		})
		run := a.beginResource(&ra)
		eachField(rs, func(num protowire.Number, typ protowire.Type, ss []byte) {
			if num != fieldScopeSpans || typ != protowire.BytesType {
				return
			}
			eachField(ss, func(num protowire.Number, typ protowire.Type, sp []byte) {
				if num != fieldSpans || typ != protowire.BytesType {
					return
				}
				v = spanView{}
				readSpan(sp, &v, &a.attrs, &a.strings)
				a.spanIn(p, &run, &v, &res)
			})
		})
		a.endResource(p, &run)
	})
	return res
}

// readSpan fills v from a Span message. Repeated occurrences of a
// singular field follow protobuf's rules: the last scalar wins, messages
// merge.
func readSpan(sp []byte, v *spanView, t *attrTable, in *interner) {
	eachField(sp, func(num protowire.Number, typ protowire.Type, b []byte) {
		switch {
		case num == fieldTraceID && typ == protowire.BytesType:
			v.trace = b
		case num == fieldSpanID && typ == protowire.BytesType:
			v.id = b
		case num == fieldParentSpanID && typ == protowire.BytesType:
			v.parent = b
		case num == fieldKind && typ == protowire.VarintType:
			n, _ := protowire.ConsumeVarint(b)
			v.kind = tracepb.Span_SpanKind(int32(n))
		case num == fieldStart && typ == protowire.Fixed64Type:
			v.start, _ = protowire.ConsumeFixed64(b)
		case num == fieldEnd && typ == protowire.Fixed64Type:
			v.end, _ = protowire.ConsumeFixed64(b)
		case num == fieldSpanAttrs && typ == protowire.BytesType:
			var num [20]byte
			k, val := keyValue(b, num[:0])
			t.setBytes(&v.attrs, k, val, in)
		case num == fieldStatus && typ == protowire.BytesType:
			eachField(b, func(num protowire.Number, typ protowire.Type, c []byte) {
				if num == fieldStatusCode && typ == protowire.VarintType {
					n, _ := protowire.ConsumeVarint(c)
					v.failed = tracepb.Status_StatusCode(int32(n)) == tracepb.Status_STATUS_CODE_ERROR
				}
			})
		}
	})
}

// keyValue reads a KeyValue: its key and, when the value is a string, the
// string, or when it is an integer, the integer in decimal appended to
// buf (nil otherwise). AnyValue is a oneof, so the last of its fields
// set decides. The key and a string value alias kv.
func keyValue(kv, buf []byte) (key, value []byte) {
	for len(kv) > 0 {
		num, typ, b, rest := nextField(kv)
		kv = rest
		switch {
		case num == fieldKey && typ == protowire.BytesType:
			key = b
		case num == fieldValue && typ == protowire.BytesType:
			for len(b) > 0 {
				var n protowire.Number
				var t protowire.Type
				var c []byte
				n, t, c, b = nextField(b)
				switch {
				case n == fieldStringValue && t == protowire.BytesType:
					value = c
				case n == fieldIntValue && t == protowire.VarintType:
					// Ports are integers; read as their decimal string,
					// as anyString reads them.
					i, _ := protowire.ConsumeVarint(c)
					value = strconv.AppendInt(buf, int64(i), 10)
				case n >= 1 && n <= fieldAnyValueMax && t == anyValueType(n):
					value = nil
				}
			}
		}
	}
	return key, value
}

// nextField splits the first field off a message that checkWire has
// accepted: for bytes fields the payload, for the others the encoded
// value. A malformed tail ends the message.
func nextField(b []byte) (protowire.Number, protowire.Type, []byte, []byte) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil
	}
	b = b[n:]
	m := protowire.ConsumeFieldValue(num, typ, b)
	if m < 0 {
		return 0, 0, nil, nil
	}
	value := b[:m]
	if typ == protowire.BytesType {
		value, _ = protowire.ConsumeBytes(b)
	}
	return num, typ, value, b[m:]
}

// anyValueType is the wire type of AnyValue's oneof field num.
func anyValueType(num protowire.Number) protowire.Type {
	switch num {
	case 2, 3: // bool_value, int_value
		return protowire.VarintType
	case 4: // double_value
		return protowire.Fixed64Type
	}
	return protowire.BytesType
}

// eachField calls fn with every field of a message that checkWire has
// accepted: for bytes fields the payload, for the others the encoded value.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, value []byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return
		}
		value := b[:m]
		if typ == protowire.BytesType {
			value, _ = protowire.ConsumeBytes(b)
		}
		fn(num, typ, value)
		b = b[m:]
	}
}

// The nesting of the messages the wire reader descends into, checked by
// checkWire: request → ResourceSpans → Resource / ScopeSpans → Span →
// KeyValue / Status → AnyValue.
const (
	levelRequest = iota
	levelResourceSpans
	levelResource
	levelScopeSpans
	levelSpan
	levelKeyValue
	levelStatus
	levelAnyValue
)

// checkWire checks that b is well-formed protobuf at every level the
// reader descends into, and that the strings it reads (attribute keys and
// string values) are UTF-8, before anything is counted.
func checkWire(b []byte, level int) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return graph.Invalidf("OTLP protobuf: %v", protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return graph.Invalidf("OTLP protobuf: %v", protowire.ParseError(m))
		}
		if typ == protowire.BytesType {
			payload, _ := protowire.ConsumeBytes(b)
			if next, ok := childLevel(level, num); ok {
				if err := checkWire(payload, next); err != nil {
					return err
				}
			} else if isReadString(level, num) && !utf8.Valid(payload) {
				return graph.Invalidf("OTLP protobuf: string field contains invalid UTF-8")
			}
		}
		b = b[m:]
	}
	return nil
}

// childLevel says which message field num of a message at level holds.
func childLevel(level int, num protowire.Number) (int, bool) {
	switch {
	case level == levelRequest && num == fieldResourceSpans:
		return levelResourceSpans, true
	case level == levelResourceSpans && num == fieldResource:
		return levelResource, true
	case level == levelResourceSpans && num == fieldScopeSpans:
		return levelScopeSpans, true
	case level == levelResource && num == fieldAttributes:
		return levelKeyValue, true
	case level == levelScopeSpans && num == fieldSpans:
		return levelSpan, true
	case level == levelSpan && num == fieldSpanAttrs:
		return levelKeyValue, true
	case level == levelSpan && num == fieldStatus:
		return levelStatus, true
	case level == levelKeyValue && num == fieldValue:
		return levelAnyValue, true
	}
	return 0, false
}

func isReadString(level int, num protowire.Number) bool {
	return level == levelKeyValue && num == fieldKey || level == levelAnyValue && num == fieldStringValue
}
