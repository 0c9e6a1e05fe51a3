package oci_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// spillFiles lists the files in a spill directory.
func spillFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// openSpilling writes the v2 test derivative to a layout and opens it
// with spill as its SpillDir.
func openSpilling(t *testing.T, spill string) (ref, dir string, src *oci.Source) {
	t.Helper()
	ref = layoutRef(t, mustImage(t, imagetest.Derivative(2, "1.0")...))
	src, err := oci.Open(context.Background(), ref, oci.Options{SpillDir: spill})
	if err != nil {
		t.Fatal(err)
	}
	return ref, spill, src
}

// TestSpillServesLaterWalks: the first Walk keeps one spill per
// compressed layer; a later Walk gives the same entries and data while the
// blobs are gone, so it read the spills; without a SpillDir the same Walk
// fails for want of a blob.
func TestSpillServesLaterWalks(t *testing.T) {
	ref, spill, src := openSpilling(t, t.TempDir())
	first := newRecorder(t)
	if err := src.Walk(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	n := len(src.Layers())
	want := make([]string, n)
	for i := range n {
		want[i] = "layer-" + string(rune('0'+i)) + ".s2"
	}
	if got := spillFiles(t, spill); !slices.Equal(got, want) {
		t.Fatalf("spill directory holds %v, want %v", got, want)
	}
	plain, err := oci.Open(context.Background(), ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.Remove(layoutBlob(t, src, ref, i)); err != nil {
			t.Fatal(err)
		}
	}
	second := newRecorder(t)
	if err := src.Walk(context.Background(), second); err != nil {
		t.Fatalf("second Walk, blobs removed: %v", err)
	}
	if a, b := first.summary(), second.summary(); !slices.Equal(a, b) || len(a) == 0 {
		t.Errorf("second Walk differs from the first:\n%v\n%v", a, b)
	}
	if err := plain.Walk(context.Background(), newRecorder(t)); err == nil {
		t.Error("a Walk without spills succeeded with the blobs removed; the test proves nothing")
	}
}

// TestSpillOnlyVerifiedLayers: a layer whose blob fails its digest leaves
// no spill (nor temporary file) behind, so no later Walk can read bytes
// that were never verified.
func TestSpillOnlyVerifiedLayers(t *testing.T) {
	ref, spill, src := openSpilling(t, t.TempDir())
	blob := layoutBlob(t, src, ref, 0)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[4] ^= 0xff // the gzip mtime: the tar inflates fine, the digest differs
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = src.Walk(context.Background(), newRecorder(t))
	if err == nil || !strings.Contains(err.Error(), "blob has digest") {
		t.Fatalf("Walk = %v, want a digest mismatch", err)
	}
	for _, f := range spillFiles(t, spill) {
		if f == "layer-0.s2" || strings.HasPrefix(f, "spill-") {
			t.Errorf("spill directory holds %s after layer 0 failed its digest", f)
		}
	}
	if err := src.Walk(context.Background(), newRecorder(t)); err == nil || !strings.Contains(err.Error(), "blob has digest") {
		t.Errorf("second Walk = %v, want the digest mismatch again", err)
	}
}

// TestSpillCancelLeavesNothing: a Walk cancelled mid-layer removes its
// unfinished spill.
func TestSpillCancelLeavesNothing(t *testing.T) {
	_, spill, src := openSpilling(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	rec := newRecorder(t)
	err := src.Walk(ctx, &cancelAfter{recorder: rec, n: 3, cancel: cancel})
	if err == nil {
		t.Fatal("cancelled Walk succeeded")
	}
	if got := spillFiles(t, spill); len(got) != 0 {
		t.Errorf("spill directory after a cancel: %v", got)
	}
}

// TestSpillUnwritableDirStillWalks: a SpillDir that cannot be written
// costs nothing but the spill.
func TestSpillUnwritableDirStillWalks(t *testing.T) {
	_, _, src := openSpilling(t, filepath.Join(t.TempDir(), "missing"))
	for range 2 {
		if err := src.Walk(context.Background(), newRecorder(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// cancelAfter records entries and cancels the Walk's context at the n-th.
type cancelAfter struct {
	*recorder
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.recorder.Add(e)
}
