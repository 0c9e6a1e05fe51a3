package oci_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// fzFuzzing reports whether the test binary runs the fuzzing engine (as
// opposed to replaying the seed corpus in a plain go test).
func fzFuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// fzCheckEvery is how often, while fuzzing, an accepted stream is also
// written with ext4 and checked with e2fsck; seed inputs always are.
const fzCheckEvery = 200

var fzAccepted atomic.Int64

// fzMaxFile is the largest file the fuzz sink accepts.
const fzMaxFile = 64 << 20

// FuzzWalk takes random tar streams as the single layer of an OCI layout.
// Walk must never panic, never deliver a path (or hardlink target) that
// escapes the root or is not clean, never deliver a path twice, and give
// every regular file exactly its size in data. Accepted streams written
// with the ext4 Writer must pass e2fsck -fn.
func FuzzWalk(f *testing.F) {
	for _, l := range fzSeedLayers() {
		b, err := l.Tar()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref := fzLayout(t, data)
		src, err := oci.Open(context.Background(), ref, oci.Options{})
		if err != nil {
			return
		}
		c := &fzChecker{t: t, seen: map[string]bool{}}
		counter := &rootfs.Counter{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := src.Walk(ctx, rootfs.Tee(c, counter)); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("Walk of a %d-byte layer took over 10s: %v", len(data), err)
			}
			return
		}
		if c.short != "" {
			t.Fatalf("Walk succeeded but %s", c.short)
		}
		n := fzAccepted.Add(1)
		if fzFuzzing() && n%fzCheckEvery != 0 {
			return
		}
		fzCheckExt4(t, src, counter.Stats)
	})
}

// fzSeedLayers are the seed corpus: a whole derivative, the torture layer
// and hostile layers.
func fzSeedLayers() []imagetest.Layer {
	// The torture layer without its 1 GiB sparse file, which is slow
	// to read under coverage instrumentation.
	var torture imagetest.Layer
	for _, f := range imagetest.Torture("etc/os-release") {
		if f.SparseSize == 0 {
			torture = append(torture, f)
		}
	}
	seeds := append(imagetest.Derivative(2, "A"), torture)
	file := func(p string) imagetest.File { return imagetest.File{Path: p, Type: rootfs.TypeReg, Data: []byte("x")} }
	return append(seeds,
		imagetest.Layer{{Path: "etc/os-release", Type: rootfs.TypeReg, Data: []byte("ID=x\n")}, {Path: "l", Type: rootfs.TypeHardlink, Linkname: "etc/os-release"}},
		imagetest.Layer{file("../escape"), file("a/../../b"), file("/abs")},
		imagetest.Layer{{Path: "s", Type: rootfs.TypeSymlink, Linkname: "/etc"}, file("s/passwd")},
		imagetest.Layer{{Path: "h", Type: rootfs.TypeHardlink, Linkname: "../../etc/shadow"}},
		imagetest.Layer{file(".wh."), file("etc/.wh..wh..opq"), file(".wh..wh.plnk/1")},
		imagetest.Layer{file("d"), file("d"), {Path: "c", Type: rootfs.TypeChar, Major: 1, Minor: 3}},
		imagetest.Layer{file(strings.Repeat("n", 255)), {Path: "x", Type: rootfs.TypeReg, SparseSize: 1 << 20, Data: []byte("sparse")}},
	)
}

// fzLayout writes data as the only layer of an OCI layout.
func fzLayout(t *testing.T, data []byte) string {
	t.Helper()
	img, err := imagetest.ImageFromBlobs(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := imagetest.WriteLayout(dir, img, ""); err != nil {
		t.Fatal(err)
	}
	return oci.LayoutPrefix + dir
}

// fzChecker is a Sink that asserts the Entry contract.
type fzChecker struct {
	t    *testing.T
	seen map[string]bool
	// short names a file closed before it got its size, which is
	// only allowed when the walk then fails.
	short string
}

func (c *fzChecker) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	c.t.Helper()
	fzCheckPath(c.t, "path", e.Path)
	if e.Type == rootfs.TypeHardlink {
		fzCheckPath(c.t, "hardlink target", e.Linkname)
		if !c.seen[e.Linkname] {
			c.t.Fatalf("hardlink %q delivered before its target %q", e.Path, e.Linkname)
		}
	}
	if c.seen[e.Path] {
		c.t.Fatalf("%q delivered twice", e.Path)
	}
	c.seen[e.Path] = true
	if e.Type <= rootfs.TypeUnknown || e.Type > rootfs.TypeSocket {
		c.t.Fatalf("%q has type %v", e.Path, e.Type)
	}
	if e.Type != rootfs.TypeReg {
		if e.Size != 0 {
			c.t.Fatalf("%v %q has size %d", e.Type, e.Path, e.Size)
		}
		return nil, nil
	}
	if e.Size < 0 {
		c.t.Fatalf("%q has size %d", e.Path, e.Size)
	}
	if e.Size > fzMaxFile {
		// A sparse entry can claim any size without data; reading its
		// zeros would stall the fuzzer (see docs/security.md).
		return nil, fmt.Errorf("fuzz: %q claims %d bytes", e.Path, e.Size)
	}
	return &fzCounting{c: c, path: e.Path, want: e.Size}, nil
}

func fzCheckPath(t *testing.T, what, p string) {
	t.Helper()
	clean, ok := rootfs.CleanPath(p)
	if !ok || clean != p || strings.HasPrefix(p, "/") {
		t.Fatalf("%s %q is not clean (CleanPath gives %q, %v)", what, p, clean, ok)
	}
	for el := range strings.SplitSeq(p, "/") {
		if el == ".." || len(el) > 255 || (el == "." && p != ".") {
			t.Fatalf("%s %q has element %q", what, p, el)
		}
	}
}

// fzCounting checks that a file gets exactly its size in data (the walk
// may close it early only to report an error).
type fzCounting struct {
	c    *fzChecker
	path string
	want int64
	n    int64
}

func (w *fzCounting) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n > w.want {
		w.c.t.Fatalf("%q got more than its %d bytes", w.path, w.want)
	}
	return len(p), nil
}

func (w *fzCounting) Close() error {
	if w.n != w.want {
		w.c.short = fmt.Sprintf("%q got %d bytes, want %d", w.path, w.n, w.want)
		return fmt.Errorf("fuzz: %s", w.c.short)
	}
	return nil
}

// fzCheckExt4 writes the accepted stream with the ext4 Writer and, when
// the writer succeeds, checks the image with e2fsck -fn.
func fzCheckExt4(t *testing.T, src *oci.Source, st rootfs.Stats) {
	t.Helper()
	if _, err := exec.LookPath("e2fsck"); err != nil {
		t.Skipf("needs e2fsck: %v", err)
	}
	// ext2, as the installer writes system images.
	opts := ext4.Options{Kind: ext4.KindExt2, Label: "FUZZ"}
	size := (ext4.MinSize(st, opts) + 4095) / 4096 * 4096
	p := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ext4.New(f, size, opts)
	if err != nil {
		t.Fatalf("ext4.New(%d): %v", size, err)
	}
	if err := src.Walk(context.Background(), w); err != nil {
		t.Logf("ext4 writer refused an accepted stream: %v", err)
		return
	}
	if err := w.Close(); err != nil {
		t.Logf("ext4 writer refused an accepted stream: %v", err)
		return
	}
	if out, err := exec.Command("e2fsck", "-fn", p).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn on an accepted stream: %v\n%s", err, fmt.Sprintf("%.4000s", out))
	}
}
