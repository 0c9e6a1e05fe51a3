package diskformat_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// smallSize is odd on purpose: not a multiple of 512.
const smallSize = 9*mib + 777

func smallSpans() []span {
	return []span{
		{off: 0, n: 3000},
		{off: 65536 - 100, n: 200},
		{off: 2 * mib, n: mib + 5},
		{off: 4 * mib, n: 512 * kib, zero: true},
		{off: 8*mib - 1, n: 2},
		{off: smallSize - 1, n: 1},
	}
}

// TestConvertDeterministic converts twice with different worker counts,
// and once more into a file (where zeros become holes), and expects
// identical bytes; a different Time must change the formats that store
// one.
func TestConvertDeterministic(t *testing.T) {
	dir := t.TempDir()
	rawPath := makeRaw(t, dir, smallSize, smallSpans(), 5)
	raw := openFile(t, rawPath)
	convert := func(t *testing.T, f diskformat.Format, opts diskformat.Options) [32]byte {
		t.Helper()
		var buf bytes.Buffer
		if err := diskformat.Convert(context.Background(), raw, f, &buf, opts); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(buf.Bytes())
	}
	tests := []struct {
		name       string
		format     diskformat.Format
		storesTime bool
	}{
		{name: "raw", format: diskformat.Raw},
		{name: "qcow2", format: diskformat.QCOW2},
		{name: "vhd", format: diskformat.VHD, storesTime: true},
		{name: "vmdk", format: diskformat.VMDK},
		{name: "gce", format: diskformat.GCE, storesTime: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := convert(t, tt.format, diskformat.Options{Time: testTime, Seed: "s", Workers: 1})
			b := convert(t, tt.format, diskformat.Options{Time: testTime, Seed: "s", Workers: 4})
			if a != b {
				t.Errorf("two conversions differ: %x vs %x", a, b)
			}
			dst := filepath.Join(dir, "out"+tt.format.Ext())
			if err := diskformat.ConvertFile(context.Background(), rawPath, tt.format, dst,
				diskformat.Options{Time: testTime, Seed: "s"}); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(dst); err != nil || sha256.Sum256(got) != a {
				t.Errorf("ConvertFile output differs from the streamed one (err %v)", err)
			}
			c := convert(t, tt.format, diskformat.Options{Time: testTime.Add(1e9 * 3600), Seed: "s"})
			if (a != c) != tt.storesTime {
				t.Errorf("changing Time changed output = %v, want %v", a != c, tt.storesTime)
			}
		})
	}
}

// TestConvertRawToWriter checks the non-file path writes the zeros: the
// stream equals the raw file, and a VHD stream is the raw file, zero
// padding to 1 MiB and a 512-byte footer.
func TestConvertRawToWriter(t *testing.T) {
	path := makeRaw(t, t.TempDir(), smallSize, smallSpans(), 6)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw := openFile(t, path)
	var got bytes.Buffer
	if err := diskformat.Convert(context.Background(), raw, diskformat.Raw, &got, diskformat.Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("raw stream differs from the raw file (len %d, want %d)", got.Len(), len(want))
	}
	got.Reset()
	if err := diskformat.Convert(context.Background(), raw, diskformat.VHD, &got, diskformat.Options{}); err != nil {
		t.Fatal(err)
	}
	b := got.Bytes()
	if int64(len(b)) != 10*mib+512 || !bytes.Equal(b[:len(want)], want) ||
		!bytes.Equal(b[len(want):10*mib], make([]byte, 10*mib-int64(len(want)))) || string(b[10*mib:10*mib+8]) != "conectix" {
		t.Errorf("vhd stream of %d bytes is not raw + zeros to 10 MiB + footer", len(b))
	}
}

// TestConvertFileCancel cancels before and during each conversion: the
// error is context.Canceled, the old destination is untouched and no
// temporary file is left.
func TestConvertFileCancel(t *testing.T) {
	dir := t.TempDir()
	raw := makeRaw(t, dir, smallSize, smallSpans(), 7)
	for _, f := range diskformat.Formats() {
		for _, after := range []int64{0, 3} {
			t.Run(fmt.Sprintf("%s after %d checks", f, after), func(t *testing.T) {
				dst := filepath.Join(dir, "out"+f.Ext())
				if err := os.WriteFile(dst, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				err := diskformat.ConvertFile(newCountdown(after), raw, f, dst, diskformat.Options{Workers: 2})
				if !isCanceled(err) {
					t.Fatalf("ConvertFile after %d ctx checks: %v, want context.Canceled", after, err)
				}
				if b, _ := os.ReadFile(dst); string(b) != "old" {
					t.Errorf("destination changed to %d bytes", len(b))
				}
				entries, _ := os.ReadDir(dir)
				if len(entries) != 2 {
					t.Errorf("directory holds %d entries, want disk.raw and %s only", len(entries), filepath.Base(dst))
				}
				os.Remove(dst)
			})
		}
	}
}

func TestConvertErrors(t *testing.T) {
	raw := openFile(t, makeRaw(t, t.TempDir(), mib, nil, 8))
	tests := []struct {
		name   string
		format diskformat.Format
		opts   diskformat.Options
		want   error
	}{
		{name: "unknown format", format: diskformat.FormatUnknown, want: diskformat.ErrUnknownFormat},
		{name: "out of range format", format: diskformat.Format(42), want: diskformat.ErrUnknownFormat},
		{name: "gzip level", format: diskformat.GCE, opts: diskformat.Options{GzipLevel: 10}, want: diskformat.ErrInvalidOption},
		{name: "negative workers", format: diskformat.VMDK, opts: diskformat.Options{Workers: -1}, want: diskformat.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := diskformat.Convert(context.Background(), raw, tt.format, &bytes.Buffer{}, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("Convert: %v, want %v", err, tt.want)
			}
		})
	}
	dir := t.TempDir()
	err := diskformat.ConvertFile(context.Background(), filepath.Join(dir, "missing.raw"), diskformat.Raw, filepath.Join(dir, "o"), diskformat.Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ConvertFile of a missing raw disk: %v, want os.ErrNotExist", err)
	}
	if _, err := diskformat.Extents(openFile(t, dir)); !errors.Is(err, diskformat.ErrNotRegular) {
		t.Errorf("Extents of a directory: %v, want ErrNotRegular", err)
	}
}

func TestFormatNames(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    diskformat.Format
		ext     string
		wantErr bool
	}{
		{name: "raw", in: "raw", want: diskformat.Raw, ext: ".raw"},
		{name: "qcow2 upper", in: "QCOW2", want: diskformat.QCOW2, ext: ".qcow2"},
		{name: "vhd", in: " vhd ", want: diskformat.VHD, ext: ".vhd"},
		{name: "vmdk", in: "vmdk", want: diskformat.VMDK, ext: ".vmdk"},
		{name: "gce", in: "gce", want: diskformat.GCE, ext: ".tar.gz"},
		{name: "unknown", in: "vdi", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := diskformat.ParseFormat(tt.in)
			if tt.wantErr {
				if !errors.Is(err, diskformat.ErrUnknownFormat) {
					t.Errorf("ParseFormat(%q) error %v, want ErrUnknownFormat", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want || got.Ext() != tt.ext {
				t.Errorf("ParseFormat(%q) = %v (%q), %v; want %v (%q)", tt.in, got, got.Ext(), err, tt.want, tt.ext)
			}
			if back, _ := diskformat.ParseFormat(got.String()); back != got {
				t.Errorf("String %q does not parse back", got.String())
			}
		})
	}
	if s := diskformat.FormatUnknown.String(); s != "unknown" {
		t.Errorf("FormatUnknown.String() = %q", s)
	}
}
