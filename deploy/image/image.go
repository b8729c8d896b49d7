// Package image builds sregraph's container image without a Docker daemon
// and without a base image: a static sregraph binary, an /etc/passwd and
// /etc/group naming the non-root user 65532, the build machine's CA
// certificates and an empty /data owned by that user, written as an OCI
// image layout, an OCI archive (podman load, skopeo) and a Docker archive
// (docker load).
//
// The Dockerfile at the repository's root builds the same layout for people
// who have Docker; dockerfile_test.go keeps the two in step.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The layout of the image. The Dockerfile and the Helm chart rely on these.
const (
	// BinaryPath is where the sregraph binary lives.
	BinaryPath = "/usr/local/bin/sregraph"
	// DataDir is the embedded store's directory, a volume owned by UID.
	DataDir = "/data"
	// CACertificatesPath is where Go's crypto/x509 looks first on Linux.
	CACertificatesPath = "/etc/ssl/certs/ca-certificates.crt"
	// UID and GID are the non-root user and group the server runs as
	// ("nonroot", as in the distroless images).
	UID = 65532
	GID = 65532
	// Port is the port the server listens on in the image.
	Port = 8080
)

// rootfs holds the files the image takes verbatim; the Dockerfile copies
// the same files.
//
//go:embed rootfs/etc/passwd rootfs/etc/group
var rootfs embed.FS

// Spec is what varies from one build of the image to the next.
type Spec struct {
	// Binary is the sregraph executable: static, for Linux on Arch.
	Binary []byte
	// CACertificates is the PEM bundle (Debian's ca-certificates).
	CACertificates []byte
	// Arch is the GOARCH the binary was built for (amd64, arm64).
	Arch string
	// Version and Revision are the release and the VCS revision, for
	// the labels.
	Version, Revision string
	// Created is the image's creation time and every file's mtime: the
	// commit time makes the image reproducible.
	Created time.Time
}

// Entrypoint is the command the image runs; arguments given to the
// container (docker run IMAGE ARGS…, the chart's args) follow it.
func Entrypoint() []string {
	return []string{BinaryPath, "serve", "--data-dir", DataDir}
}

// Env is the image's environment. SREGRAPH_HTTP makes the server listen
// on every interface of the container; a flag (--http) overrides it.
func Env() []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=/home/nonroot",
		"SSL_CERT_FILE=" + CACertificatesPath,
		"SREGRAPH_HTTP=:" + strconv.Itoa(Port),
	}
}

// Labels are the OCI annotations of the image's config
// (https://github.com/opencontainers/image-spec/blob/main/annotations.md).
func Labels(s Spec) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":         "sregraph",
		"org.opencontainers.image.description":   "SRE knowledge-graph correlation engine: what changed near this breached service?",
		"org.opencontainers.image.source":        "https://github.com/sregraph/sregraph",
		"org.opencontainers.image.url":           "https://github.com/sregraph/sregraph",
		"org.opencontainers.image.documentation": "https://github.com/sregraph/sregraph/blob/main/docs/deploy.md",
		"org.opencontainers.image.licenses":      "Apache-2.0",
		"org.opencontainers.image.version":       s.Version,
		"org.opencontainers.image.revision":      s.Revision,
		"org.opencontainers.image.created":       s.Created.UTC().Format(time.RFC3339),
	}
}

// Config is the image's run configuration.
func Config(s Spec) v1.Config {
	return v1.Config{
		User:         fmt.Sprintf("%d:%d", UID, GID),
		Entrypoint:   Entrypoint(),
		Env:          Env(),
		WorkingDir:   "/home/nonroot",
		ExposedPorts: map[string]struct{}{strconv.Itoa(Port) + "/tcp": {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		Labels:       Labels(s),
		StopSignal:   "SIGTERM",
	}
}

// Build assembles the image: one layer with the base files (users, CA
// certificates, directories), one with the binary, so that a new release
// changes only the second.
func Build(s Spec) (v1.Image, error) {
	if len(s.Binary) == 0 {
		return nil, fmt.Errorf("build image: no binary")
	}
	if len(s.CACertificates) == 0 {
		return nil, fmt.Errorf("build image: no CA certificates")
	}
	if s.Arch == "" {
		return nil, fmt.Errorf("build image: no architecture")
	}
	base, err := baseFiles(s)
	if err != nil {
		return nil, err
	}
	baseLayer, err := layer(base, s.Created)
	if err != nil {
		return nil, fmt.Errorf("build image: base layer: %w", err)
	}
	binLayer, err := layer([]file{{path: BinaryPath, mode: 0o755, data: s.Binary}}, s.Created)
	if err != nil {
		return nil, fmt.Errorf("build image: binary layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: baseLayer, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: s.Created}, CreatedBy: "sregraph-image: users, CA certificates, " + DataDir,
		}},
		mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: s.Created}, CreatedBy: "sregraph-image: " + BinaryPath + " " + s.Version,
		}},
	)
	if err != nil {
		return nil, fmt.Errorf("build image: layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build image: config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = s.Arch
	cf.Created = v1.Time{Time: s.Created}
	cf.Config = Config(s)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("build image: config: %w", err)
	}
	return img, nil
}

// file is one entry of a layer: a regular file when data is not nil,
// else a directory.
type file struct {
	path     string
	mode     int64
	uid, gid int
	data     []byte
	dir      bool
}

func baseFiles(s Spec) ([]file, error) {
	passwd, err := rootfs.ReadFile("rootfs/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	group, err := rootfs.ReadFile("rootfs/etc/group")
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	return []file{
		{path: "/etc/passwd", mode: 0o644, data: passwd},
		{path: "/etc/group", mode: 0o644, data: group},
		{path: CACertificatesPath, mode: 0o644, data: s.CACertificates},
		{path: DataDir, mode: 0o755, uid: UID, gid: GID, dir: true},
		{path: "/home/nonroot", mode: 0o700, uid: UID, gid: GID, dir: true},
		{path: "/tmp", mode: 0o1777, dir: true},
	}, nil
}

// layer writes files, and the parent directories they need, into a
// gzipped tar with fixed times and owners, so that equal inputs give an
// equal digest.
func layer(files []file, mtime time.Time) (v1.Layer, error) {
	entries := map[string]file{}
	for _, f := range files {
		for d := filepath.Dir(f.path); d != "/"; d = filepath.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = file{path: d, mode: 0o755, dir: true}
			}
		}
		entries[f.path] = f
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, p := range paths {
		f := entries[p]
		h := &tar.Header{
			Name:    p[1:],
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.gid,
			ModTime: mtime.UTC(),
			Format:  tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", p, err)
		}
		if !f.dir {
			if _, err := tw.Write(f.data); err != nil {
				return nil, fmt.Errorf("tar %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return gzipLayer(raw.Bytes())
}

// gzipLayer compresses an uncompressed layer with the standard
// library's gzip (deterministic for equal input).
func gzipLayer(uncompressed []byte) (v1.Layer, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if _, err := zw.Write(uncompressed); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// Write puts img, tagged ref (e.g. "sregraph:v1.2.0"), into dir as an OCI
// image layout (dir/oci), an OCI archive of that layout (dir/sregraph.oci.tar,
// for podman load or skopeo) and a Docker archive (dir/sregraph.docker.tar,
// for docker load). It returns the image's digest.
func Write(dir, ref string, img v1.Image) (v1.Hash, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	layoutDir := filepath.Join(dir, "oci")
	if err := os.RemoveAll(layoutDir); err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	p, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write image layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
		"io.containerd.image.name":          tag.Name(),
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("write image layout: %w", err)
	}
	if err := tarDir(layoutDir, filepath.Join(dir, "sregraph.oci.tar")); err != nil {
		return v1.Hash{}, fmt.Errorf("write OCI archive: %w", err)
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "sregraph.docker.tar"), tag, img); err != nil {
		return v1.Hash{}, fmt.Errorf("write Docker archive: %w", err)
	}
	return digest, nil
}

// tarDir writes the files under dir into the tar file out, with paths
// relative to dir: an OCI archive is an image layout in a tar.
func tarDir(dir, out string) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	return tw.Close()
}

// GoBuildArgs are the arguments of `go build` for the image's binary
// (with CGO_ENABLED=0 in the environment): static, no local paths, the
// version stamped in.
func GoBuildArgs(version, out string) []string {
	return []string{"build", "-trimpath", "-ldflags", "-s -w -X main.stamped=" + version, "-o", out, "./cmd/sregraph"}
}
