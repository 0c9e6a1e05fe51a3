package squashfs_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
)

// failingImage fails every write past limit bytes.
type failingImage struct{ limit int64 }

func (f failingImage) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestSpillFile checks that the spill file never shows in its directory
// (it is unlinked as soon as it is made) and is gone after Close, whether
// the image was written or not.
func TestSpillFile(t *testing.T) {
	t.Parallel()
	dup := []testEntry{file("a/b", 0o644, []byte("x")), file("a/b", 0o644, []byte("y"))}
	for _, tc := range []struct {
		name    string
		img     func() io.WriterAt
		entries []testEntry
		want    string // error from Add or Close
	}{
		{name: "written", entries: fixture(64<<10, true, false)},
		{name: "duplicate found by Close", entries: dup, want: `duplicate entry "a/b"`},
		{name: "image write fails", entries: fixture(64<<10, true, false), want: "disk full",
			img: func() io.WriterAt { return failingImage{limit: 1 << 20} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var img io.WriterAt = &memImage{}
			if tc.img != nil {
				img = tc.img()
			}
			w, err := squashfs.New(img, squashfs.Options{BlockSize: 64 << 10, Workers: 2, TempDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.entries {
				if err = addEntry(w, &tc.entries[i]); err != nil {
					break
				}
				if i == len(tc.entries)/2 {
					checkEmpty(t, dir, "while entries are added")
				}
			}
			if _, cerr := w.Close(); err == nil {
				err = cerr
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
			checkEmpty(t, dir, "after Close")
		})
	}
}

func checkEmpty(t *testing.T, dir, when string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		t.Errorf("%s: %s is in the spill directory", when, de.Name())
	}
}

func TestSpillDirMissing(t *testing.T) {
	t.Parallel()
	_, err := squashfs.New(&memImage{}, squashfs.Options{TempDir: filepath.Join(t.TempDir(), "missing")})
	if err == nil || !strings.Contains(err.Error(), "spill file") {
		t.Errorf("got error %v, want one about the spill file", err)
	}
}

// TestLongBlockLists checks files whose spill records are too long to be
// gathered with their directory (over 4 KiB) or to fit the read window
// (over 64 KiB: an 80 MiB sparse file of 4 KiB blocks), one of them
// hardlinked from a directory sorted before its own, so that its inode is
// written from the link's place.
func TestLongBlockLists(t *testing.T) {
	needTool(t, "unsquashfs")
	t.Parallel()
	const size = 80 << 20
	tail := randomBytes(5000, 21)
	sparse := testEntry{Entry: rootfs.Entry{Path: "big/sparse", Type: rootfs.TypeReg, Mode: 0o644, Size: size, ModTime: epoch},
		gen: sparseGen(size, map[int64][]byte{size - 5000: tail}, []int64{size - 5000})}
	es := []testEntry{
		sparse,
		file("big/medium", 0o644, randomBytes(2100*4096+7, 22)),
		file("big/small", 0o600, []byte("small")),
		link("a/link", rootfs.TypeHardlink, "big/sparse"),
	}
	opts := squashfs.Options{BlockSize: 4096, Time: epoch}
	img, size2 := build(t, es, opts)
	checkFile(t, img, size2)
	x := expect(es, epoch)
	checkListing(t, img, x)
	checkExtract(t, img, x)
}
