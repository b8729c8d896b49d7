package pebble

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// ErrInUse means the data directory is locked by another process: a
// server already running on it, or a command reading it.
var ErrInUse = errors.New("data directory in use")

// inUseError explains a lock the directory's LOCK file is held by.
type inUseError struct {
	dir string
	pid int
}

func (e *inUseError) Error() string {
	who := "another process (a running sregraph?)"
	if e.pid > 0 {
		who = fmt.Sprintf("another sregraph process (pid %d?)", e.pid)
	}
	return fmt.Sprintf("data dir %s is in use by %s", e.dir, who)
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// lockError turns Pebble's "resource temporarily unavailable", which is
// what locking the LOCK file of a directory another process holds gives,
// into an error that says so and names the holder when the system tells
// (Linux lists POSIX locks with their owner in /proc/locks). Other errors
// are returned as they are.
func lockError(dir string, err error) error {
	if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
		return err
	}
	return &inUseError{dir: dir, pid: lockHolder(filepath.Join(dir, "LOCK"))}
}
