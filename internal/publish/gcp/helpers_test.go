package gcp_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

const (
	testProject = "test-project"
	testBucket  = "test-bucket"
	mib         = int64(1) << 20
	gib         = int64(1) << 30
)

// fixture is an emulator and clients pointed at it.
type fixture struct {
	emu     *gcpemu.Emulator
	clients gcp.Clients
}

func newFixture(t testing.TB, opts gcpemu.Options) *fixture {
	t.Helper()
	opts.Buckets = append(opts.Buckets, testBucket)
	if opts.OpDelay == 0 {
		opts.OpDelay = 10 * time.Millisecond
	}
	emu, err := gcpemu.Start(opts)
	if err != nil {
		t.Fatalf("starting emulator: %v", err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	c, err := gcp.NewClients(context.Background(), gcp.ClientOptions{
		StorageEndpoint: emu.URL(), ComputeEndpoint: emu.URL(), WithoutAuthentication: true,
	})
	if err != nil {
		t.Fatalf("creating clients: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.Retry = gcp.Retry{Initial: 2 * time.Millisecond, Max: 40 * time.Millisecond, Attempts: 15}
	return &fixture{emu: emu, clients: c}
}

// extent is a data run of a test disk.
type extent struct{ off, n int64 }

// writeRawDisk makes a sparse raw disk of size bytes with seeded random
// data in the given runs and a run of text (which compresses).
func writeRawDisk(t testing.TB, size int64, runs []extent, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	for i, r := range runs {
		buf := make([]byte, r.n)
		if i%2 == 0 {
			_, _ = rng.Read(buf)
		} else {
			for j := range buf {
				buf[j] = "elemental disk text "[j%20]
			}
		}
		if _, err := f.WriteAt(buf, r.off); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// defaultDisk is 100 MiB with 3 MiB of data in three runs, the last
// ending at the disk's end.
func defaultDisk(t testing.TB) string {
	return writeRawDisk(t, 100*mib, []extent{{0, mib}, {40 * mib, mib}, {99 * mib, mib}}, 1)
}

// paddedDigest is gcpemu.DigestDisk of the raw disk followed by zeros up
// to a whole GiB, i.e. what disk.raw must hold.
func paddedDigest(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	padded := max((fi.Size()+gib-1)/gib*gib, gib)
	exts, err := diskformat.Extents(f)
	if err != nil {
		t.Fatal(err)
	}
	var parts []io.Reader // holes come from memory, not from the file
	for _, e := range exts {
		if e.Data {
			parts = append(parts, io.NewSectionReader(f, e.Offset, e.Length))
		} else {
			parts = append(parts, io.LimitReader(zeroReader{}, e.Length))
		}
	}
	parts = append(parts, io.LimitReader(zeroReader{}, padded-fi.Size()))
	d, n, err := gcpemu.DigestDisk(io.MultiReader(parts...))
	if err != nil || n != padded {
		t.Fatalf("digesting %s: %d bytes, %v", path, n, err)
	}
	return d
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func baseSpec(name string) gcp.Spec {
	return gcp.Spec{
		ProjectID: testProject, Bucket: testBucket, ImageName: name, ChunkSize: 256 << 10,
		Source: "registry.example/Elemental/os:v1.2", SourceDigest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		SuiteVersion: "0.1.0-test",
		Provenance: map[string]string{
			"source-digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"source-image":  "registry.example/Elemental/os:v1.2",
		},
	}
}

// assertNothingLeft fails if the emulator holds objects or images.
func (f *fixture) assertNothingLeft(t *testing.T) {
	t.Helper()
	f.emu.SetFaults(nil)
	objs, err := f.emu.Objects(testBucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 0 {
		t.Errorf("objects left behind: %v", objs)
	}
	if imgs := f.emu.Images(testProject); len(imgs) != 0 {
		for _, img := range imgs {
			t.Errorf("image left behind: %s (%s)", img.Name, img.Status)
		}
	}
}

func gcpemuOptions() gcpemu.Options { return gcpemu.Options{} }
