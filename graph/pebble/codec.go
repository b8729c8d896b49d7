package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// Values are encoded with a leading format version so the layout can
// change without a rewrite of old data.
const formatVersion = 1

// refFormat starts a table e value that refers to the event's
// per-service index entry instead of holding the event.
const refFormat = 0x80

var errCorrupt = errors.New("corrupt value")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// encodeEvent encodes e; attributes in the form appendAttrs describes.
func encodeEvent(e *graph.Event) ([]byte, error) {
	attrs, err := appendAttrs(make([]byte, 0, 32*len(e.Attributes)), e.Attributes)
	if err != nil {
		return nil, fmt.Errorf("encode attributes of event %s: %w", e.ID, err)
	}
	b := make([]byte, 0, 64+len(e.ID)+len(e.Service)+len(e.Source)+len(e.ExternalID)+len(e.Summary)+len(e.URL)+len(attrs))
	b = append(b, formatVersion)
	b = appendString(b, e.ID)
	b = appendString(b, string(e.Kind))
	b = appendString(b, e.Service)
	b = appendString(b, e.Environment)
	b = binary.AppendVarint(b, e.At.UnixNano())
	if e.End != nil {
		b = append(b, 1)
		b = binary.AppendVarint(b, e.End.UnixNano())
	} else {
		b = append(b, 0)
	}
	b = appendString(b, e.Source)
	b = appendString(b, e.ExternalID)
	b = appendString(b, e.Summary)
	b = appendString(b, e.URL)
	b = appendString(b, string(attrs))
	return b, nil
}

func decodeEvent(b []byte) (graph.Event, error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != formatVersion {
		return graph.Event{}, fmt.Errorf("event format %d: %w", v, errCorrupt)
	}
	var e graph.Event
	e.ID = r.string()
	e.Kind = graph.Kind(r.string())
	e.Service = r.string()
	e.Environment = r.string()
	e.At = time.Unix(0, r.varint()).UTC()
	if r.byte() == 1 {
		end := time.Unix(0, r.varint()).UTC()
		e.End = &end
	}
	e.Source = r.string()
	e.ExternalID = r.string()
	e.Summary = r.string()
	e.URL = r.string()
	attrs := r.bytes()
	if r.err != nil {
		return graph.Event{}, r.err
	}
	var err error
	if e.Attributes, err = decodeAttrs(attrs); err != nil {
		return graph.Event{}, fmt.Errorf("attributes of event %s: %w", e.ID, err)
	}
	return e, nil
}

// kindByte numbers a kind by its place in graph.Kinds.
func kindByte(k graph.Kind) (byte, bool) {
	for i, known := range graph.Kinds {
		if k == known {
			return byte(i), true
		}
	}
	return 0, false
}

// meta is what an event index entry carries besides the time and ID.
type meta struct {
	kind   byte
	hasEnd bool
	end    uint64
}

func encodeMeta(e *graph.Event) []byte {
	k, _ := kindByte(e.Kind)
	if e.End == nil {
		return []byte{k, 0}
	}
	return binary.BigEndian.AppendUint64([]byte{k, 1}, nanos(*e.End))
}

// size is how many bytes the meta takes at the start of an index value.
func (m meta) size() int {
	if m.hasEnd {
		return 10
	}
	return 2
}

func decodeMeta(b []byte) (meta, bool) {
	if len(b) < 2 {
		return meta{}, false
	}
	m := meta{kind: b[0], hasEnd: b[1] == 1}
	if m.hasEnd {
		if len(b) < 10 {
			return meta{}, false
		}
		m.end = binary.BigEndian.Uint64(b[2:])
	}
	return m, true
}

func encodeService(s *graph.Service) []byte {
	b := []byte{formatVersion}
	b = appendString(b, s.Environment)
	b = appendString(b, s.Owner)
	b = binary.AppendVarint(b, s.FirstSeen.UnixNano())
	return binary.AppendVarint(b, s.LastSeen.UnixNano())
}

func decodeService(name string, b []byte) (graph.Service, error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != formatVersion {
		return graph.Service{}, fmt.Errorf("service format %d: %w", v, errCorrupt)
	}
	s := graph.Service{Name: name}
	s.Environment = r.string()
	s.Owner = r.string()
	s.FirstSeen = time.Unix(0, r.varint()).UTC()
	s.LastSeen = time.Unix(0, r.varint()).UTC()
	return s, r.err
}

// slot is one minute of one producer's counts on one edge.
type slot struct {
	minute        byte
	calls, errors int64
	latency       int64
	hist          [graph.LatencyBuckets]int64
}

// Chunk formats. The buckets of one (edge, hour, producer) are stored
// twice over. The full chunk (table l) is version 1, (minute, calls,
// errors, latency sum) tuples, or version 2, which follows each tuple with
// the latency histogram as a byte length and that many bytes of uvarint
// counts (trailing zero counts left out, so a bucket without a histogram
// costs one byte). The count chunks (tables o and i) are version 3,
// (minute, calls, errors) tuples only: a neighbourhood walk reads nothing
// else, and a fifth of the bytes means a fifth of the blocks.
const (
	chunkFormatV1 = 1
	chunkFormat   = 2
	countsFormat  = 3
	// latencyCountsFormat, written since the evidence model, follows each
	// count tuple with the minute's mean latency as a graph.LatencyCode
	// byte, so a walk reads latency with the counts. Count chunks written
	// before stay version 3 and read without latency.
	latencyCountsFormat = 4
)

// encodeChunk encodes the minutes of one hour, in minute order, as a full
// chunk.
func encodeChunk(slots []slot) []byte {
	b := make([]byte, 0, 1+len(slots)*12)
	b = append(b, chunkFormat)
	for i := range slots {
		s := &slots[i]
		b = append(b, s.minute)
		b = binary.AppendUvarint(b, uint64(s.calls))
		b = binary.AppendUvarint(b, uint64(s.errors))
		b = binary.AppendVarint(b, s.latency)
		n := len(s.hist)
		for n > 0 && s.hist[n-1] == 0 {
			n--
		}
		lenAt := len(b)
		b = append(b, 0)
		for _, v := range s.hist[:n] {
			b = binary.AppendUvarint(b, uint64(v))
		}
		// At most LatencyBuckets uvarints of at most 9 bytes (the counts
		// are not negative): under 128, so the byte is its own uvarint.
		b[lenAt] = byte(len(b) - lenAt - 1)
	}
	return b
}

// encodeCounts encodes the minutes of one hour, in minute order, as a
// count chunk with latencies.
func encodeCounts(slots []slot) []byte { return encodeCountsAs(latencyCountsFormat, slots) }

// encodeCountsAs encodes a count chunk of version v (3 or 4).
func encodeCountsAs(v byte, slots []slot) []byte {
	b := make([]byte, 0, 1+len(slots)*5)
	b = append(b, v)
	for i := range slots {
		b = append(b, slots[i].minute)
		b = binary.AppendUvarint(b, uint64(slots[i].calls))
		b = binary.AppendUvarint(b, uint64(slots[i].errors))
		if v == latencyCountsFormat {
			b = append(b, graph.LatencyCode(time.Duration(slots[i].latency), slots[i].calls))
		}
	}
	return b
}

// isCounts reports whether format v is a count chunk.
func isCounts(v byte) bool { return v == countsFormat || v == latencyCountsFormat }

// encodeAs encodes slots in format v (as read from a stored chunk).
func encodeAs(v byte, slots []slot) []byte {
	if isCounts(v) {
		return encodeCountsAs(v, slots)
	}
	return encodeChunk(slots)
}

// chunkVersion checks a chunk's format byte and returns it.
func chunkVersion(b []byte) (byte, error) {
	if len(b) == 0 || b[0] < chunkFormatV1 || b[0] > latencyCountsFormat {
		return 0, errCorrupt
	}
	return b[0], nil
}

// eachSlot calls fn for every slot in an encoded chunk.
func eachSlot(b []byte, fn func(*slot)) error {
	v, err := chunkVersion(b)
	if err != nil {
		return err
	}
	r := reader{b: b[1:]}
	for len(r.b) > 0 && r.err == nil {
		var s slot
		s.minute = r.byte()
		s.calls = int64(r.uvarint())
		s.errors = int64(r.uvarint())
		switch {
		case v == latencyCountsFormat:
			s.latency = int64(graph.LatencyOfCode(r.byte(), s.calls))
		case v != countsFormat:
			s.latency = r.varint()
		}
		if v == chunkFormat {
			// The histogram's length is one byte under 0x80 (encodeChunk
			// writes it so, and the walk's addChunk reads it so).
			if len(r.b) > 0 && r.b[0] >= 0x80 {
				r.err = errCorrupt
				break
			}
			h := reader{b: r.bytes()}
			for i := 0; len(h.b) > 0 && h.err == nil; i++ {
				if i == len(s.hist) {
					h.err = errCorrupt
					break
				}
				n := h.uvarint()
				if n > math.MaxInt64 {
					h.err = errCorrupt
				}
				s.hist[i] = int64(n)
			}
			if r.err == nil {
				r.err = h.err
			}
		}
		if r.err == nil {
			fn(&s)
		}
	}
	return r.err
}

func decodeChunk(b []byte) ([]slot, error) {
	var out []slot
	err := eachSlot(b, func(s *slot) { out = append(out, *s) })
	return out, err
}
