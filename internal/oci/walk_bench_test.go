package oci_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"

	"github.com/elemental-suite/elemental/bench/synth"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// benchImage is a 64 MiB synthetic derivative (bench/synth): large and
// small files, hardlinks, whiteouts, seven layers.
func benchImage(b *testing.B) *synth.Image {
	b.Helper()
	im, err := synth.Ensure(b.TempDir(), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	return im
}

// discardSink takes every entry and drops file data.
var discardSink = rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) {
	if e.Type == rootfs.TypeReg {
		return rootfs.Discard(), nil
	}
	return nil, nil
})

// BenchmarkWalk measures layer reading (verify, gunzip, tar, flatten) into
// a sink that discards; bytes are the file data the layers hold.
func BenchmarkWalk(b *testing.B) {
	im := benchImage(b)
	src, err := oci.Open(context.Background(), im.Ref(), oci.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(im.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		if err := src.Walk(context.Background(), discardSink); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGunzip decompresses the largest layer blob of the synthetic
// image with the reader oci uses (klauspost), the standard library's and
// pgzip's read-ahead reader; bytes are the uncompressed bytes.
func BenchmarkGunzip(b *testing.B) {
	im := benchImage(b)
	blob := largestBlob(b, filepath.Join(im.Dir, "blobs", "sha256"))
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		b.Fatal(err)
	}
	readers := []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{name: "klauspost", open: func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{name: "stdlib", open: func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) }},
		{name: "pgzip", open: func(r io.Reader) (io.Reader, error) { return pgzip.NewReader(r) }},
	}
	for _, rd := range readers {
		b.Run(rd.name, func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				r, err := rd.open(bytes.NewReader(blob))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func largestBlob(b *testing.B, dir string) []byte {
	b.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var best []byte
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if len(data) > len(best) && bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			best = data
		}
	}
	return best
}
