package oci

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// layerStream is the uncompressed tar stream of one layer. finish drains
// what the tar reader left unread so that the blob's digest is checked,
// and commits or discards a cache file and a spill.
type layerStream struct {
	io.Reader
	verify *verifier // nil when reading a spill, verified when it was made
	closes []func() error
	// commits run once the blob has been read whole and verified.
	commits []func() error
	// aborts run when it was not.
	aborts []func()
}

// onFinish registers what to do once the layer is read whole and verified
// (commit) and what to do otherwise (abort).
func (ls *layerStream) onFinish(commit func() error, abort func()) {
	ls.commits = append(ls.commits, commit)
	ls.aborts = append(ls.aborts, abort)
}

// finish drains the stream and the blob, and reports a digest mismatch.
func (ls *layerStream) finish() error {
	if _, err := io.Copy(io.Discard, ls.Reader); err != nil {
		return fmt.Errorf("reading past the end of the archive: %w", err)
	}
	if ls.verify != nil {
		if _, err := io.Copy(io.Discard, ls.verify); err != nil {
			return err
		}
	}
	for len(ls.commits) > 0 {
		if err := ls.commits[0](); err != nil {
			return err
		}
		ls.commits, ls.aborts = ls.commits[1:], ls.aborts[1:]
	}
	return nil
}

// close releases everything; a cache file or spill not committed is
// removed.
func (ls *layerStream) close() {
	for i := len(ls.closes) - 1; i >= 0; i-- {
		ls.closes[i]()
	}
	for _, abort := range ls.aborts {
		abort()
	}
	ls.aborts = nil
}

// openLayer returns the verified, decompressed tar stream of layer i.
func (s *Source) openLayer(ctx context.Context, i int) (*layerStream, error) {
	info := s.layers[i]
	if ls, ok, err := s.openSpill(ctx, i); ok || err != nil {
		return ls, err
	}
	ls := &layerStream{}
	var raw io.ReadCloser
	var err error
	if s.kind == kindArchive {
		raw, err = s.uncompressedBlob(info)
	} else {
		raw, err = s.compressedBlob(ctx, info, ls)
	}
	if err != nil {
		return nil, err
	}
	ls.closes = append(ls.closes, raw.Close)
	var r io.Reader = ctxReader{ctx, raw}
	if s.opts.Progress != nil {
		r = &progressReader{r: r, fn: s.opts.Progress, ev: Progress{Layer: i, Layers: len(s.layers), Digest: info.Digest, Total: info.Size}}
	}
	if s.kind == kindArchive {
		ls.verify = newVerifier(r, info.DiffID, -1)
		ls.Reader = ls.verify
		return ls, nil
	}
	ls.verify = newVerifier(r, info.Digest, info.Size)
	inflated := false
	if ls.Reader, inflated, err = decompress(ls.verify, ls); err != nil {
		ls.close()
		return nil, err
	}
	if inflated {
		s.startSpill(i, ls)
	}
	return ls, nil
}

// decompress detects gzip, zstd or plain tar from the first bytes, and
// says whether it decompresses.
func decompress(r io.Reader, ls *layerStream) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("reading blob: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, false, fmt.Errorf("opening gzip stream: %w", err)
		}
		ls.closes = append(ls.closes, zr.Close)
		return zr, true, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, false, fmt.Errorf("opening zstd stream: %w", err)
		}
		ls.closes = append(ls.closes, func() error { zr.Close(); return nil })
		return zr, true, nil
	}
	return br, false, nil
}

func (s *Source) uncompressedBlob(info LayerInfo) (io.ReadCloser, error) {
	l, err := s.img.LayerByDiffID(info.DiffID)
	if err != nil {
		return nil, fmt.Errorf("finding layer: %w", err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("opening layer: %w", err)
	}
	return rc, nil
}

// compressedBlob opens the blob from the cache, the layout or the
// registry; a registry blob is teed into a temporary cache file that ls
// commits once verified.
func (s *Source) compressedBlob(ctx context.Context, info LayerInfo, ls *layerStream) (io.ReadCloser, error) {
	if s.kind != kindRemote {
		l, err := s.img.LayerByDigest(info.Digest)
		if err != nil {
			return nil, fmt.Errorf("finding layer: %w", err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("opening layer: %w", err)
		}
		return rc, nil
	}
	cached := ""
	if s.opts.CacheDir != "" {
		cached = filepath.Join(s.opts.CacheDir, info.Digest.String())
		if f, err := os.Open(cached); err == nil {
			// When the walk fails, a cached blob that does not match its
			// digest is dropped so that the next run downloads it again.
			ls.onFinish(func() error { return nil }, func() {
				if !fileMatches(cached, info.Digest) {
					os.Remove(cached)
				}
			})
			return f, nil
		}
	}
	l, err := s.puller.Layer(ctx, s.repo.Digest(info.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("fetching layer: %w", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetching layer: %w", err)
	}
	if cached == "" {
		return rc, nil
	}
	return teeToCache(rc, cached, ls)
}

func teeToCache(rc io.ReadCloser, cached string, ls *layerStream) (io.ReadCloser, error) {
	if err := os.MkdirAll(filepath.Dir(cached), 0o700); err != nil {
		rc.Close()
		return nil, fmt.Errorf("creating cache directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(cached), "tmp-*")
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("creating cache file: %w", err)
	}
	ls.closes = append(ls.closes, tmp.Close)
	ls.onFinish(func() error {
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("writing cache file: %w", err)
		}
		if err := os.Rename(tmp.Name(), cached); err != nil {
			return fmt.Errorf("committing cache file: %w", err)
		}
		return nil
	}, func() { tmp.Close(); os.Remove(tmp.Name()) })
	return readCloser{io.TeeReader(rc, tmp), rc.Close}, nil
}

// fileMatches reports whether the file at p has digest want.
func fileMatches(p string, want v1.Hash) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	got, _, err := v1.SHA256(f)
	return err == nil && got == want
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// verifier hashes what is read through it and, at the end of the stream,
// fails with ErrDigestMismatch unless the size and digest match.
type verifier struct {
	r       io.Reader
	h       hash.Hash
	want    v1.Hash
	size, n int64
	err     error
}

func newVerifier(r io.Reader, want v1.Hash, size int64) *verifier {
	return &verifier{r: r, h: sha256.New(), want: want, size: size}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n > v.size {
		v.err = fmt.Errorf("blob is longer than %d bytes: %w", v.size, ErrDigestMismatch)
		return n, v.err
	}
	switch {
	case errors.Is(err, io.EOF):
		err = v.check()
	case err != nil && isRemoteVerifyError(err):
		err = fmt.Errorf("blob %s: %w: %w", v.want, err, ErrDigestMismatch)
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// isRemoteVerifyError reports whether err is go-containerregistry's own
// size or digest check failing on a registry blob. Its remote layers verify
// while they are read and report a mismatch before this verifier sees EOF,
// with an error type that lives in an internal package, so only its message
// ("error verifying sha256 checksum …", "error verifying size …") tells.
// Mapping it keeps ErrDigestMismatch the one error callers test for.
func isRemoteVerifyError(err error) bool {
	return strings.HasPrefix(err.Error(), "error verifying ")
}

func (v *verifier) check() error {
	if v.want.Algorithm != "sha256" {
		return fmt.Errorf("unsupported digest algorithm %q", v.want.Algorithm)
	}
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("blob has %d bytes, want %d: %w", v.n, v.size, ErrDigestMismatch)
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
		return fmt.Errorf("blob has digest sha256:%s, want %s: %w", got, v.want, ErrDigestMismatch)
	}
	return io.EOF
}

// progressReader reports bytes read at most once per MiB and at the end.
type progressReader struct {
	r     io.Reader
	fn    func(Progress)
	ev    Progress
	last  int64
	ended bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.ev.Complete += int64(n)
	if p.ev.Complete-p.last >= 1<<20 || (err != nil && !p.ended) {
		p.last, p.ended = p.ev.Complete, err != nil
		p.fn(p.ev)
	}
	return n, err
}
