package oci

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/s2"
)

// Layer spill.
//
// The installer walks a derivative twice: headers first, to size the
// partitions, then the file data into the images. Inflating gzip is the
// largest single cost of a build, and it paid it in both walks: 2.2 s per
// walk for the default derivative's 458 MiB of tar, of about 9 s of CPU,
// and the first walk runs on one core. With Options.SpillDir set, a Walk
// that inflates a layer also keeps the tar it inflated as an S2 stream
// (klauspost/compress/s2: about 40% of the tar here, written by the
// encoder's own goroutines while the inflater runs, read back at about
// 1 GB/s with a CRC per block), and later Walks read that instead of the
// blob. The spill is kept only when the layer was read whole and its blob
// digest verified, so a later Walk sees exactly the bytes that were
// verified; a spill that cannot be written (a full disk, say) is dropped
// and the next Walk inflates the blob again. Layers stored uncompressed
// are not spilled: reading them twice costs no more than reading a spill.

// spillName is the committed spill file of layer i.
func (s *Source) spillName(i int) string {
	return filepath.Join(s.opts.SpillDir, fmt.Sprintf("layer-%d.s2", i))
}

// startSpill tees the inflated stream of layer i into a new spill file,
// committed when ls finishes. It does nothing without a SpillDir or when
// the file cannot be created.
func (s *Source) startSpill(i int, ls *layerStream) {
	if s.opts.SpillDir == "" {
		return
	}
	f, err := os.CreateTemp(s.opts.SpillDir, "spill-*")
	if err != nil {
		return
	}
	sw := &spillWriter{f: f}
	sw.w = s2.NewWriter(sw.f)
	ls.Reader = io.TeeReader(ls.Reader, sw)
	ls.onFinish(func() error {
		closeErr := sw.w.Close()
		if err := f.Close(); sw.err == nil && closeErr == nil && err == nil {
			if os.Rename(f.Name(), s.spillName(i)) == nil {
				return nil
			}
		}
		os.Remove(f.Name())
		return nil
	}, func() {
		sw.w.Close()
		f.Close()
		os.Remove(f.Name())
	})
}

// spillWriter feeds the S2 encoder and swallows its first error, so a
// spill that fails costs the Walk nothing: the spill is dropped at the end.
type spillWriter struct {
	f   *os.File
	w   *s2.Writer
	err error
}

func (sw *spillWriter) Write(p []byte) (int, error) {
	if sw.err == nil {
		_, sw.err = sw.w.Write(p)
	}
	return len(p), nil
}

// openSpill opens the spill of layer i, if one was committed.
func (s *Source) openSpill(ctx context.Context, i int) (*layerStream, bool, error) {
	if s.opts.SpillDir == "" {
		return nil, false, nil
	}
	f, err := os.Open(s.spillName(i))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("opening the spill of layer %s: %w", s.layers[i].Digest, err)
	}
	ls := &layerStream{closes: []func() error{f.Close}}
	ls.Reader = ctxReader{ctx, s2.NewReader(f)}
	if s.opts.Progress != nil {
		info := s.layers[i]
		ls.onFinish(func() error {
			s.opts.Progress(Progress{Layer: i, Layers: len(s.layers), Digest: info.Digest, Complete: info.Size, Total: info.Size})
			return nil
		}, func() {})
	}
	return ls, true, nil
}
