package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/sstable"
)

// Damage is one damaged part of a store, as Check found it.
type Damage struct {
	// File is the damaged file's path, or the directory when the damage
	// is not tied to one file.
	File string
	// Err says what is wrong.
	Err error
}

// CheckReport is what Check found.
type CheckReport struct {
	// Tables is how many table files were verified block by block.
	Tables int
	// Keys is how many keys were read through the database.
	Keys int64
	// Logs is how many write-ahead log files were read.
	Logs int
	// Damage lists every damaged part found; empty means the store is
	// sound.
	Damage []Damage
}

// Check verifies the store in dir without changing it. It opens the
// database read-only (replaying the write-ahead log in memory), verifies
// the checksum of every block of every live table file, reads every key
// through the database, and reads every write-ahead log, counting as
// damage a log whose replay would stop at a damaged record with intact
// records after it (a torn last record, unacknowledged, is not damage).
// The error is for failures to check at all (dir missing, cancelled);
// damage is in the report.
func Check(ctx context.Context, dir string, log *slog.Logger) (CheckReport, error) {
	var rep CheckReport
	if log == nil {
		log = slog.Default()
	}
	if fi, err := os.Stat(dir); err != nil {
		return rep, fmt.Errorf("check %s: %w", dir, err)
	} else if !fi.IsDir() {
		return rep, fmt.Errorf("check %s: not a directory", dir)
	}
	if err := checkLogs(dir, &rep); err != nil {
		return rep, err
	}
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: logger{l: log}})
	if err != nil {
		if pebble.IsCorruptionError(err) || errors.Is(err, errCorrupt) {
			rep.Damage = append(rep.Damage, Damage{File: dir, Err: fmt.Errorf("open: %w", err)})
			return rep, nil
		}
		return rep, fmt.Errorf("check %s: open read-only (if a server is running on it, stop it first): %w", dir, err)
	}
	err = errors.Join(checkTables(ctx, db, dir, &rep), checkKeys(ctx, db, dir, &rep))
	if cerr := db.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("check %s: close: %w", dir, cerr))
	}
	return rep, err
}

// checkLogs reads every write-ahead log in dir.
func checkLogs(dir string, rep *CheckReport) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	sort.Strings(logs)
	for _, p := range logs {
		num, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".log"), 10, 64)
		if err != nil {
			continue
		}
		rep.Logs++
		t, err := inspectWAL(p, num)
		if err != nil {
			rep.Damage = append(rep.Damage, Damage{File: p, Err: err})
			continue
		}
		if t.damaged && t.batches > 0 {
			rep.Damage = append(rep.Damage, Damage{File: p, Err: fmt.Errorf(
				"damaged record %d bytes before the end; %d intact batches (%d keys) after it would be dropped on replay",
				t.bytes, t.batches, t.keys)})
		}
	}
	return nil
}

// checkTables verifies every block checksum of every live table file.
func checkTables(ctx context.Context, db *pebble.DB, dir string, rep *CheckReport) error {
	levels, err := db.SSTables()
	if err != nil {
		return fmt.Errorf("check %s: list table files: %w", dir, err)
	}
	for _, level := range levels {
		for _, t := range level {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := filepath.Join(dir, t.BackingSSTNum.String()+".sst")
			rep.Tables++
			if err := checkTable(p); err != nil {
				rep.Damage = append(rep.Damage, Damage{File: p, Err: err})
			}
		}
	}
	return nil
}

// checkTable verifies every block checksum of the table file at p.
func checkTable(p string) (err error) {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		return errors.Join(err, f.Close())
	}
	r, err := sstable.NewReader(readable, sstable.ReaderOptions{})
	if err != nil {
		return errors.Join(err, readable.Close())
	}
	defer func() { err = errors.Join(err, r.Close()) }()
	return r.ValidateBlockChecksums()
}

// checkKeys reads every key and value through the database.
func checkKeys(ctx context.Context, db *pebble.DB, dir string, rep *CheckReport) (err error) {
	it, err := db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	for it.First(); it.Valid(); it.Next() {
		if _, verr := it.ValueAndErr(); verr != nil {
			rep.Damage = append(rep.Damage, Damage{File: dir, Err: fmt.Errorf("value of key %q: %w", it.Key(), verr)})
		}
		if rep.Keys++; rep.Keys%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return errors.Join(err, it.Close())
			}
		}
	}
	// Close returns the iterator's error again; report it once.
	rerr, cerr := it.Error(), it.Close()
	if rerr == nil {
		rerr = cerr
	}
	if rerr != nil {
		rep.Damage = append(rep.Damage, Damage{File: dir, Err: fmt.Errorf("reading every key stopped after %d: %w", rep.Keys, rerr)})
	}
	return nil
}
