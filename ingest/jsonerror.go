package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// JSONError turns an encoding/json error into a sentence for whoever sent
// raw: it names the field and the JSON type it wants, or the byte offset
// (and line) of a syntax error. Every decoder of JSON says it this way,
// the scenario loader too.
func JSONError(err error, raw []byte) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	switch {
	case errors.As(err, &syn):
		line := 1 + bytes.Count(raw[:min(int(syn.Offset), len(raw))], []byte("\n"))
		return fmt.Sprintf("malformed JSON at byte %d (line %d): %s", syn.Offset, line, syn.Error())
	case errors.As(err, &typ) && typ.Type != nil:
		if typ.Field == "" {
			return fmt.Sprintf("must be %s, not JSON %s", jsonKind(typ.Type), typ.Value)
		}
		return fmt.Sprintf("field %q must be %s, not JSON %s", typ.Field, jsonKind(typ.Type), typ.Value)
	case errors.As(err, &tim):
		return fmt.Sprintf("time %q is not RFC 3339 (e.g. 2026-11-21T11:50:00Z)", tim.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names the JSON that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[time.Time]():
		return "an RFC 3339 time string"
	case reflect.TypeFor[json.RawMessage]():
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a JSON value"
}

// JSONTypeName names the JSON a Go type wants from the type's name alone
// (reflect.Type.String()), for callers that have nothing more; JSONError
// names types from the type itself.
func JSONTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.Contains(goType, "Time"):
		return "an RFC 3339 time string"
	case strings.HasPrefix(goType, "map") || strings.Contains(goType, "RawMessage"):
		return "a JSON object"
	}
	return goType
}
