package ext4_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// attempt feeds its into a fresh writer and returns the first error from
// Add, Write, file Close or Writer.Close.
func attempt(t *testing.T, size int64, opts ext4.Options, its []item) error {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "fs.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ext4.New(f, size, opts)
	if err != nil {
		return err
	}
	for _, it := range its {
		e := it.e
		fw, err := w.Add(&e)
		if err != nil {
			return err
		}
		if fw == nil {
			continue
		}
		if it.data != nil {
			if _, err := io.Copy(fw, it.data()); err != nil {
				return err
			}
		}
		if err := fw.Close(); err != nil {
			return err
		}
	}
	return w.Close()
}

func TestErrors(t *testing.T) {
	ext4opts := testOptions(ext4.KindExt4, false)
	few := ext4opts
	few.Inodes = 32
	hl := func(p, target string) item {
		return item{e: rootfs.Entry{Path: p, Type: rootfs.TypeHardlink, Linkname: target}}
	}
	short := reg("short", 0o644, 0, 0, []byte("abc"))
	short.e.Size = 10
	var many []item
	for i := range 40 {
		many = append(many, reg("f/"+strings.Repeat("x", i+1), 0o644, 0, 0, nil))
	}
	badX := reg("x/bad", 0o644, 0, 0, nil)
	badX.e.Xattrs = map[string][]byte{"foo.bar": []byte("v")}
	emptyLink := other("x/empty-link", rootfs.TypeSymlink, 0o777)
	symlink := func(p, target string) item {
		it := other(p, rootfs.TypeSymlink, 0o777)
		it.e.Linkname = target
		return it
	}
	cases := []struct {
		name    string
		size    int64
		opts    ext4.Options
		its     []item
		noSpace bool
		want    []string // substrings of the error
	}{
		{name: "data does not fit", size: 8 << 20, opts: ext4opts,
			its: []item{reg("big/blob", 0o644, 0, 0, randBytes(9, 10<<20))}, noSpace: true, want: []string{`"big/blob"`}},
		{name: "ext2 data does not fit", size: 8 << 20, opts: testOptions(ext4.KindExt2, false),
			its: []item{reg("big/blob", 0o644, 0, 0, randBytes(9, 10<<20))}, noSpace: true, want: []string{`"big/blob"`}},
		{name: "out of inodes", size: 16 << 20, opts: few, its: many, noSpace: true, want: []string{`"f/xxxxxxxxxxxxxxxxxxxxx"`}},
		{name: "duplicate file", size: 16 << 20, opts: ext4opts,
			its: []item{reg("a", 0o644, 0, 0, nil), reg("a", 0o644, 0, 0, nil)}, want: []string{`duplicate entry "a"`}},
		{name: "file then directory", size: 16 << 20, opts: ext4opts,
			its: []item{reg("x/a", 0o644, 0, 0, nil), other("x/a", rootfs.TypeDir, 0o755)}, want: []string{`duplicate entry "x/a"`}},
		{name: "hardlink then symlink", size: 16 << 20, opts: testOptions(ext4.KindExt2, false),
			its: []item{reg("f", 0o644, 0, 0, nil), hl("x/y/l", "f"), symlink("x/y/l", "f")}, want: []string{`duplicate entry "x/y/l"`}},
		{name: "duplicate dir", size: 16 << 20, opts: ext4opts,
			its: []item{other("d", rootfs.TypeDir, 0o755), other("d", rootfs.TypeDir, 0o755)}, want: []string{`duplicate entry "d"`}},
		{name: "name too long", size: 16 << 20, opts: ext4opts,
			its: []item{reg("d/"+strings.Repeat("y", 256), 0o644, 0, 0, nil)}, want: []string{`"d/yyy`, "256 bytes"}},
		{name: "hardlink target missing", size: 16 << 20, opts: ext4opts,
			its: []item{hl("l/link", "nowhere/file")}, want: []string{`"l/link"`, `"nowhere/file"`}},
		{name: "hardlink to directory", size: 16 << 20, opts: ext4opts,
			its: []item{other("d", rootfs.TypeDir, 0o755), hl("l", "d")}, want: []string{`"l"`, "directory"}},
		{name: "parent is a file", size: 16 << 20, opts: ext4opts,
			its: []item{reg("a", 0o644, 0, 0, nil), reg("a/b", 0o644, 0, 0, nil)}, want: []string{`"a/b"`}},
		{name: "unknown xattr namespace", size: 16 << 20, opts: ext4opts, its: []item{badX}, want: []string{`"x/bad"`, `"foo.bar"`}},
		{name: "empty symlink", size: 16 << 20, opts: ext4opts, its: []item{emptyLink}, want: []string{`"x/empty-link"`}},
		{name: "short file", size: 16 << 20, opts: ext4opts, its: []item{short}, want: []string{`"short"`, "3 of 10"}},
		{name: "label too long", size: 16 << 20, opts: ext4.Options{Kind: ext4.KindExt4, Label: strings.Repeat("L", 17)}, want: []string{"label"}},
		{name: "ext2 journal", size: 16 << 20, opts: ext4.Options{Kind: ext4.KindExt2, Journal: true}, want: []string{"journal"}},
		{name: "no kind", size: 16 << 20, opts: ext4.Options{}, want: []string{"kind"}},
		{name: "too small", size: 8 << 10, opts: ext4opts, noSpace: true, want: []string{"too small"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := attempt(t, tc.size, tc.opts, tc.its)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ext4.ErrNoSpace) != tc.noSpace {
				t.Errorf("errors.Is(%v, ErrNoSpace) = %v", err, !tc.noSpace)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
}

func TestReproducible(t *testing.T) {
	for _, opts := range []ext4.Options{testOptions(ext4.KindExt2, false), testOptions(ext4.KindExt4, true)} {
		t.Run(opts.Kind.String(), func(t *testing.T) {
			t.Parallel()
			var sums [2][32]byte
			for i := range sums {
				b, err := os.ReadFile(build(t, 64<<20, opts, tree(false)))
				if err != nil {
					t.Fatal(err)
				}
				sums[i] = sha256.Sum256(b)
			}
			if sums[0] != sums[1] {
				t.Error("two builds of the same tree differ")
			}
		})
	}
}

// TestSparseOutput checks that nothing is written where nothing is
// allocated: a 1 GiB image of a tree with ~16 MiB of data (and a 1 MiB
// all-zero file) occupies little disk space.
func TestSparseOutput(t *testing.T) {
	t.Parallel()
	img := build(t, 1<<30, testOptions(ext4.KindExt4, false), tree(false))
	used := diskUsage(t, img)
	if used <= 0 {
		t.Skip("cannot measure disk usage here")
	}
	if used > 40<<20 {
		t.Errorf("1 GiB image with ~16 MiB of data uses %d bytes on disk", used)
	}
	f, _ := os.Open(img)
	defer f.Close()
	head := make([]byte, 1024)
	f.ReadAt(head, 0)
	if !bytes.Equal(head, make([]byte, 1024)) {
		t.Error("boot sector area was written")
	}
}
