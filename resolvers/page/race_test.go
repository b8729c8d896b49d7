//go:build race

package page

// raceEnabled says the race detector is on; it slows code several times,
// so timing checks do not apply.
const raceEnabled = true
