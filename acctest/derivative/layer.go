package derivative

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// layerSpec says how to turn a directory tree into one image layer.
type layerSpec struct {
	root string // tree to read (as root, so ownership and xattrs are real)
	// skip reports whether a path ("etc/motd", no leading slash) is left out
	// of the layer; a skipped directory is kept but its contents are not.
	skip func(rel string) bool
	// whiteouts are paths deleted by this layer (OCI ".wh." entries).
	whiteouts []string
	epoch     time.Time
}

// writeLayer writes the tree as a gzip-compressed tar layer. Entries come in
// lexical order, mtimes are clamped to the epoch and host user names are not
// recorded, so the same tree always gives the same bytes.
func writeLayer(ctx context.Context, spec layerSpec, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating layer %s: %w", out, err)
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	if err != nil {
		return fmt.Errorf("creating gzip writer for %s: %w", out, err)
	}
	tw := tar.NewWriter(zw)
	w := &treeWriter{tw: tw, spec: spec, links: map[[2]uint64]string{}}
	if err := w.walk(ctx); err != nil {
		return fmt.Errorf("writing layer %s from %s: %w", out, spec.root, err)
	}
	if err := w.writeWhiteouts(); err != nil {
		return fmt.Errorf("writing whiteouts of %s: %w", out, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar of %s: %w", out, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("closing gzip of %s: %w", out, err)
	}
	return f.Close()
}

type treeWriter struct {
	tw    *tar.Writer
	spec  layerSpec
	links map[[2]uint64]string // (dev, inode) of multiply linked files → first name
}

func (w *treeWriter) walk(ctx context.Context) error {
	return filepath.WalkDir(w.spec.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(w.spec.root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if w.spec.skip != nil && w.spec.skip(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return w.add(p, rel)
	})
}

// add writes one entry with its owner, mode, device numbers and xattrs.
func (w *treeWriter) add(p, rel string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	target := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return fmt.Errorf("header for %s: %w", rel, err)
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	// Only the epoch: no atime/ctime, no host user names.
	hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = w.spec.epoch, time.Time{}, time.Time{}
	hdr.Uname, hdr.Gname = "", ""
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("no stat data for %s", rel)
	}
	hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	if fi.Mode().IsRegular() && st.Nlink > 1 {
		id := [2]uint64{st.Dev, st.Ino}
		if first, seen := w.links[id]; seen {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			w.links[id] = rel
		}
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if err := addXattrs(p, hdr); err != nil {
			return fmt.Errorf("xattrs of %s: %w", rel, err)
		}
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("header of %s: %w", rel, err)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(w.tw, f, hdr.Size); err != nil {
		return fmt.Errorf("copying %s: %w", rel, err)
	}
	return nil
}

// addXattrs records extended attributes (security.capability on ping and
// friends) as PAX SCHILY.xattr records, sorted.
func addXattrs(p string, hdr *tar.Header) error {
	size, err := syscall.Listxattr(p, nil)
	if err != nil || size == 0 {
		return nil // no xattr support or none set
	}
	buf := make([]byte, size)
	if size, err = syscall.Listxattr(p, buf); err != nil {
		return err
	}
	var names []string
	for _, n := range strings.Split(string(buf[:size]), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		vsize, err := syscall.Getxattr(p, n, nil)
		if err != nil {
			return err
		}
		val := make([]byte, vsize)
		if vsize, err = syscall.Getxattr(p, n, val); err != nil {
			return err
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+n] = string(val[:vsize])
		hdr.Format = tar.FormatPAX
	}
	return nil
}

// writeWhiteouts adds an empty ".wh.<name>" file per deleted path. Their
// parent directories must be in the tree so the layer stays self-describing.
func (w *treeWriter) writeWhiteouts() error {
	for _, p := range w.spec.whiteouts {
		dir, base := path.Split(strings.TrimPrefix(p, "/"))
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     dir + ".wh." + base,
			Mode:     0o644,
			ModTime:  w.spec.epoch,
		}
		if err := w.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("whiteout for %s: %w", p, err)
		}
	}
	return nil
}
