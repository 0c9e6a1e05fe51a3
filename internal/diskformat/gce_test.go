package diskformat_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// TestGCEWithGNUTar lists and extracts the tarball with GNU tar and
// compares the extracted disk.raw with the raw disk padded to a GiB.
func TestGCEWithGNUTar(t *testing.T) {
	needTool(t, "tar")
	needTool(t, "cmp")
	needTool(t, "qemu-img")
	if out, _ := execOutput("tar", "--version"); !strings.Contains(out, "GNU tar") {
		t.Skipf("skipping: needs GNU tar, found %q", out)
	}
	tests := []struct {
		name     string
		size     int64
		spans    []span
		wantReal int64
	}{
		{name: "3GiB", size: bigSize, spans: bigSpans(), wantReal: 3 * gib},
		{name: "base-256 numbers past 8 GiB", size: 8*gib + 512, spans: []span{{off: 8*gib - 10, n: 20}, {off: 8 * gib, n: 512}},
			wantReal: 9 * gib},
		{name: "extension headers", size: 5*mib + 333, spans: manySpans(100), wantReal: gib},
		{name: "no data", size: 2 * mib, wantReal: gib},
		{name: "exact GiB ending in data", size: gib, spans: []span{{off: gib - 4096, n: 4096}}, wantReal: gib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			raw := makeRaw(t, dir, tt.size, tt.spans, 3)
			out := filepath.Join(dir, "image.tar.gz")
			opts := diskformat.Options{Time: testTime, Workers: 3}
			if err := diskformat.ConvertFile(context.Background(), raw, diskformat.GCE, out, opts); err != nil {
				t.Fatal(err)
			}
			assertTarListing(t, out, tt.wantReal)
			x := filepath.Join(dir, "x")
			if err := os.Mkdir(x, 0o755); err != nil {
				t.Fatal(err)
			}
			run(t, "tar", "-xSzf", out, "-C", x)
			got := filepath.Join(x, "disk.raw")
			fi, err := os.Stat(got)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != tt.wantReal {
				t.Errorf("extracted size %d, want %d", fi.Size(), tt.wantReal)
			}
			// cmp the raw disk's bytes where that is cheap; qemu-img
			// compare goes through SEEK_DATA and also checks that the
			// padding up to the GiB reads as zeros.
			if tt.size <= 64*mib {
				run(t, "cmp", "-n", strconv.FormatInt(tt.size, 10), raw, got)
			}
			run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", raw, got)
			assertSparse(t, got, 64*mib)
		})
	}
}

// assertTarListing checks GNU tar's verbose listing names disk.raw with
// its full (real) size.
func assertTarListing(t *testing.T, path string, wantSize int64) {
	t.Helper()
	fields := strings.Fields(run(t, "tar", "-tvzf", path))
	if len(fields) != 6 || fields[5] != "disk.raw" || fields[2] != strconv.FormatInt(wantSize, 10) || fields[1] != "root/root" {
		t.Errorf("tar -tv = %q, want root/root disk.raw of %d bytes", fields, wantSize)
	}
}

// TestGCEHeaderBytes reads the first tar block: oldgnu magic, sparse
// typeflag, and Go's archive/tar sees a GNU sparse member of the GiB size.
func TestGCEHeaderBytes(t *testing.T) {
	dir := t.TempDir()
	raw := makeRaw(t, dir, 5*mib+333, manySpans(100), 4)
	var buf bytes.Buffer
	f := openFile(t, raw)
	if err := diskformat.Convert(context.Background(), f, diskformat.GCE, &buf, diskformat.Options{Time: testTime}); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 512)
	if _, err := io.ReadFull(zr, hdr); err != nil {
		t.Fatal(err)
	}
	if got := string(hdr[257:265]); got != "ustar  \x00" {
		t.Errorf("magic = %q, want oldgnu %q", got, "ustar  \x00")
	}
	if hdr[156] != 'S' || hdr[482] != 1 {
		t.Errorf("typeflag %q isextended %d, want 'S' and 1", hdr[156], hdr[482])
	}
	zr, _ = gzip.NewReader(bytes.NewReader(buf.Bytes()))
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "disk.raw" || h.Size != gib || h.Typeflag != tar.TypeGNUSparse || h.Format != tar.FormatGNU || !h.ModTime.Equal(testTime) {
		t.Errorf("archive/tar header = %s %d %q %v %v, want disk.raw %d 'S' GNU %v",
			h.Name, h.Size, h.Typeflag, h.Format, h.ModTime, gib, testTime)
	}
	assertSameAsRaw(t, tr, f, 5*mib+333)
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("second member: %v, want io.EOF", err)
	}
}

// assertSameAsRaw reads the first size bytes of r and compares them with
// the raw file.
func assertSameAsRaw(t *testing.T, r io.Reader, raw *os.File, size int64) {
	t.Helper()
	got := make([]byte, size)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	if _, err := raw.ReadAt(want, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("archive/tar content differs from the raw disk")
	}
}

func openFile(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
