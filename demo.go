// Package sregraph holds what the sregraph binary carries inside it, so
// that it runs from any directory: the bundled demo scenario
// (testdata/demo/scenario.json, described in testdata/demo/README.md).
package sregraph

import (
	"bytes"
	_ "embed"
)

//go:embed testdata/demo/scenario.json
var demoScenario []byte

// DemoScenario returns the demo scenario document, the one
// `sregraph serve --demo` loads; ingest/scenario decodes it.
func DemoScenario() []byte { return bytes.Clone(demoScenario) }
