package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
)

// imageOverhead is added to the tree size for auto-sized images (§2.1).
const imageOverhead = 256 << 20

// deployed is what was written into a tree.
type deployed struct {
	source string // as recorded in state.yaml
	digest string // manifest digest for OCI sources
}

// deploySource fills dir from src: OCI images are pulled and flattened,
// dir: sources and file: images (loop-mounted) are copied with cp -a.
// Failures carry exit code 18.
func deploySource(ctx context.Context, e *env, src source, dir string, insecure bool) (deployed, error) {
	d := deployed{source: src.String()}
	switch src.kind {
	case "oci":
		digest, err := pullInto(ctx, src.ref, dir, insecure)
		if err != nil {
			return d, withCode(exitDumpSource, err)
		}
		d.digest = digest
	case "dir":
		if err := copyTree(ctx, src.ref, dir); err != nil {
			return d, withCode(exitDumpSource, err)
		}
	case "file":
		mnt, unmount, err := loopMountRO(ctx, src.ref)
		if err != nil {
			return d, withCode(exitDumpSource, err)
		}
		err = copyTree(ctx, mnt, dir)
		unmount()
		if err != nil {
			return d, withCode(exitDumpSource, err)
		}
	default:
		return d, codef(exitDumpSource, "unknown source kind %q", src.kind)
	}
	e.logf("Deployed %s into %s", d.source, dir)
	return d, nil
}

// pullInto pulls ref (linux/amd64), flattens its layers and extracts them
// into dir, returning the manifest digest.
func pullInto(ctx context.Context, ref, dir string, insecure bool) (string, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return "", fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	img, err := remote.Image(r, remote.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("pulling %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("reading digest of %s: %w", ref, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := extractTar(ctx, rc, dir); err != nil {
		return "", fmt.Errorf("extracting %s: %w", ref, err)
	}
	return digest.String(), nil
}

// extractTar writes a tar stream under dir keeping owners, modes,
// xattrs, links and device nodes (the stand-in runs as root).
func extractTar(ctx context.Context, r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		p, err := safeJoin(dir, h.Name)
		if err != nil {
			return err
		}
		if err := extractEntry(tr, h, dir, p); err != nil {
			return fmt.Errorf("extracting %s: %w", h.Name, err)
		}
		if h.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTime{p, h.ModTime})
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		ts := []unix.Timespec{unix.NsecToTimespec(dirs[i].t.UnixNano()), unix.NsecToTimespec(dirs[i].t.UnixNano())}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, dirs[i].path, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// safeJoin joins a tar name under dir, refusing names that escape it.
func safeJoin(dir, n string) (string, error) {
	clean := filepath.Clean("/" + n)
	if clean == "/" {
		return dir, nil
	}
	p := filepath.Join(dir, clean)
	if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
		return "", fmt.Errorf("tar entry %q escapes the target", n)
	}
	return p, nil
}

func extractEntry(tr *tar.Reader, h *tar.Header, root, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeDir {
		_ = os.Remove(p)
	}
	mode := uint32(h.Mode & 0o7777)
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		return finishLink(h, p, os.Symlink(h.Linkname, p))
	case tar.TypeLink:
		target, err := safeJoin(root, h.Linkname)
		if err != nil {
			return err
		}
		return os.Link(target, p)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[h.Typeflag]
		if err := unix.Mknod(p, kind|mode, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
			return err
		}
	default:
		return nil // other types (e.g. global headers) carry no file
	}
	if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
		return err
	}
	// chmod after chown: chown clears setuid/setgid bits.
	if err := unix.Chmod(p, mode); err != nil {
		return err
	}
	if err := setXattrs(h, p); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(h.ModTime.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func finishLink(h *tar.Header, p string, err error) error {
	if err != nil {
		return err
	}
	if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
		return err
	}
	return setXattrs(h, p)
}

func setXattrs(h *tar.Header, p string) error {
	for k, v := range h.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Lsetxattr(p, attr, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setting xattr %s: %w", attr, err)
		}
	}
	return nil
}

// copyTree copies src's contents into dst with cp -a (owners, modes,
// xattrs, links).
func copyTree(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return sh(ctx, "cp", "-a", src+"/.", dst+"/")
}

// createDirStructure makes the mountpoints a read-only root needs
// (CreateDirStructure, §2.1); v1 also gets /usr/local.
func createDirStructure(dir string, gen generation) error {
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{"run", 0o777}, {"dev", 0o777}, {"boot", 0o777}, {"oem", 0o777}, {"system", 0o777},
		{"etc/elemental/config.d", 0o777}, {"proc", 0o555}, {"sys", 0o555}, {"tmp", 0o777 | os.ModeSticky},
	}
	if gen == genV1 {
		dirs = append(dirs, struct {
			path string
			mode os.FileMode
		}{"usr/local", 0o755})
	}
	for _, d := range dirs {
		p := filepath.Join(dir, d.path)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return fmt.Errorf("setting mode of %s: %w", p, err)
		}
	}
	return nil
}

// treeSize sums the disk usage of a tree (4 KiB blocks, hardlinks once).
func treeSize(dir string) (int64, error) {
	var total int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Nlink > 1 && !d.IsDir() {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += (st.Size + 4095) / 4096 * 4096
		if d.IsDir() || st.Size == 0 {
			total += 4096
		}
		return nil
	})
	return total, err
}

// makeExt2 creates an ext2 image file from a tree: auto size (tree size
// plus 256 MiB, §2.1), 4 KiB blocks.
func makeExt2(ctx context.Context, tree, img, label string) error {
	size, err := treeSize(tree)
	if err != nil {
		return codef(exitCreateImage, "sizing %s: %w", tree, err)
	}
	size += imageOverhead
	kib := strconv.FormatInt(size/1024, 10) + "k"
	_ = os.Remove(img)
	if err := sh(ctx, "mkfs.ext2", "-q", "-F", "-b", "4096", "-L", label, "-d", tree, img, kib); err != nil {
		return withCode(exitCreateImage, err)
	}
	return nil
}

// makeSquashfs creates a squashfs image (v2 recovery default options).
func makeSquashfs(ctx context.Context, tree, img string) error {
	_ = os.Remove(img)
	if err := sh(ctx, "mksquashfs", tree, img, "-b", "1024k", "-no-progress", "-quiet"); err != nil {
		return withCode(exitCreateImage, err)
	}
	return nil
}
