package badinput_test

import (
	"context"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// tmpRoot is TMPDIR for the whole package, so that temporary files the
// installer leaves behind (layer cache, partial disks) can be counted.
var tmpRoot string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "badinput-")
	if err != nil {
		panic(err)
	}
	tmpRoot = d
	os.Setenv("TMPDIR", d)
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// Shorthands for layer entries.
func reg(p, data string) imagetest.File {
	return imagetest.File{Path: p, Type: rootfs.TypeReg, Data: []byte(data)}
}

func link(p, target string) imagetest.File {
	return imagetest.File{Path: p, Type: rootfs.TypeHardlink, Linkname: target}
}

func sym(p, target string) imagetest.File {
	return imagetest.File{Path: p, Type: rootfs.TypeSymlink, Linkname: target}
}

func whiteout(p string) imagetest.File { return imagetest.File{Path: p, Whiteout: true} }

// derivativeWith is a complete v2 derivative with extra layers on top.
func derivativeWith(extra ...imagetest.Layer) []imagetest.Layer {
	return append(imagetest.Derivative(2, "A"), extra...)
}

func image(t testing.TB, layers ...imagetest.Layer) v1.Image {
	t.Helper()
	img, err := imagetest.Image(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layoutRef writes img as an OCI layout in a fresh directory and returns
// its source reference.
func layoutRef(t testing.TB, img v1.Image) string {
	t.Helper()
	return imagetest.LayoutRef(t, img)
}

func blob(t testing.TB, l imagetest.Layer) []byte {
	t.Helper()
	b, err := l.Blob()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blobsRef builds a layout from a good derivative's blobs plus extra raw
// (possibly broken) blobs on top.
func blobsRef(t testing.TB, extra ...[]byte) string {
	t.Helper()
	var blobs [][]byte
	for _, l := range imagetest.Derivative(2, "A") {
		blobs = append(blobs, blob(t, l))
	}
	img, err := imagetest.ImageFromBlobs(append(blobs, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return layoutRef(t, img)
}

// tmpListing names what TMPDIR holds.
func tmpListing(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(tmpRoot)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// runFailing runs spec (into a fresh output directory unless one is set),
// requires an error containing every string of want, and checks that
// nothing is left in the output directory (beyond keep) or in TMPDIR.
func runFailing(t *testing.T, spec installer.Spec, want []string, keep ...string) error {
	t.Helper()
	if spec.OutputDir == "" {
		spec.OutputDir = t.TempDir()
	}
	if spec.SourceDateEpoch == 0 {
		spec.SourceDateEpoch = imagetest.Epoch
	}
	before := tmpListing(t)
	res, err := installer.Run(context.Background(), spec)
	if err == nil {
		t.Fatalf("Run succeeded (%v), want an error containing %q", res.Outputs, want)
	}
	t.Logf("error: %v", err)
	checkError(t, err, want)
	checkClean(t, spec.OutputDir, before, keep...)
	return err
}

func checkError(t *testing.T, err error, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

// checkClean fails when dir holds anything but keep, or TMPDIR gained an
// entry since before.
func checkClean(t *testing.T, dir string, before []string, keep ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !contains(keep, e.Name()) {
			t.Errorf("output directory holds %s after the failed run", e.Name())
		}
	}
	for _, n := range tmpListing(t) {
		if !contains(before, n) {
			t.Errorf("TMPDIR holds %s after the failed run", n)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isAny reports whether err matches target (nil target: no requirement).
func isAny(err, target error) bool { return target == nil || errors.Is(err, target) }
