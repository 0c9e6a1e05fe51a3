package diskformat_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/google/go-cmp/cmp"
)

type blockSum struct {
	Offset int64
	Sum    [32]byte
}

// bruteBlocks reads the whole file block by block and keeps the blocks
// that are not all zero.
func bruteBlocks(t *testing.T, path string, blockSize int64) []blockSum {
	t.Helper()
	f := openFile(t, path)
	var out []blockSum
	buf := make([]byte, blockSize)
	zero := make([]byte, blockSize)
	for off := int64(0); ; off += blockSize {
		clear(buf)
		n, err := f.ReadAt(buf, off)
		if n == 0 && err == io.EOF {
			return out
		}
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if string(buf) != string(zero) {
			out = append(out, blockSum{Offset: off, Sum: sha256.Sum256(buf)})
		}
	}
}

func TestBlocksMatchBruteForce(t *testing.T) {
	path := makeRaw(t, t.TempDir(), smallSize, smallSpans(), 9)
	f := openFile(t, path)
	for _, tt := range []struct {
		name      string
		blockSize int64
	}{
		{name: "ebs 512KiB", blockSize: 512 * kib},
		{name: "64KiB", blockSize: 64 * kib},
		{name: "4KiB", blockSize: 4 * kib},
		{name: "odd 3000", blockSize: 3000},
		{name: "larger than file", blockSize: 16 * mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []blockSum
			err := diskformat.Blocks(context.Background(), f, tt.blockSize, func(b diskformat.Block) error {
				if int64(len(b.Data)) != tt.blockSize {
					t.Fatalf("block at %d has %d bytes, want %d", b.Offset, len(b.Data), tt.blockSize)
				}
				got = append(got, blockSum{Offset: b.Offset, Sum: sha256.Sum256(b.Data)})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := bruteBlocks(t, path, tt.blockSize)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Blocks differ from brute force (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBlocksStops(t *testing.T) {
	f := openFile(t, makeRaw(t, t.TempDir(), smallSize, smallSpans(), 10))
	errStop := errors.New("stop")
	calls := 0
	err := diskformat.Blocks(context.Background(), f, 64*kib, func(diskformat.Block) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("Blocks with failing fn: %v after %d calls, want errStop after 1", err, calls)
	}
	calls = 0
	err = diskformat.Blocks(newCountdown(2), f, 64*kib, func(diskformat.Block) error { calls++; return nil })
	if !isCanceled(err) || calls != 2 {
		t.Errorf("Blocks with cancelled ctx: %v after %d calls, want context.Canceled after 2", err, calls)
	}
	if err := diskformat.Blocks(context.Background(), f, 0, nil); !errors.Is(err, diskformat.ErrInvalidOption) {
		t.Errorf("Blocks with block size 0: %v, want ErrInvalidOption", err)
	}
}

// TestExtents checks the map covers the file, alternates, keeps every
// written span inside data, leaves large gaps as holes, and that holes
// read as zeros.
func TestExtents(t *testing.T) {
	spans := smallSpans()
	path := makeRaw(t, t.TempDir(), smallSize, spans, 11)
	f := openFile(t, path)
	exts, err := diskformat.Extents(f)
	if err != nil {
		t.Fatal(err)
	}
	pos, dataBytes := int64(0), int64(0)
	for i, e := range exts {
		if e.Offset != pos || e.Length <= 0 || (i > 0 && exts[i-1].Data == e.Data) {
			t.Fatalf("extent %d %+v breaks the map at %d: %+v", i, e, pos, exts)
		}
		if e.Data {
			dataBytes += e.Length
		} else {
			assertZeroRange(t, f, e.Offset, e.Length)
		}
		pos = e.End()
	}
	if pos != smallSize {
		t.Errorf("map ends at %d, want %d", pos, smallSize)
	}
	for _, s := range spans {
		if !inData(exts, s.off, s.n) {
			t.Errorf("written span [%d,+%d) not inside a data extent: %+v", s.off, s.n, exts)
		}
	}
	if dataBytes > 2*mib {
		t.Errorf("data extents total %d bytes, want under 2 MiB (holes not found)", dataBytes)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
		t.Errorf("file offset moved to %d", pos)
	}
}

func inData(exts []diskformat.Extent, off, n int64) bool {
	for _, e := range exts {
		if e.Data && e.Offset <= off && off+n <= e.End() {
			return true
		}
	}
	return false
}

func assertZeroRange(t *testing.T, f *os.File, off, n int64) {
	t.Helper()
	buf := make([]byte, min(n, mib))
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.ReadAt(buf[:k], off); err != nil {
			t.Fatal(err)
		}
		for _, b := range buf[:k] {
			if b != 0 {
				t.Fatalf("hole at %d holds data", off)
			}
		}
		off += k
		n -= k
	}
}

func TestExtentsEmpty(t *testing.T) {
	f := openFile(t, makeRaw(t, t.TempDir(), 0, nil, 12))
	exts, err := diskformat.Extents(f)
	if err != nil || len(exts) != 0 {
		t.Errorf("Extents of an empty file = %v, %v; want none", exts, err)
	}
}
