package diskformat

import (
	"context"
	"fmt"
	"io"
	"os"
)

// sink is the output side of a conversion. It counts bytes and, when the
// destination is a regular file with nothing after the current position,
// turns zero runs (explicit ones and zero 4 KiB pieces of written data)
// into holes; otherwise it writes every byte. The bytes are the same
// either way.
type sink struct {
	w       io.Writer
	f       *os.File // non-nil when zeros may be skipped by seeking
	off     int64    // bytes emitted, holes included
	pending int64    // zeros skipped but not yet seeked over (f != nil)
	zeros   []byte
}

func newSink(dst io.Writer) *sink {
	s := &sink{w: dst}
	if f, ok := dst.(*os.File); ok && seekableAtEnd(f) {
		s.f = f
	}
	return s
}

// seekableAtEnd reports whether f is a regular file positioned at or past
// its end, so that seeking forward leaves zeros behind.
func seekableAtEnd(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	return err == nil && pos >= fi.Size()
}

// holeGrain is the granularity at which written data is checked for zeros.
const holeGrain = 4 * kib

// Write implements io.Writer.
func (s *sink) Write(p []byte) (int, error) {
	if s.f == nil {
		return s.write(p)
	}
	n := len(p)
	for len(p) > 0 {
		// Split p into a data run and the zero run after it, in pieces
		// aligned to the output offset so holes match fs blocks.
		data, zeros, off := 0, 0, s.off
		for data+zeros < len(p) {
			k := min(len(p)-data-zeros, int(holeGrain-(off+int64(data+zeros))%holeGrain))
			z := isZero(p[data+zeros : data+zeros+k])
			if !z && zeros > 0 {
				break
			}
			if z {
				zeros += k
			} else {
				data += k
			}
		}
		if _, err := s.write(p[:data]); err != nil {
			return n - len(p), err
		}
		s.pending += int64(zeros)
		s.off += int64(zeros)
		p = p[data+zeros:]
	}
	return n, nil
}

func (s *sink) write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.seekPending(); err != nil {
		return 0, err
	}
	n, err := s.w.Write(p)
	s.off += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing output at %d: %w", s.off, err)
	}
	return n, nil
}

func (s *sink) seekPending() error {
	if s.pending == 0 {
		return nil
	}
	if _, err := s.f.Seek(s.pending, io.SeekCurrent); err != nil {
		return fmt.Errorf("seeking output over a hole at %d: %w", s.off, err)
	}
	s.pending = 0
	return nil
}

// zero emits n zero bytes, as a hole when it can.
func (s *sink) zero(ctx context.Context, n int64) error {
	if s.f != nil {
		s.pending += n
		s.off += n
		return nil
	}
	if s.zeros == nil {
		s.zeros = make([]byte, 256*kib)
	}
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(n, int64(len(s.zeros)))
		if _, err := s.Write(s.zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// pad emits zeros up to the next multiple of align.
func (s *sink) pad(ctx context.Context, align int64) error {
	if r := s.off % align; r != 0 {
		return s.zero(ctx, align-r)
	}
	return nil
}

// finish materialises a trailing hole by extending the file.
func (s *sink) finish() error {
	if s.pending == 0 {
		return nil
	}
	end, err := s.f.Seek(s.pending, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("seeking output over a hole at %d: %w", s.off, err)
	}
	s.pending = 0
	if err := s.f.Truncate(end); err != nil {
		return fmt.Errorf("extending output to %d: %w", end, err)
	}
	return nil
}

// copyRange copies n bytes of f from off to s through buf, checking ctx
// between reads.
func copyRange(ctx context.Context, f *os.File, off, n int64, s io.Writer, buf []byte) error {
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(n, int64(len(buf)))
		if _, err := f.ReadAt(buf[:k], off); err != nil {
			return fmt.Errorf("reading raw disk %s at %d: %w", f.Name(), off, err)
		}
		if _, err := s.Write(buf[:k]); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

// writeExtents streams the raw disk: data extents copied, holes as zeros.
func writeExtents(ctx context.Context, f *os.File, exts []Extent, s *sink) error {
	buf := make([]byte, copyBufSize)
	for _, e := range exts {
		var err error
		if e.Data {
			err = copyRange(ctx, f, e.Offset, e.Length, s, buf)
		} else {
			err = s.zero(ctx, e.Length)
		}
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// writeRaw is the raw format: a sparse copy.
func writeRaw(ctx context.Context, f *os.File, exts []Extent, dst io.Writer, _ Options) error {
	s := newSink(dst)
	if err := writeExtents(ctx, f, exts, s); err != nil {
		return err
	}
	return s.finish()
}
