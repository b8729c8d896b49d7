package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
)

// walStopFormat is the format of the notice Pebble logs (at info level,
// through Logger.Infof) at the end of replaying one write-ahead log on
// open. Pebble ends a replay at the first record it cannot read and says
// nothing more, whether that was the clean end of the log or damage with
// good records after it, which are then dropped.
const walStopFormat = "[JOB %d] WAL file %s with log number %s stopped reading at offset: %d; replayed %d keys in %d batches"

// walBlockSize is the write-ahead log's block size: after damage, a
// reader can resynchronise at the next block.
const walBlockSize = 32 << 10

// walTail is what a write-ahead log holds after the point where its
// replay stopped.
type walTail struct {
	// damaged is whether the replay stopped at an unreadable record
	// rather than at the log's clean end.
	damaged bool
	// bytes is the size of the file after the stopping point.
	bytes int64
	// batches and keys count the intact records after the damage, which
	// the replay dropped.
	batches, keys int64
}

// inspectWAL reads the log named file (of log number logNum) the way
// Pebble's replay does, and reports whether it stopped at damage and
// which intact records lie after it.
func inspectWAL(file string, logNum uint64) (walTail, error) {
	var t walTail
	f, err := os.Open(file)
	if err != nil {
		return t, fmt.Errorf("inspect write-ahead log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return t, fmt.Errorf("inspect write-ahead log: %w", err)
	}
	size := fi.Size()
	rr := record.NewReader(f, pebble.FileNum(logNum))
	stop := int64(0)
	for {
		stop = rr.Offset()
		r, err := rr.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			if !record.IsInvalidRecord(err) {
				return t, fmt.Errorf("inspect write-ahead log %s: %w", file, err)
			}
			break
		}
	}
	t.damaged, t.bytes = true, size-stop
	// Resynchronise at each block after the damage and count the records
	// that still read; a record of an earlier use of a recycled file
	// reads as the end.
	for b := (stop/walBlockSize + 1) * walBlockSize; b < size; {
		sr := record.NewReader(io.NewSectionReader(f, b, size-b), pebble.FileNum(logNum))
		for {
			r, err := sr.Next()
			var buf []byte
			if err == nil {
				buf, err = io.ReadAll(r)
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					return t, nil
				}
				break
			}
			t.batches++
			if len(buf) >= 12 {
				t.keys += int64(binary.LittleEndian.Uint32(buf[8:12]))
			}
		}
		next := b + (sr.Offset()/walBlockSize+1)*walBlockSize
		if next <= b {
			next = b + walBlockSize
		}
		b = next
	}
	return t, nil
}

// walReplayed logs Pebble's end-of-replay notice: at warn level, with
// what was dropped, when the replay stopped at damage; at debug level
// otherwise.
func (l logger) walReplayed(msg string, args []any) {
	file, _ := args[1].(string)
	num, err := strconv.ParseUint(fmt.Sprint(args[2]), 10, 64)
	if file == "" || err != nil {
		l.l.Debug(msg, "component", "pebble")
		return
	}
	t, err := inspectWAL(file, num)
	if err != nil {
		l.l.Warn("embedded store: could not check the write-ahead log replayed on open", "notice", msg, "err", err, "component", "pebble")
		return
	}
	if !t.damaged {
		l.l.Debug(msg, "component", "pebble")
		return
	}
	l.l.Warn("embedded store: write-ahead log replay stopped at a damaged record; what followed it was dropped",
		"file", file, "offset", args[3], "bytes_dropped", t.bytes,
		"intact_batches_dropped", t.batches, "intact_keys_dropped", t.keys,
		"notice", msg, "component", "pebble")
}
