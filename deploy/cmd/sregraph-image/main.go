// Command sregraph-image builds sregraph's container image with no Docker
// daemon and no base image: it compiles a static binary from the
// repository, adds the users, the build machine's CA certificates and a
// /data volume, and writes an OCI image layout, an OCI archive and a
// Docker archive.
//
// Usage (from deploy/):
//
//	go run ./cmd/sregraph-image [-repo ..] [-out ../.cache/image] [-version V] [-arch amd64]
//
// Then: podman load -i ../.cache/image/sregraph.oci.tar, or
// docker load -i ../.cache/image/sregraph.docker.tar.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/deploy/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sregraph-image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sregraph-image", flag.ContinueOnError)
	repo := fs.String("repo", "..", "root of the sregraph repository")
	out := fs.String("out", "", "output directory (default REPO/.cache/image)")
	version := fs.String("version", "", "version stamped into the binary and the labels (default: git describe --tags --always --dirty)")
	arch := fs.String("arch", runtime.GOARCH, "GOARCH of the image")
	caFile := fs.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to copy in (Debian's ca-certificates package)")
	tag := fs.String("tag", "", "image reference written into the archives (default sregraph:VERSION)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(root, ".cache", "image")
	}
	if *version == "" {
		if *version, err = git(ctx, root, "describe", "--tags", "--always", "--dirty"); err != nil {
			return err
		}
	}
	revision, err := git(ctx, root, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	created, err := createdTime(ctx, root, getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	if *tag == "" {
		*tag = "sregraph:" + strings.ReplaceAll(*version, "+", "-")
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		return fmt.Errorf("CA certificates (install Debian's ca-certificates): %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	binPath := filepath.Join(*out, "sregraph-linux-"+*arch)
	start := time.Now()
	build := exec.CommandContext(ctx, "go", image.GoBuildArgs(*version, binPath)...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+*arch)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "binary %s (%d bytes, %s)\n", binPath, len(bin), time.Since(start).Round(time.Millisecond))

	img, err := image.Build(image.Spec{
		Binary: bin, CACertificates: ca, Arch: *arch,
		Version: *version, Revision: revision, Created: created,
	})
	if err != nil {
		return err
	}
	digest, err := image.Write(*out, *tag, img)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "image %s %s\n  OCI layout  %s\n  OCI archive %s\n  Docker tar  %s\n",
		*tag, digest, filepath.Join(*out, "oci"), filepath.Join(*out, "sregraph.oci.tar"), filepath.Join(*out, "sregraph.docker.tar"))
	return nil
}

// createdTime is SOURCE_DATE_EPOCH when set, else the time of the
// commit, so that one commit always gives the same image.
func createdTime(ctx context.Context, root, epoch string) (time.Time, error) {
	if epoch == "" {
		var err error
		if epoch, err = git(ctx, root, "log", "-1", "--format=%ct"); err != nil {
			return time.Time{}, err
		}
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("creation time %q: %w", epoch, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
