package pebble

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"unicode/utf8"
)

// Event attributes are decoded JSON (graph.Event.Attributes). They are
// stored in a compact tagged form that encodes and decodes without
// reflection, a tenth of JSON's cost on the write path and the hot read
// path alike. Each value is a tag byte and its body:
//
//	'z'                          null
//	'f' / 't'                    false / true
//	'd' <8 bytes>                a number (float64 bits, big-endian)
//	's' <uvarint n> <n bytes>    a string
//	'a' <uvarint n> <n values>   an array
//	'm' <uvarint n> <n × (uvarint length, key bytes, value)>   an object, keys in order
//
// A stored attribute field is empty (no attributes), this form (always an
// object, so starting with 'm'), or JSON (starting with '{'): what earlier
// versions wrote, and what a value outside JSON's decoded types (a Go int,
// say), a string that is not UTF-8, or a number JSON cannot hold is still
// written as, so that reading gives exactly what a JSON round trip gives.

const (
	attrNull   = 'z'
	attrFalse  = 'f'
	attrTrue   = 't'
	attrNumber = 'd'
	attrString = 's'
	attrArray  = 'a'
	attrObject = 'm'
	// attrMaxDepth bounds nesting on both sides, as JSON decoders do.
	attrMaxDepth = 1000
)

// appendAttrs appends the stored form of attrs (nothing when empty).
func appendAttrs(b []byte, attrs map[string]any) ([]byte, error) {
	if len(attrs) == 0 {
		return b, nil
	}
	start := len(b)
	if out, ok := appendAttrValue(b, attrs, 0); ok {
		return out, nil
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return b, err
	}
	return append(b[:start], raw...), nil
}

// appendAttrValue appends v's tagged form; false means v holds something
// the tagged form does not represent exactly.
func appendAttrValue(b []byte, v any, depth int) ([]byte, bool) {
	if depth > attrMaxDepth {
		return b, false
	}
	switch v := v.(type) {
	case nil:
		return append(b, attrNull), true
	case bool:
		if v {
			return append(b, attrTrue), true
		}
		return append(b, attrFalse), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return b, false
		}
		return binary.BigEndian.AppendUint64(append(b, attrNumber), math.Float64bits(v)), true
	case string:
		if !utf8.ValidString(v) {
			return b, false
		}
		b = binary.AppendUvarint(append(b, attrString), uint64(len(v)))
		return append(b, v...), true
	case []any:
		b = binary.AppendUvarint(append(b, attrArray), uint64(len(v)))
		for _, x := range v {
			var ok bool
			if b, ok = appendAttrValue(b, x, depth+1); !ok {
				return b, false
			}
		}
		return b, true
	case map[string]any:
		b = binary.AppendUvarint(append(b, attrObject), uint64(len(v)))
		// Keys in order, so the same attributes are always the same bytes.
		var small [8]string
		keys := small[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !utf8.ValidString(k) {
				return b, false
			}
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			var ok bool
			if b, ok = appendAttrValue(b, v[k], depth+1); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}

// decodeAttrs reads a stored attribute field.
func decodeAttrs(b []byte) (map[string]any, error) {
	switch {
	case len(b) == 0:
		return nil, nil
	case b[0] == '{':
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		return m, nil
	}
	r := attrReader{b: b}
	v := r.value(0)
	m, ok := v.(map[string]any)
	if r.err != nil || !ok || len(r.b) != 0 {
		return nil, errCorrupt
	}
	return m, nil
}

type attrReader struct {
	b   []byte
	err error
}

func (r *attrReader) uvarint() int {
	n, k := binary.Uvarint(r.b)
	// No count or length can exceed the bytes left: each element takes
	// at least one.
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[k:]
	return int(n)
}

func (r *attrReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *attrReader) value(depth int) any {
	if r.err != nil {
		return nil
	}
	if len(r.b) == 0 || depth > attrMaxDepth {
		r.err = errCorrupt
		return nil
	}
	tag := r.b[0]
	r.b = r.b[1:]
	switch tag {
	case attrNull:
		return nil
	case attrFalse:
		return false
	case attrTrue:
		return true
	case attrNumber:
		if len(r.b) < 8 {
			r.err = errCorrupt
			return nil
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(r.b))
		r.b = r.b[8:]
		return f
	case attrString:
		return r.str()
	case attrArray:
		n := r.uvarint()
		out := make([]any, 0, n)
		for range n {
			if out = append(out, r.value(depth+1)); r.err != nil {
				return nil
			}
		}
		return out
	case attrObject:
		n := r.uvarint()
		out := make(map[string]any, n)
		for range n {
			k := r.str()
			if out[k] = r.value(depth + 1); r.err != nil {
				return nil
			}
		}
		return out
	}
	r.err = errCorrupt
	return nil
}
