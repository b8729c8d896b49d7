// Package smalldisk mounts a small real file system (a tmpfs) for tests
// that fill a disk: the store's and the server's disk-full tests share
// it. Mounting needs root, or sudo without a password. Without either the
// tests skip, unless SREGRAPH_REQUIRE_TMPFS=1 (as in CI, which runs as
// root) makes that a failure.
package smalldisk

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Mount mounts a tmpfs of size (as mount takes it: "8m") on a fresh
// directory, unmounts it when the test ends, and returns the directory.
func Mount(tb testing.TB, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if out, err := run("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir); err != nil {
		msg := fmt.Sprintf("cannot mount a %s tmpfs (needs root or passwordless sudo): %v: %s", size, err, out)
		if os.Getenv("SREGRAPH_REQUIRE_TMPFS") == "1" {
			tb.Fatal(msg + " (SREGRAPH_REQUIRE_TMPFS=1 requires it)")
		}
		tb.Skip(msg)
	}
	tb.Cleanup(func() {
		// Lazily: a store stopped by a fatal error keeps its files open.
		if out, err := run("umount", "-l", dir); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// run runs a command as root: directly when the test is root, else
// through sudo without a password prompt.
func run(name string, args ...string) ([]byte, error) {
	if os.Geteuid() != 0 {
		args, name = append([]string{"-n", name}, args...), "sudo"
	}
	return exec.Command(name, args...).CombinedOutput()
}
