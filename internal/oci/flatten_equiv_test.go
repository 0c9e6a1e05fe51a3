package oci

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// adder is what the flattener and its reference have in common.
type adder interface {
	add(ctx context.Context, hdr *tar.Header, data io.Reader, buf []byte) error
	finish(ctx context.Context) error
	setLayer(layer int, digest string)
}

func (f *flattener) setLayer(l int, d string)    { f.layer, f.digest = l, d }
func (f *refFlattener) setLayer(l int, d string) { f.layer, f.digest = l, d }

// flattenLog runs layers (top first) through the adder made by mk the way
// Walk does and returns what the sink got, one line per entry, and the
// error, as text.
func flattenLog(layers [][]*tar.Header, mk func(rootfs.Sink) adder) []string {
	var log []string
	sink := rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) {
		log = append(log, fmt.Sprintf("%v %q %q %o", e.Type, e.Path, e.Linkname, e.Mode))
		if e.Type == rootfs.TypeReg {
			return rootfs.Discard(), nil
		}
		return nil, nil
	})
	f := mk(sink)
	ctx := context.Background()
	for i, l := range layers {
		f.setLayer(i, fmt.Sprint("layer", i))
		for _, h := range l {
			if err := f.add(ctx, h, strings.NewReader(""), make([]byte, 16)); err != nil {
				return append(log, fmt.Sprintf("error: layer %d: entry %q: %v", i, h.Name, err))
			}
		}
	}
	if err := f.finish(ctx); err != nil {
		return append(log, "error: "+err.Error())
	}
	return log
}

func newTreeAdder(s rootfs.Sink) adder { return newFlattener(s) }
func newRefAdder(s rootfs.Sink) adder  { return newRefFlattener(s) }

// fzElems are the path elements random stacks are made of: few, so that
// paths collide across and within layers.
var fzElems = []string{"a", "b", "c", "d"}

// pathOf decodes a path of up to three elements from b ("." sometimes).
func pathOf(b byte) string {
	n := int(b>>6) % 4
	if n == 0 && b&1 == 1 {
		return "."
	}
	var els []string
	for i := range n {
		els = append(els, fzElems[int(b>>(2*i))&3])
	}
	if len(els) == 0 {
		els = append(els, fzElems[b&3])
	}
	return strings.Join(els, "/")
}

// randomStack decodes data into a stack of layers (top first) of entries,
// whiteouts and opaque markers over paths of at most three elements.
func randomStack(data []byte) [][]*tar.Header {
	layers := [][]*tar.Header{nil}
	// Names and non-directories of the current layer, and every
	// non-directory so far (hardlink targets).
	used, nondir := map[string]bool{}, map[string]bool{}
	var files []string
	for len(data) >= 3 {
		op, p, q := data[0], pathOf(data[1]), pathOf(data[2])
		data = data[3:]
		kind, strict := op%10, op&0xe0 != 0 // strict: avoid what only fails
		if p == "." && kind != 1 && kind != 5 {
			p = "b"
		}
		if kind == 3 && strict && len(files) > 0 {
			q = files[int(data2(q))%len(files)]
		}
		if q == p || q == "." {
			q = "c/d"
		}
		h := &tar.Header{Name: p, Mode: int64(op) & 0o7, Typeflag: tar.TypeReg}
		switch kind {
		case 0, 8:
			layers, used, nondir = append(layers, nil), map[string]bool{}, map[string]bool{}
			continue
		case 1:
			h.Typeflag = tar.TypeDir
			if op&0x10 != 0 {
				h.Name = p + "/" // trailing slash, as tar writes directories
			}
		case 2:
			h.Typeflag, h.Linkname = tar.TypeSymlink, q
		case 3:
			h.Typeflag, h.Linkname = tar.TypeLink, q
		case 4:
			h.Name = whiteoutName(p)
		case 5:
			h.Name = strings.TrimPrefix(p+"/"+opaqueMarker, "./")
		case 6:
			h.Typeflag = tar.TypeChar
		case 7:
			h.Name = "./" + p // the same path spelt differently
		}
		key := strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./")
		isDir := h.Typeflag == tar.TypeDir || kind == 4 || kind == 5
		if strict && conflicts(key, p, isDir, used, nondir) {
			continue
		}
		used[key] = true
		if !isDir {
			nondir[p] = true
			files = append(files, p)
		}
		layers[len(layers)-1] = append(layers[len(layers)-1], h)
	}
	return layers
}

func data2(s string) int { return len(s)*7 + int(s[0]) }

// conflicts reports whether an entry named key at p would be a duplicate
// in its layer, lie below a non-directory of its layer or, not being a
// directory, lie above entries of its layer.
func conflicts(key, p string, isDir bool, used, nondir map[string]bool) bool {
	if used[key] {
		return true
	}
	for d := p; strings.Contains(d, "/"); {
		d = d[:strings.LastIndexByte(d, '/')]
		if nondir[d] {
			return true
		}
	}
	if !isDir {
		for u := range used {
			if strings.HasPrefix(u, p+"/") {
				return true
			}
		}
	}
	return false
}

func whiteoutName(p string) string {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1] + whiteoutPrefix + p[i+1:]
}

// TestFlattenerMatchesReference feeds random layer stacks to the
// tree-based flattener and to the map-based reference: the entries
// delivered (order, type, path, target, mode) and the errors must be the
// same.
func TestFlattenerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	n := 20000
	if testing.Short() || raceEnabled {
		n = 2000
	}
	failed, errs := 0, 0
	for i := range n {
		data := make([]byte, 3*(1+rng.IntN(40)))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		want := flattenLog(randomStack(data), newRefAdder)
		got := flattenLog(randomStack(data), newTreeAdder)
		if len(want) > 0 && strings.HasPrefix(want[len(want)-1], "error") {
			errs++
		}
		if !equalLines(got, want) {
			t.Errorf("stack %d (%x):\n got %q\nwant %q", i, data, got, want)
			if failed++; failed > 5 {
				t.FailNow()
			}
		}
	}
	// The generator must reach both outcomes often.
	if errs < n/10 || errs > n*9/10 {
		t.Errorf("%d of %d stacks failed; the generator is lopsided", errs, n)
	}
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzFlattener is TestFlattenerMatchesReference under the fuzzing engine.
func FuzzFlattener(f *testing.F) {
	f.Add([]byte{1, 0x40, 0, 3, 0x41, 0x40, 0, 0, 0, 2, 0x41, 0x80})
	f.Add([]byte{4, 0x40, 0, 0, 0, 0, 1, 0x80, 0, 5, 0x40, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		want := flattenLog(randomStack(data), newRefAdder)
		got := flattenLog(randomStack(data), newTreeAdder)
		if !equalLines(got, want) {
			t.Fatalf("got %q\nwant %q", got, want)
		}
	})
}
