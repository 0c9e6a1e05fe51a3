package synth_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/bench/synth"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// tree records the flattened image: path → entry.
type tree struct {
	mu      sync.Mutex
	entries map[string]rootfs.Entry
	bytes   int64
}

func (t *tree) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries[e.Path] = *e
	if e.Type == rootfs.TypeReg {
		t.bytes += e.Size
		return rootfs.Discard(), nil
	}
	return nil, nil
}

func walk(t *testing.T, im *synth.Image) *tree {
	t.Helper()
	src, err := oci.Open(context.Background(), im.Ref(), oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &tree{entries: map[string]rootfs.Entry{}}
	if err := src.Walk(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestEnsure(t *testing.T) {
	const size = 16 << 20
	dir := t.TempDir()
	im, err := synth.Ensure(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	tr := walk(t, im)
	tests := []struct {
		name    string
		path    string
		present bool
		typ     rootfs.Type
	}{
		{name: "large file", path: "usr/lib/synth/large/blob0.bin", present: true, typ: rootfs.TypeReg},
		{name: "hardlink to large file", path: "usr/lib/synth/large/blob0.bin.link", present: true, typ: rootfs.TypeHardlink},
		{name: "whited-out large file", path: "usr/lib/synth/large/old0.bin"},
		{name: "whited-out small file", path: "usr/share/synth/d000/f000097"},
		{name: "kept small file", path: "usr/share/synth/d000/f000098", present: true, typ: rootfs.TypeReg},
		{name: "symlink", path: "usr/share/synth/links/s000100", present: true, typ: rootfs.TypeSymlink},
		{name: "file below opaque dir", path: "var/lib/synth-opaque/o00000"},
		{name: "file above opaque dir", path: "var/lib/synth-opaque/new00", present: true, typ: rootfs.TypeReg},
		{name: "kernel of the derivative", path: "boot/vmlinuz-6.1.0-test", present: true, typ: rootfs.TypeReg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := tr.entries[tc.path]
			if ok != tc.present {
				t.Fatalf("%s present=%v, want %v", tc.path, ok, tc.present)
			}
			if ok && e.Type != tc.typ {
				t.Errorf("%s is a %v, want %v", tc.path, e.Type, tc.typ)
			}
		})
	}
	if tr.bytes < size*8/10 || tr.bytes > size*12/10 {
		t.Errorf("flattened tree holds %d bytes, want about %d", tr.bytes, size)
	}
	hard := 0
	for p, e := range tr.entries {
		if e.Type == rootfs.TypeHardlink && strings.HasPrefix(p, "usr/share/synth/hard/") {
			hard++
		}
	}
	if hard == 0 {
		t.Error("no hardlinks among the small files")
	}
	if im.Layers != 7 || im.Whiteouts == 0 {
		t.Errorf("image has %d layers and %d whiteouts, want 7 and some", im.Layers, im.Whiteouts)
	}

	// Deterministic: a second generation elsewhere gives the same index.
	again, err := synth.Ensure(t.TempDir(), size)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(im.Dir, "index.json"))
	b, _ := os.ReadFile(filepath.Join(again.Dir, "index.json"))
	if string(a) != string(b) || len(a) == 0 {
		t.Errorf("two generations differ:\n%s\n%s", a, b)
	}
	// Cached: Ensure again in the same directory reuses the layout.
	st, _ := os.Stat(filepath.Join(im.Dir, "index.json"))
	if _, err := synth.Ensure(dir, size); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(filepath.Join(im.Dir, "index.json"))
	if !st.ModTime().Equal(st2.ModTime()) {
		t.Error("second Ensure regenerated the cached image")
	}
}
