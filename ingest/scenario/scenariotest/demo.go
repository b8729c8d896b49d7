// Package scenariotest is what tests in every package share about the
// bundled demo scenario: where it is and the instants tests anchor it at,
// so every test reads the same demo the same way.
package scenariotest

import (
	"path/filepath"
	"runtime"
	"time"
)

// Breach is the instant tests put the demo's breach at.
func Breach() time.Time { return time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC) }

// Now is the clock tests run the demo at: 20 minutes after the breach,
// while it is still open.
func Now() time.Time { return Breach().Add(20 * time.Minute) }

// Dir is the demo scenario's directory (testdata/demo), found from this
// file so that a test in any package can use it.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "demo")
}
