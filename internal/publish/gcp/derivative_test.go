package gcp_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/installer/installertest"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// TestPublishDerivativeDisk builds the disk of a test derivative with the
// installer, publishes it keeping the object, reads the tar.gz back from
// GCS with the storage client and compares disk.raw with the locally
// built raw disk byte for byte, then the GiB padding with zeros. The
// image must name the derivative's digest.
func TestPublishDerivativeDisk(t *testing.T) {
	t.Parallel()
	src := imagetest.WriteLayoutRef(t, imagetest.Derivative(2, "A")...)
	built, raw := installertest.Reference(t, installer.Spec{Source: src, SourceDateEpoch: 1700000000})
	f := newFixture(t, gcpemuOptions())
	spec := baseSpec("derivative")
	spec.Source, spec.SourceDigest, spec.Provenance, spec.SkipClean = src, built.Digest, nil, true
	ctx := context.Background()
	res, err := gcp.Publish(ctx, f.clients, raw, spec, nil)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	img, _, err := f.emu.Image(testProject, spec.ImageName)
	if err != nil || img.Status != "READY" || img.Labels[gcp.LabelSourceDigest] != gcp.SanitizeLabelValue(built.Digest) {
		t.Fatalf("image %s: %v, labels %v, want %s naming %s", img.Status, err, img.Labels, gcp.LabelSourceDigest, built.Digest)
	}
	rd, err := f.clients.Storage.Bucket(testBucket).Object(spec.ImageName + ".tar.gz").NewReader(ctx)
	if err != nil {
		t.Fatalf("reading the object back: %v", err)
	}
	defer rd.Close()
	zr, err := gzip.NewReader(rd)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != "disk.raw" || hdr.Format != tar.FormatGNU || hdr.Size != res.DiskSize || hdr.Size%gib != 0 {
		t.Fatalf("first member %+v, %v; want GNU disk.raw of %d bytes", hdr, err, res.DiskSize)
	}
	local, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	n, err := compareReaders(tr, io.MultiReader(local, zeroReader{}), hdr.Size)
	if err != nil {
		t.Fatalf("disk.raw from GCS vs the local raw disk plus zero padding: %v", err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("after disk.raw: %v, want the end of the archive", err)
	}
	t.Logf("%d bytes compared (raw disk %d, %d of data), %d bytes uploaded", n, built.DiskSize, res.DataSize, res.BytesUploaded)
}

// compareReaders reads size bytes from both and reports the first
// offset where they differ.
func compareReaders(got, want io.Reader, size int64) (int64, error) {
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for off < size {
		n := int(min(int64(len(a)), size-off))
		if _, err := io.ReadFull(got, a[:n]); err != nil {
			return off, fmt.Errorf("reading at %d: %w", off, err)
		}
		if _, err := io.ReadFull(want, b[:n]); err != nil {
			return off, fmt.Errorf("reading the reference at %d: %w", off, err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			i := 0
			for a[i] == b[i] {
				i++
			}
			return off, fmt.Errorf("first difference at byte %d", off+int64(i))
		}
		off += int64(n)
	}
	return off, nil
}
