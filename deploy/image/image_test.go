package image

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// mustCA returns a PEM bundle of one self-signed CA certificate.
func mustCA(tb testing.TB) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sregraph test root"},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func testSpec(tb testing.TB) Spec {
	return Spec{
		Binary:         []byte("\x7fELF not really a binary, but bytes the test can recognise"),
		CACertificates: mustCA(tb),
		Arch:           "arm64",
		Version:        "v1.4.0",
		Revision:       "0123456789abcdef0123456789abcdef01234567",
		Created:        time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC),
	}
}

func mustBuild(tb testing.TB, s Spec) v1.Image {
	tb.Helper()
	img, err := Build(s)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// entry is one file of the image's flattened filesystem.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// mustFiles flattens the image's layers the way a runtime unpacks them.
func mustFiles(tb testing.TB, img v1.Image) map[string]entry {
	tb.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = entry{h, data}
	}
	return files
}

func TestConfig(t *testing.T) {
	s := testSpec(t)
	cf, err := mustBuild(t, s).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" {
		t.Errorf("platform %s/%s, want linux/arm64", cf.OS, cf.Architecture)
	}
	if !cf.Created.Time.Equal(s.Created) {
		t.Errorf("created %v, want %v", cf.Created.Time, s.Created)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", c.User)
	}
	if want := []string{"/usr/local/bin/sregraph", "serve", "--data-dir", "/data"}; !slices.Equal(c.Entrypoint, want) {
		t.Errorf("entrypoint %q, want %q", c.Entrypoint, want)
	}
	if len(c.Cmd) != 0 {
		t.Errorf("cmd %q: arguments to the container should follow the entrypoint unchanged", c.Cmd)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want only 8080/tcp", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes %v, want only /data", c.Volumes)
	}
	if !slices.Contains(c.Env, "SREGRAPH_HTTP=:8080") {
		t.Errorf("env %q does not make the server listen on the exposed port", c.Env)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  "v1.4.0",
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.created":  "2026-11-21T11:50:00Z",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.source":   "https://github.com/sregraph/sregraph",
	} {
		if got := c.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	m, err := mustBuild(t, s).Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %s, config %s: want OCI media types", m.MediaType, m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %d media type %s, want %s", i, l.MediaType, types.OCILayer)
		}
	}
}

func TestFilesystem(t *testing.T) {
	s := testSpec(t)
	files := mustFiles(t, mustBuild(t, s))

	want := []struct {
		path     string
		typ      byte
		mode     int64
		uid, gid int
		data     []byte
	}{
		{"/usr/local/bin/sregraph", tar.TypeReg, 0o755, 0, 0, s.Binary},
		{CACertificatesPath, tar.TypeReg, 0o644, 0, 0, s.CACertificates},
		{"/data", tar.TypeDir, 0o755, UID, GID, nil},
		{"/home/nonroot", tar.TypeDir, 0o700, UID, GID, nil},
		{"/tmp", tar.TypeDir, 0o1777, 0, 0, nil},
		{"/etc", tar.TypeDir, 0o755, 0, 0, nil},
		{"/etc/ssl/certs", tar.TypeDir, 0o755, 0, 0, nil},
		{"/usr/local/bin", tar.TypeDir, 0o755, 0, 0, nil},
	}
	for _, w := range want {
		e, ok := files[w.path]
		if !ok {
			t.Errorf("%s: missing", w.path)
			continue
		}
		h := e.hdr
		if h.Typeflag != w.typ || h.Mode != w.mode || h.Uid != w.uid || h.Gid != w.gid {
			t.Errorf("%s: type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d",
				w.path, h.Typeflag, h.Mode, h.Uid, h.Gid, w.typ, w.mode, w.uid, w.gid)
		}
		if w.data != nil && !bytes.Equal(e.data, w.data) {
			t.Errorf("%s: content differs from the input", w.path)
		}
		if !h.ModTime.Equal(s.Created) {
			t.Errorf("%s: mtime %v, want the creation time %v", w.path, h.ModTime, s.Created)
		}
	}

	// The CA bundle is usable by crypto/x509 as the image has it.
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(files[CACertificatesPath].data) {
		t.Errorf("%s holds no certificate", CACertificatesPath)
	}

	// The user the image runs as has a name and a home, and so does its
	// group: tools that look the user up (ps, id, glibc) find it.
	passwd := string(files["/etc/passwd"].data)
	if !slices.Contains(strings.Split(passwd, "\n"), "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin") {
		t.Errorf("/etc/passwd has no entry for 65532:\n%s", passwd)
	}
	group := string(files["/etc/group"].data)
	if !slices.Contains(strings.Split(group, "\n"), "nonroot:x:65532:") {
		t.Errorf("/etc/group has no entry for 65532:\n%s", group)
	}
}

func TestReproducible(t *testing.T) {
	s := testSpec(t)
	a, b := mustBuild(t, s), mustBuild(t, s)
	da, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Errorf("the same inputs gave two images: %s and %s", da, db)
	}

	// A new release changes the binary's layer only: the base layer is
	// shared, so pulling an upgrade fetches one layer.
	s2 := s
	s2.Binary = append([]byte(nil), s.Binary...)
	s2.Binary[len(s2.Binary)-1] ^= 1
	s2.Version = "v1.4.1"
	la, err := a.Layers()
	if err != nil {
		t.Fatal(err)
	}
	lc, err := mustBuild(t, s2).Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(la) != 2 || len(lc) != 2 {
		t.Fatalf("layers: %d and %d, want 2", len(la), len(lc))
	}
	digest := func(l v1.Layer) v1.Hash {
		h, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if digest(la[0]) != digest(lc[0]) {
		t.Error("a new binary changed the base layer")
	}
	if digest(la[1]) == digest(lc[1]) {
		t.Error("a new binary left the binary layer unchanged")
	}
}

func TestBuildRefusesIncompleteSpec(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*Spec)
		want  string
	}{
		{"no binary", func(s *Spec) { s.Binary = nil }, "no binary"},
		{"no CA", func(s *Spec) { s.CACertificates = nil }, "no CA certificates"},
		{"no arch", func(s *Spec) { s.Arch = "" }, "no architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec(t)
			tc.spoil(&s)
			_, err := Build(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	img := mustBuild(t, testSpec(t))
	digest, err := Write(dir, "sregraph:v1.4.0", img)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if digest != want {
		t.Errorf("Write returned %s, the image is %s", digest, want)
	}

	// The OCI layout reads back as the same image, under its tag.
	p, err := layout.FromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.4.0" {
		t.Errorf("index %+v, want one manifest %s tagged v1.4.0", im.Manifests, want)
	}

	// The OCI archive is that layout in a tar, with the layout at its root.
	names := tarNames(t, filepath.Join(dir, "sregraph.oci.tar"))
	for _, n := range []string{"oci-layout", "index.json", "blobs/sha256/" + want.Hex} {
		if !slices.Contains(names, n) {
			t.Errorf("OCI archive lacks %s (has %q)", n, names)
		}
	}

	// The Docker archive loads as the image under its tag.
	tag, err := name.NewTag("sregraph:v1.4.0")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.ImageFromPath(filepath.Join(dir, "sregraph.docker.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := loaded.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, Entrypoint()) {
		t.Errorf("Docker archive config: user %q entrypoint %q", cf.Config.User, cf.Config.Entrypoint)
	}
}

func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
}
