package pebble

import (
	"encoding/binary"
	"time"
)

// Key layout. Every key starts with one byte naming its table; service
// names end with a NUL, which no service name contains; instants are
// big-endian nanoseconds since the Unix epoch so byte order is time order.
// Event index keys end with the event ID complemented byte by byte and a
// 0xFF terminator, so iterating an index backwards yields events in
// graph.EventLess order (newest first, then ID ascending).
//
//	e <id>                                    where the event is: its service and instant
//	s <service> 0 <at> <^id> ff               events of a service by time
//	k <kind> <at> <^id> ff                    events of a kind by time
//	v <service>                               service
//	d <from> 0 <to>                           declared dependency (mirrored in memory)
//	o <from> 0 <hour> <to> 0 <producer>       call counts of one hour, by caller
//	i <to> 0 <hour> <from> 0 <producer>       the same, by callee
//	l <from> 0 <hour> <to> 0 <producer>       the same buckets whole, with latencies
//	m <name>                                  the store's own metadata
//	f <from> 0 <to>                           first and last bucket start of an edge (mirrored in memory)
//
// Edge sighting values are two big-endian nanosecond instants, the starts
// of the earliest and latest call buckets ever written for the edge;
// retention leaves them, so the first seen is the first ever seen.
//
// Table e values are refFormat, the service and the instant, naming the
// event's per-service index entry; stores written before references hold
// the encoded event there, and both read.
//
// Event index values are the event's meta (its kind, whether it has an
// end, and the end, so filters and retention need not load the event)
// and, in the per-service index, the encoded event, so listing a
// service's events needs no point reads.
const (
	tableEvent      = 'e'
	tableByService  = 's'
	tableByKind     = 'k'
	tableService    = 'v'
	tableDepFrom    = 'd'
	tableCallsOut   = 'o'
	tableCallsIn    = 'i'
	tableSeenOut    = 'f'
	tableLatency    = 'l'
	tableMeta       = 'm'
	nameTerminator  = 0x00
	idTerminator    = 0xFF
	chunkWidth      = time.Hour
	minutesPerChunk = int(chunkWidth / time.Minute)
)

// nanos returns t as an unsigned count of nanoseconds since the epoch,
// clamped to zero for earlier instants.
func nanos(t time.Time) uint64 {
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

func fromNanos(n uint64) time.Time { return time.Unix(0, int64(n)).UTC() }

func appendTime(b []byte, t time.Time) []byte { return binary.BigEndian.AppendUint64(b, nanos(t)) }

func appendName(b []byte, name string) []byte {
	b = append(b, name...)
	return append(b, nameTerminator)
}

// appendID appends the complemented ID and its terminator.
func appendID(b []byte, id string) []byte {
	for i := 0; i < len(id); i++ {
		b = append(b, ^id[i])
	}
	return append(b, idTerminator)
}

// decodeTimeID reads the <at> <^id> ff suffix that starts at b.
func decodeTimeID(b []byte) (uint64, string, bool) {
	if len(b) < 9 || b[len(b)-1] != idTerminator {
		return 0, "", false
	}
	at := binary.BigEndian.Uint64(b)
	raw := b[8 : len(b)-1]
	id := make([]byte, len(raw))
	for i, c := range raw {
		id[i] = ^c
	}
	return at, string(id), true
}

func eventKey(id string) []byte {
	return append([]byte{tableEvent}, id...)
}

func serviceEventsPrefix(service string) []byte {
	return appendName([]byte{tableByService}, service)
}

func kindPrefix(kind byte) []byte { return []byte{tableByKind, kind} }

// indexKey is prefix <at> <^id> ff.
func indexKey(prefix []byte, at time.Time, id string) []byte {
	b := make([]byte, 0, len(prefix)+8+len(id)+1)
	b = append(b, prefix...)
	b = appendTime(b, at)
	return appendID(b, id)
}

func serviceKey(name string) []byte { return append([]byte{tableService}, name...) }

func depKey(table byte, a, b string) []byte {
	k := appendName([]byte{table}, a)
	return append(k, b...)
}

// chunkKey is table <a> 0 <hour> <b> 0 <producer>.
func chunkKey(table byte, a string, hour time.Time, b, producer string) []byte {
	k := make([]byte, 0, 1+len(a)+1+8+len(b)+1+len(producer))
	k = append(k, table)
	k = appendName(k, a)
	k = appendTime(k, hour)
	k = appendName(k, b)
	return append(k, producer...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
