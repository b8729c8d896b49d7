package image

import (
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// env is the variables a Dockerfile instruction sees: build arguments
// and ENV, later ones winning.
type env map[string]string

func (e env) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e env) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// dockerfileStages parses and lints the repository's Dockerfile with
// BuildKit's own parser; a lint warning fails the test.
func dockerfileStages(t *testing.T) []instructions.Stage {
	t.Helper()
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, _, msg string, loc []parser.Range) {
		t.Errorf("Dockerfile lint %s at %v: %s (%s)", rule, loc, msg, desc)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want build and the image", len(stages))
	}
	return stages
}

// expand substitutes variables in a command the way BuildKit does.
func expand(t *testing.T, cmd instructions.Command, vars env) {
	t.Helper()
	lex := shell.NewLex('\\')
	if c, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if err := c.Expand(func(word string) (string, error) {
			w, _, err := lex.ProcessWord(word, vars)
			return w, err
		}); err != nil {
			t.Fatalf("%s: %v", cmd.Name(), err)
		}
	}
}

// words splits a shell-form RUN line into its commands (at &&), each
// into words, with variables substituted.
func words(t *testing.T, line string, vars env) [][]string {
	t.Helper()
	lex := shell.NewLex('\\')
	var cmds [][]string
	for _, part := range strings.Split(line, "&&") {
		w, err := lex.ProcessWords(strings.TrimSpace(part), vars)
		if err != nil {
			t.Fatalf("RUN %s: %v", part, err)
		}
		cmds = append(cmds, w)
	}
	return cmds
}

// TestDockerfileConfig evaluates the Dockerfile's final stage into an
// image config and compares it with the one sregraph-image writes:
// entrypoint, user, ports, volume, environment, labels.
func TestDockerfileConfig(t *testing.T) {
	s := testSpec(t)
	stages := dockerfileStages(t)
	final := stages[1]
	if final.BaseName != "scratch" {
		t.Errorf("the image stage starts FROM %s, want scratch (no base image)", final.BaseName)
	}
	vars := env{}
	buildArgs := env{"VERSION": s.Version, "REVISION": s.Revision, "CREATED": s.Created.UTC().Format(time.RFC3339)}
	got := v1.Config{ExposedPorts: map[string]struct{}{}, Volumes: map[string]struct{}{}, Labels: map[string]string{}}
	var copies []*instructions.CopyCommand
	for _, cmd := range final.Commands {
		expand(t, cmd, vars)
		switch c := cmd.(type) {
		case *instructions.ArgCommand:
			for _, a := range c.Args {
				if v, ok := buildArgs[a.Key]; ok {
					vars[a.Key] = v
				} else if a.Value != nil {
					vars[a.Key] = *a.Value
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				vars[kv.Key] = kv.Value
				got.Env = slices.DeleteFunc(got.Env, func(e string) bool { return strings.HasPrefix(e, kv.Key+"=") })
				got.Env = append(got.Env, kv.Key+"="+kv.Value)
			}
		case *instructions.UserCommand:
			got.User = c.User
		case *instructions.WorkdirCommand:
			got.WorkingDir = c.Path
		case *instructions.ExposeCommand:
			for _, p := range c.Ports {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				got.ExposedPorts[p] = struct{}{}
			}
		case *instructions.VolumeCommand:
			for _, v := range c.Volumes {
				got.Volumes[v] = struct{}{}
			}
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				got.Labels[kv.Key] = kv.Value
			}
		case *instructions.StopSignalCommand:
			got.StopSignal = c.Signal
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Errorf("ENTRYPOINT in shell form: the image has no shell")
			}
			got.Entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			got.Cmd = c.CmdLine
		case *instructions.CopyCommand:
			copies = append(copies, c)
		default:
			t.Errorf("the image stage has a %s the comparison does not know", cmd.Name())
		}
	}
	if want := Config(s); !reflect.DeepEqual(got, want) {
		t.Errorf("the Dockerfile's image config differs from sregraph-image's:\n got %+v\nwant %+v", got, want)
	}
	if len(copies) != 1 || copies[0].From != "build" || !slices.Equal(copies[0].SourcePaths, []string{"/rootfs/"}) || copies[0].DestPath != "/" || copies[0].Chown != "" {
		t.Errorf("the image stage should copy the build stage's /rootfs/ as it is (owners kept), once; it copies %+v", copies)
	}
}

// TestDockerfileFilesystem reads the build stage's commands that lay out
// /rootfs and compares the files, modes and owners with the image
// sregraph-image builds, and the go build line with GoBuildArgs.
func TestDockerfileFilesystem(t *testing.T) {
	s := testSpec(t)
	build := dockerfileStages(t)[0]
	if !strings.HasPrefix(build.BaseName, "golang:1.26-") {
		t.Errorf("build stage FROM %s, want the Go 1.26 image (Debian, with ca-certificates)", build.BaseName)
	}
	vars := env{}
	type node struct {
		mode  int64
		owner string
		dir   bool
		from  string
	}
	got := map[string]node{}
	sawBuild := false
	for _, cmd := range build.Commands {
		expand(t, cmd, vars)
		switch c := cmd.(type) {
		case *instructions.ArgCommand:
			for _, a := range c.Args {
				if a.Key == "VERSION" {
					vars["VERSION"] = s.Version
				}
			}
		case *instructions.RunCommand:
			for _, w := range words(t, strings.Join(c.CmdLine, " "), vars) {
				switch {
				case len(w) > 2 && w[0] == "CGO_ENABLED=0" && w[1] == "go":
					sawBuild = true
					want := GoBuildArgs(s.Version, "/rootfs"+BinaryPath)
					if !slices.Equal(w[2:], want) {
						t.Errorf("Dockerfile builds with go %q, sregraph-image with go %q", w[2:], want)
					}
					got[BinaryPath] = node{mode: 0o755, owner: "0:0"}
				case len(w) > 0 && w[0] == "install":
					n := node{owner: "0:0"}
					uid, gid := "0", "0"
					var operands []string
					for i := 1; i < len(w); i++ {
						switch w[i] {
						case "-d":
							n.dir = true
						case "-D":
						case "-m":
							i++
							m, err := strconv.ParseInt(w[i], 8, 64)
							if err != nil {
								t.Fatal(err)
							}
							n.mode = m
						case "-o":
							i++
							uid = w[i]
						case "-g":
							i++
							gid = w[i]
						default:
							operands = append(operands, w[i])
						}
					}
					n.owner = uid + ":" + gid
					dest := operands[len(operands)-1]
					if !n.dir {
						n.from = operands[0]
					}
					got[strings.TrimPrefix(dest, "/rootfs")] = n
				}
			}
		}
	}
	if !sawBuild {
		t.Error("no CGO_ENABLED=0 go build in the build stage")
	}

	files, err := baseFiles(s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]node{BinaryPath: {mode: 0o755, owner: "0:0"}}
	sources := map[string]string{
		"/etc/passwd":      "deploy/image/rootfs/etc/passwd",
		"/etc/group":       "deploy/image/rootfs/etc/group",
		CACertificatesPath: "/etc/ssl/certs/ca-certificates.crt",
	}
	for _, f := range files {
		want[f.path] = node{mode: f.mode, owner: strconv.Itoa(f.uid) + ":" + strconv.Itoa(f.gid), dir: f.dir, from: sources[f.path]}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the Dockerfile's /rootfs differs from sregraph-image's:\n got %+v\nwant %+v", got, want)
	}
}
