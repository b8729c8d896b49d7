package main

import (
	"runtime/debug"
	"strings"
)

// stamped is the release version a packager sets at link time
// (-ldflags "-X main.stamped=v1.2.0", as the container image build does);
// when set it stands for the module version, which `go build` from a
// checkout records only as "(devel)".
var stamped string

// buildVersion says which sregraph this is, from what the Go toolchain
// recorded in the binary: the module version (v1.2.0 from `go install
// …@v1.2.0`, "(devel)" from a checkout), the VCS revision and the time of
// that commit (a "+dirty" revision had uncommitted changes), and the Go
// version it was built with.
func buildVersion(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "sregraph (no build information)"
	}
	v := info.Main.Version
	if stamped != "" {
		v = stamped
	}
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	parts := []string{"sregraph " + v}
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += "+dirty"
		}
		parts = append(parts, "revision "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, "committed "+t)
	}
	goVersion := info.GoVersion
	if os, arch := settings["GOOS"], settings["GOARCH"]; os != "" && arch != "" {
		goVersion += " " + os + "/" + arch
	}
	parts = append(parts, "built with "+goVersion)
	return strings.Join(parts, ", ")
}

// versionLine is buildVersion of this binary.
func versionLine() string {
	info, ok := debug.ReadBuildInfo()
	return buildVersion(info, ok)
}

// shortVersion is the module version alone, for log lines.
func shortVersion() string {
	info, ok := debug.ReadBuildInfo()
	switch {
	case stamped != "":
		return stamped
	case !ok || info.Main.Version == "":
		return "(devel)"
	}
	return info.Main.Version
}
