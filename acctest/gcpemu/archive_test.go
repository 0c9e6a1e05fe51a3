package gcpemu_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// goodArchive converts a 64 MiB sparse raw disk with the real converter.
func goodArchive(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(64 * mib); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("data"), 4096), 10*mib); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := diskformat.Convert(context.Background(), f, diskformat.GCE, &buf, diskformat.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarGz writes members with archive/tar in the given format, gzipped.
func tarGz(t testing.TB, format tar.Format, members map[string]int64, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range order {
		size := members[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, Format: format}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckArchive(t *testing.T) {
	good := goodArchive(t)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "diskformat gce output", data: good},
		{name: "not gzip", data: []byte("disk.raw plain bytes"), wantErr: "not gzip"},
		{name: "truncated gzip", data: good[:len(good)-12], wantErr: "unexpected EOF"},
		{name: "posix ustar instead of oldgnu", data: tarGz(t, tar.FormatUSTAR, map[string]int64{"disk.raw": 4096}, "disk.raw"), wantErr: "is not oldgnu"},
		{name: "oldgnu but size not a whole GiB", data: tarGz(t, tar.FormatGNU, map[string]int64{"disk.raw": 3 * mib}, "disk.raw"), wantErr: "not a whole number of GiB"},
		{name: "no disk.raw", data: tarGz(t, tar.FormatGNU, map[string]int64{"disk.img": 4096}, "disk.img"), wantErr: `first member is "disk.img"`},
		{name: "second member after disk.raw", data: withExtraMember(t, good), wantErr: `unexpected member "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := gcpemu.CheckArchive(bytes.NewReader(tc.data))
			if tc.wantErr != "" {
				if !errors.Is(err, gcpemu.ErrBadArchive) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckArchive = %+v, %v; want ErrBadArchive with %q", info, err, tc.wantErr)
				}
				return
			}
			if err != nil || info.DiskSize != gib || info.DiskDigest == "" {
				t.Fatalf("CheckArchive = %+v, %v", info, err)
			}
		})
	}
}

func TestDigestDisk(t *testing.T) {
	a := make([]byte, 256<<10)
	b := bytes.Clone(a)
	b[200<<10] = 1
	c := bytes.Clone(a)
	c[100<<10] = 1 // same byte, other block
	digest := func(p []byte) string {
		d, n, err := gcpemu.DigestDisk(bytes.NewReader(p))
		if err != nil || n != int64(len(p)) {
			t.Fatalf("DigestDisk: %d, %v", n, err)
		}
		return d
	}
	if digest(a) == digest(b) || digest(b) == digest(c) {
		t.Error("different contents give the same digest")
	}
	if digest(b) != digest(bytes.Clone(b)) {
		t.Error("same contents give different digests")
	}
}

// withExtraMember appends a member "x" after disk.raw: the end-of-archive
// zeros are cut at the block after the last data byte.
func withExtraMember(t testing.TB, archive []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	end := (bytes.LastIndexFunc(raw, func(r rune) bool { return r != 0 }) + 512) / 512 * 512
	var extra bytes.Buffer
	tw := tar.NewWriter(&extra)
	if err := tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644, Size: 1, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte{1})
	_ = tw.Close()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(append(raw[:end:end], extra.Bytes()...))
	_ = zw.Close()
	return out.Bytes()
}
