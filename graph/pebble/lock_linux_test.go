package pebble

import (
	"bufio"
	"strings"
	"testing"
)

func TestHolderOfProcLocks(t *testing.T) {
	locks := `1: FLOCK  ADVISORY  WRITE 100 08:01:5555 0 EOF
2: POSIX  ADVISORY  WRITE 4242 00:2f:1234567 0 EOF
3: OFDLCK ADVISORY  READ  -1 00:2f:1234567 0 EOF
4: POSIX  ADVISORY  WRITE 77 00:2f:12345678 0 EOF
`
	for inode, want := range map[uint64]int{1234567: 4242, 12345678: 77, 5555: 0, 1: 0} {
		if got := holderOf(bufio.NewScanner(strings.NewReader(locks)), inode); got != want {
			t.Errorf("holderOf(inode %d) = %d, want %d", inode, got, want)
		}
	}
}
