package oci

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// TestPathTree adds many paths (enough to grow the index many times and
// fill several node and name chunks) and checks that each is found again
// with the same node, that its node spells it, and that near misses are
// not found.
func TestPathTree(t *testing.T) {
	long := strings.Repeat("n", 250)
	tests := []struct {
		name  string
		paths func(i int) string
		n     int
	}{
		{name: "siblings", n: 3 * nodeChunk, paths: func(i int) string { return fmt.Sprintf("usr/lib/f%d", i) }},
		{name: "wide tree", n: 20000, paths: func(i int) string { return fmt.Sprintf("d%d/e%d/f%d", i%7, i%101, i) }},
		{name: "deep", n: 300, paths: func(i int) string { return strings.Repeat("x/", i) + "y" }},
		{name: "long names over chunks", n: 2 * nameChunk / 250, paths: func(i int) string { return fmt.Sprintf("%s/%s%04d", long, long[:240], i) }},
		{name: "same names in different dirs", n: 5000, paths: func(i int) string { return fmt.Sprintf("%d/a/b", i) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newPathTree()
			ids := make([]uint32, tc.n)
			for i := range tc.n {
				p := tc.paths(i)
				chain, err := tr.extend(p, tr.walk(p, nil))
				if err != nil {
					t.Fatal(err)
				}
				if len(chain) != depth(p)+1 {
					t.Fatalf("%q: chain of %d nodes", p, len(chain))
				}
				ids[i] = chain[len(chain)-1]
			}
			seen := map[uint32]bool{}
			for i := range tc.n {
				p := tc.paths(i)
				chain := tr.walk(p, nil)
				if len(chain) != depth(p)+1 || chain[len(chain)-1] != ids[i] {
					t.Fatalf("%q: found %v, want a chain ending at node %d", p, chain, ids[i])
				}
				if got := spell(tr, ids[i]); got != p {
					t.Fatalf("node %d spells %q, want %q", ids[i], got, p)
				}
				for _, miss := range []string{p + "z", p + "/z", "z/" + p} {
					if c := tr.walk(miss, nil); len(c) == depth(miss)+1 {
						t.Fatalf("%q found as node %d", miss, c[len(c)-1])
					}
				}
				if seen[ids[i]] {
					t.Fatalf("node %d given twice", ids[i])
				}
				seen[ids[i]] = true
			}
		})
	}
}

// spell rebuilds a node's path from its parents and names.
func spell(tr *pathTree, id uint32) string {
	var els []string
	for id != rootNode {
		n := tr.node(id)
		els = append([]string{string(tr.name(n))}, els...)
		id = n.parent
	}
	return strings.Join(els, "/")
}

func TestAncestor(t *testing.T) {
	tests := []struct {
		name, p string
		i       int
		want    string
	}{
		{name: "root", p: "a/b/c", i: 0, want: "."},
		{name: "first", p: "a/b/c", i: 1, want: "a"},
		{name: "second", p: "aa/bb/cc", i: 2, want: "aa/bb"},
		{name: "whole", p: "a/b/c", i: 3, want: "a/b/c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ancestor(tc.p, tc.i); got != tc.want {
				t.Errorf("ancestor(%q, %d) = %q, want %q", tc.p, tc.i, got, tc.want)
			}
		})
	}
}

// synthStack yields the headers of a large image, top layer first, like
// a tar reader would (a fresh name string per entry): a bottom layer of
// n files in package-like directories, and two upper layers that replace,
// delete and hardlink some of them and make one directory opaque.
func synthStack(n int, yield func(layer int, h *tar.Header) bool) {
	file := func(i int) string {
		return fmt.Sprintf("usr/lib/python3.12/site-packages/pkg%04d/module_%06d.py", i/200, i)
	}
	top := []func(int) *tar.Header{
		func(i int) *tar.Header { // replaced files
			if i%53 != 0 {
				return nil
			}
			return &tar.Header{Name: file(i), Typeflag: tar.TypeReg}
		},
		func(i int) *tar.Header { // hardlinks to bottom files
			if i%211 != 1 || (i-1)%97 == 2 || (i-1)/200 == 3 {
				return nil // not to a deleted or hidden file
			}
			return &tar.Header{Name: file(i) + ".link", Typeflag: tar.TypeLink, Linkname: file(i - 1)}
		},
	}
	middle := func(i int) *tar.Header { // deletions
		if i%97 != 2 {
			return nil
		}
		return &tar.Header{Name: whiteoutName(file(i)), Typeflag: tar.TypeReg}
	}
	for i := range n {
		for _, f := range top {
			if h := f(i); h != nil && !yield(0, h) {
				return
			}
		}
	}
	if !yield(1, &tar.Header{Name: "usr/lib/python3.12/site-packages/pkg0003/" + opaqueMarker, Typeflag: tar.TypeReg}) {
		return
	}
	for i := range n {
		if h := middle(i); h != nil && !yield(1, h) {
			return
		}
	}
	for i := range n {
		if i%200 == 0 && !yield(2, &tar.Header{Name: file(i)[:strings.LastIndexByte(file(i), '/')+1], Typeflag: tar.TypeDir}) {
			return
		}
		if !yield(2, &tar.Header{Name: file(i), Typeflag: tar.TypeReg, Mode: 0o644}) {
			return
		}
	}
}

// runStack flattens synthStack(n) with the adder mk makes and returns the
// heap it still holds at the end, before finish, and what it delivered.
func runStack(t testing.TB, n int, mk func(rootfs.Sink) adder) (heap int64, log []string) {
	sink := rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) {
		if e.Type == rootfs.TypeHardlink || len(log) < 1000 {
			log = append(log, fmt.Sprintf("%v %q %q", e.Type, e.Path, e.Linkname))
		}
		return nil, nil
	})
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, layer := mk(sink), -1
	var err error
	synthStack(n, func(l int, h *tar.Header) bool {
		if l != layer {
			layer = l
			f.setLayer(l, fmt.Sprint(l))
		}
		err = f.add(ctx, h, nil, nil)
		return err == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if err := f.finish(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(f)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), log
}

// TestFlattenerMemory flattens a large stack with the tree and with the
// reference maps: both deliver the same, and the tree holds well under
// half the heap per entry (~35 bytes against ~130).
func TestFlattenerMemory(t *testing.T) {
	n := 200000
	if testing.Short() || raceEnabled {
		n = 50000
	}
	refHeap, want := runStack(t, n, newRefAdder)
	heap, got := runStack(t, n, newTreeAdder)
	if !equalLines(got, want) {
		t.Fatalf("the tree delivered %d lines, the reference %d, or different ones", len(got), len(want))
	}
	per, refPer := float64(heap)/float64(n), float64(refHeap)/float64(n)
	t.Logf("heap per entry: tree %.1f bytes, reference maps %.1f bytes", per, refPer)
	if per > 50 || per > refPer/2 {
		t.Errorf("tree holds %.1f bytes per entry (reference %.1f), want at most 50 and half", per, refPer)
	}
}

// BenchmarkFlattener reports the heap each flattener holds per entry of
// a large stack (B/entry) besides the time per entry.
func BenchmarkFlattener(b *testing.B) {
	const n = 200000
	for _, bc := range []struct {
		name string
		mk   func(rootfs.Sink) adder
	}{{name: "tree", mk: newTreeAdder}, {name: "maps", mk: newRefAdder}} {
		b.Run(bc.name, func(b *testing.B) {
			var heap int64
			for b.Loop() {
				heap, _ = runStack(b, n, bc.mk)
			}
			b.ReportMetric(float64(heap)/n, "B/entry")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
		})
	}
}
