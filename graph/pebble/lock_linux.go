package pebble

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder returns the pid /proc/locks names as holding a POSIX lock on
// the file at path (matched by inode), or 0.
func lockHolder(path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	return holderOf(bufio.NewScanner(f), st.Ino)
}

// holderOf reads lines of /proc/locks, such as
// "1: POSIX  ADVISORY  WRITE 4242 08:01:1234567 0 EOF", and returns the
// pid holding a POSIX lock on inode, or 0.
func holderOf(sc *bufio.Scanner, inode uint64) int {
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "POSIX" {
			continue
		}
		dev := strings.Split(f[5], ":")
		if len(dev) != 3 || dev[2] != strconv.FormatUint(inode, 10) {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil {
			return pid
		}
	}
	return 0
}
