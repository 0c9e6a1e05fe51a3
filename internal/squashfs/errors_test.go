package squashfs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
)

func TestErrors(t *testing.T) {
	t.Parallel()
	f := func(p string, data string) testEntry { return file(p, 0o644, []byte(data)) }
	short := f("a", "abc")
	short.Size = 5
	long := f("a", "abcdef")
	long.Size = 2
	for _, tc := range []struct {
		name    string
		entries []testEntry
		want    string
	}{
		{name: "duplicate file", entries: []testEntry{f("a/b", "x"), f("a/b", "y")}, want: `duplicate entry "a/b"`},
		{name: "duplicate dir", entries: []testEntry{dir("d", 0o755), dir("d", 0o700)}, want: `duplicate entry "d"`},
		{name: "duplicate root", entries: []testEntry{dir(".", 0o755), dir(".", 0o755)}, want: `duplicate entry "."`},
		{name: "root not a dir", entries: []testEntry{f(".", "")}, want: `root entry "." is a regular file`},
		{name: "file over implicit dir", entries: []testEntry{f("a/b", "x"), f("a", "y")}, want: `entry "a" is a regular file but earlier entries are inside it`},
		{name: "child of a file", entries: []testEntry{f("a", "x"), f("a/b", "y")}, want: `parent "a" is a regular file`},
		{name: "child of a symlink", entries: []testEntry{dir("d", 0o755), link("d/e", rootfs.TypeSymlink, "t"), f("d/e/f", "x")}, want: `parent "d/e" is a symlink`},
		{name: "dir over a file", entries: []testEntry{f("d/a", "x"), dir("d/a", 0o755)}, want: `duplicate entry "d/a"`},
		{name: "symlink over a file", entries: []testEntry{f("d/e/a", "x"), link("d/e/a", rootfs.TypeSymlink, "t")}, want: `duplicate entry "d/e/a"`},
		{name: "hardlink through a file", entries: []testEntry{f("a", "x"), link("l", rootfs.TypeHardlink, "a/b")}, want: `hardlink "l" points to "a/b", which is not in the image`},
		{name: "dangling hardlink", entries: []testEntry{link("l", rootfs.TypeHardlink, "missing/t")}, want: `hardlink "l" points to "missing/t", which is not in the image`},
		{name: "hardlink to dir", entries: []testEntry{dir("d", 0o755), link("l", rootfs.TypeHardlink, "d")}, want: `hardlink "l" points to directory "d"`},
		{name: "hardlink loop", entries: []testEntry{link("a", rootfs.TypeHardlink, "b"), link("b", rootfs.TypeHardlink, "a")}, want: `loop of hardlinks`},
		{name: "short file", entries: []testEntry{short}, want: `file "a": got 3 bytes, want 5`},
		{name: "long file", entries: []testEntry{long}, want: `writing file "a": more than its size 2`},
		{name: "name too long", entries: []testEntry{f(strings.Repeat("n", 257), "")}, want: `name longer than 256 bytes`},
		{name: "NUL in a name", entries: []testEntry{f("etc/a\x00b", "")}, want: `contains a NUL byte`},
		{name: "symlink too long", entries: []testEntry{link("s", rootfs.TypeSymlink, strings.Repeat("t", 4097))}, want: `symlink "s": target length 4097`},
		{name: "empty symlink", entries: []testEntry{link("s", rootfs.TypeSymlink, "")}, want: `symlink "s": target length 0`},
		{name: "device number", entries: []testEntry{node("d", rootfs.TypeChar, 0o600, 4096, 0)}, want: `device "d": number 4096,0`},
		{name: "unknown type", entries: []testEntry{{Entry: rootfs.Entry{Path: "u"}}}, want: `unsupported type unknown`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := write(&memImage{}, tc.entries, squashfs.Options{Workers: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts squashfs.Options
		want string
	}{
		{name: "block size not a power of two", opts: squashfs.Options{BlockSize: 3000}, want: "block size 3000"},
		{name: "block size too big", opts: squashfs.Options{BlockSize: 2 << 20}, want: "block size 2097152"},
		{name: "compression", opts: squashfs.Options{Compression: 9}, want: "unsupported compression compression(9)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := squashfs.New(&memImage{}, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMisuse(t *testing.T) {
	t.Parallel()
	w, err := squashfs.New(&memImage{}, squashfs.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	fw, err := w.Add(&rootfs.Entry{Path: "a", Type: rootfs.TypeReg, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Add(&rootfs.Entry{Path: "b", Type: rootfs.TypeDir}); err == nil || !strings.Contains(err.Error(), `file "a" is still open`) {
		t.Errorf("Add with an open file: got %v", err)
	}
	if _, err := w.Close(); err == nil || !strings.Contains(err.Error(), `file "a" is still open`) {
		t.Errorf("Close with an open file: got %v", err)
	}
	fw.Close()
	if _, err := w.Add(&rootfs.Entry{Path: "c", Type: rootfs.TypeDir}); !errors.Is(err, squashfs.ErrClosed) {
		t.Errorf("Add after Close: got %v, want ErrClosed", err)
	}
	if _, err := w.Close(); !errors.Is(err, squashfs.ErrClosed) {
		t.Errorf("second Close: got %v, want ErrClosed", err)
	}
}

func TestCompressionString(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    squashfs.Compression
		want string
	}{
		{name: "unknown", c: squashfs.CompressionUnknown, want: "unknown"},
		{name: "gzip", c: squashfs.Gzip, want: "gzip"},
		{name: "xz", c: squashfs.XZ, want: "xz"},
		{name: "other", c: 7, want: "compression(7)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
