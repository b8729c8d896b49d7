package pebble

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestLockError(t *testing.T) {
	err := lockError("/var/lib/sregraph", errors.Join(errors.New("pebble: lock /var/lib/sregraph/LOCK"), syscall.EAGAIN))
	if !errors.Is(err, ErrInUse) || !strings.HasPrefix(err.Error(), "data dir /var/lib/sregraph is in use by another") {
		t.Errorf("a held lock: %v", err)
	}
	other := errors.New("pebble: corrupt manifest")
	if got := lockError("/var/lib/sregraph", other); got != other {
		t.Errorf("another error became %v", got)
	}
	if got := (&inUseError{dir: "d", pid: 4242}).Error(); got != "data dir d is in use by another sregraph process (pid 4242?)" {
		t.Errorf("with the holder's pid: %q", got)
	}
}
