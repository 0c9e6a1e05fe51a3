package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// chunkSize is the buffer used to copy file data to sinks.
const chunkSize = 1 << 20

// maxSymlink is the longest symlink target Linux accepts (PATH_MAX - 1).
const maxSymlink = 4095

// Walk flattens the image's layers and hands every surviving entry to sink
// exactly once. Layers are read top first: the first version of a path
// wins, whiteouts and opaque directories hide what lies below them, and
// hardlinks are delivered last, once their targets are known to survive.
// Errors name the layer digest and the entry; an error returned by sink is
// wrapped with the entry's path.
func (s *Source) Walk(ctx context.Context, sink rootfs.Sink) error {
	if len(s.layers) > maxTreeLayers {
		return fmt.Errorf("image has %d layers: %w", len(s.layers), errTooManyLayers)
	}
	f := newFlattener(sink)
	buf := make([]byte, chunkSize)
	for i := len(s.layers) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.layer, f.digest = len(s.layers)-1-i, s.layers[i].Digest.String()
		if err := s.walkLayer(ctx, i, f, buf); err != nil {
			return fmt.Errorf("layer %s: %w", f.digest, err)
		}
	}
	return f.finish(ctx)
}

func (s *Source) walkLayer(ctx context.Context, i int, f *flattener, buf []byte) error {
	ls, err := s.openLayer(ctx, i)
	if err != nil {
		return err
	}
	defer ls.close()
	tr := tar.NewReader(ls)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := f.add(ctx, hdr, ctxReader{ctx, tr}, buf); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	return ls.finish()
}

var tarTypes = map[byte]rootfs.Type{
	tar.TypeReg: rootfs.TypeReg, tar.TypeCont: rootfs.TypeReg, tar.TypeGNUSparse: rootfs.TypeReg,
	tar.TypeDir: rootfs.TypeDir, tar.TypeSymlink: rootfs.TypeSymlink, tar.TypeLink: rootfs.TypeHardlink,
	tar.TypeChar: rootfs.TypeChar, tar.TypeBlock: rootfs.TypeBlock, tar.TypeFifo: rootfs.TypeFIFO,
}

// toEntry validates hdr and converts it to an Entry at path p.
func toEntry(hdr *tar.Header, p string) (rootfs.Entry, error) {
	typ, ok := tarTypes[hdr.Typeflag]
	if !ok {
		return rootfs.Entry{}, fmt.Errorf("unsupported tar type %q: %w", hdr.Typeflag, ErrBadEntry)
	}
	if p == "." && typ != rootfs.TypeDir {
		return rootfs.Entry{}, fmt.Errorf("root is a %v: %w", typ, ErrBadEntry)
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) > math.MaxUint32 || int64(hdr.Gid) > math.MaxUint32 {
		return rootfs.Entry{}, fmt.Errorf("owner %d:%d out of range: %w", hdr.Uid, hdr.Gid, ErrBadEntry)
	}
	e := rootfs.Entry{
		Path: p, Type: typ, Mode: uint32(hdr.Mode) & rootfs.ModePerm,
		UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), ModTime: hdr.ModTime.UTC(),
	}
	switch typ {
	case rootfs.TypeReg:
		e.Size = hdr.Size
	case rootfs.TypeSymlink:
		if hdr.Linkname == "" || len(hdr.Linkname) > maxSymlink {
			return e, fmt.Errorf("symlink target of %d bytes: %w", len(hdr.Linkname), ErrBadEntry)
		}
		e.Linkname = hdr.Linkname
	case rootfs.TypeHardlink:
		t, err := cleanName(hdr.Linkname)
		if err != nil {
			return e, fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
		}
		if t == "." || t == p {
			return e, fmt.Errorf("hardlink to %q: %w", t, ErrBadHardlink)
		}
		e.Linkname = t
	case rootfs.TypeChar, rootfs.TypeBlock:
		if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor > math.MaxUint32 {
			return e, fmt.Errorf("device %d:%d out of range: %w", hdr.Devmajor, hdr.Devminor, ErrBadEntry)
		}
		e.Devmajor, e.Devminor = uint32(hdr.Devmajor), uint32(hdr.Devminor)
	}
	e.Xattrs = xattrs(hdr)
	return e, nil
}

// xattrs collects SCHILY.xattr PAX records.
func xattrs(hdr *tar.Header) map[string][]byte {
	const prefix = "SCHILY.xattr."
	var m map[string][]byte
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			if m == nil {
				m = map[string][]byte{}
			}
			m[name] = []byte(v)
		}
	}
	return m
}

// cleanName cleans a tar name or hardlink target with rootfs.CleanPath and
// rejects escapes and over-long elements.
func cleanName(n string) (string, error) {
	p, ok := rootfs.CleanPath(n)
	if !ok {
		return "", ErrUnsafePath
	}
	if err := checkElements(p); err != nil {
		return "", err
	}
	return p, nil
}

func checkElements(p string) error {
	for el := range strings.SplitSeq(p, "/") {
		if len(el) > 255 {
			return fmt.Errorf("element %.20q…: %w", el, ErrNameTooLong)
		}
	}
	return nil
}

// emit hands e to the sink and copies a regular file's data to the writer
// it returns.
func emit(ctx context.Context, sink rootfs.Sink, e *rootfs.Entry, data io.Reader, buf []byte) error {
	w, err := sink.Add(e)
	if err != nil {
		return fmt.Errorf("adding %q: %w", e.Path, err)
	}
	if w == nil {
		return nil
	}
	if e.Type != rootfs.TypeReg {
		return w.Close()
	}
	if _, err := io.CopyBuffer(w, ctxReader{ctx, data}, buf); err != nil {
		w.Close()
		return fmt.Errorf("copying data of %q: %w", e.Path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("closing %q: %w", e.Path, err)
	}
	return nil
}
