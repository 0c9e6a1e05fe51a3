package squashfs_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// expected is the tree a fixture should produce: every path (the root is
// ".") with the entry whose metadata it must show; a hardlink maps to its
// target's entry.
type expected struct {
	byPath map[string]*testEntry
	links  map[string]string // hardlink path -> target path
}

func expect(es []testEntry, opts time.Time) expected {
	x := expected{byPath: map[string]*testEntry{}, links: map[string]string{}}
	x.byPath["."] = &testEntry{Entry: rootfs.Entry{Path: ".", Type: rootfs.TypeDir, Mode: 0o755, ModTime: opts}}
	for i := range es {
		e := &es[i]
		if e.Type == rootfs.TypeHardlink {
			x.links[e.Path] = e.Linkname
			continue
		}
		x.byPath[e.Path] = e
	}
	for l, t := range x.links {
		x.byPath[l] = x.byPath[t]
	}
	for p := range x.byPath {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if x.byPath[d] == nil { // created implicitly by the writer
				x.byPath[d] = &testEntry{Entry: rootfs.Entry{Path: d, Type: rootfs.TypeDir, Mode: 0o755, ModTime: opts}}
			}
		}
	}
	return x
}

// ids is the number of distinct uids and gids.
func (x expected) ids() int {
	ids := map[uint32]bool{}
	for _, e := range x.byPath {
		ids[e.UID], ids[e.GID] = true, true
	}
	return len(ids)
}

// inodes is the number of distinct inodes the image must hold.
func (x expected) inodes() int { return len(x.byPath) - len(x.links) }

// lsMode renders type and permissions like ls -l.
func lsMode(e *rootfs.Entry) string {
	typ := map[rootfs.Type]byte{rootfs.TypeDir: 'd', rootfs.TypeReg: '-', rootfs.TypeSymlink: 'l', rootfs.TypeChar: 'c',
		rootfs.TypeBlock: 'b', rootfs.TypeFIFO: 'p', rootfs.TypeSocket: 's'}[e.Type]
	b := []byte{typ}
	m := e.Mode
	for i, special := range []uint32{rootfs.ModeSetuid, rootfs.ModeSetgid, rootfs.ModeSticky} {
		shift := 6 - 3*i
		r, w, x := m>>(shift+2)&1 == 1, m>>(shift+1)&1 == 1, m>>shift&1 == 1
		b = append(b, "-r"[btoi(r)], "-w"[btoi(w)])
		exec := "-x"
		if m&special != 0 {
			exec = "Ss"
			if i == 2 {
				exec = "Tt"
			}
		}
		b = append(b, exec[btoi(x)])
	}
	return string(b)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lsLine is what unsquashfs -lln should print for e.
func lsLine(p string, e *rootfs.Entry) string {
	size := fmt.Sprint(e.Size)
	switch e.Type {
	case rootfs.TypeSymlink:
		size = fmt.Sprint(len(e.Linkname))
	case rootfs.TypeChar, rootfs.TypeBlock:
		// unsquashfs -lln prints the stored (Linux new_encode_dev)
		// number as dev>>8, dev&0xff, which is only right for small
		// numbers; extraction and the kernel decode it properly.
		dev := e.Devminor&0xff | e.Devmajor<<8 | (e.Devminor&^0xff)<<12
		size = fmt.Sprintf("%d,%d", dev>>8, dev&0xff)
	case rootfs.TypeDir:
		size = "-" // the listing size is the writer's business
	}
	full := path.Join("squashfs-root", p)
	if e.Type == rootfs.TypeSymlink {
		full += " -> " + e.Linkname
	}
	return fmt.Sprintf("%s %d/%d %s %s %s", lsMode(e), e.UID, e.GID, size, e.ModTime.UTC().Format("2006-01-02 15:04"), full)
}

// unsquashfsList runs unsquashfs -lln and normalises its lines the way
// lsLine renders them.
func unsquashfsList(t *testing.T, img string) []string {
	t.Helper()
	cmd := exec.Command("unsquashfs", "-lln", img)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("unsquashfs -lln: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.Contains(f[1], "/") {
			continue
		}
		rest := f[2:]
		size := rest[0]
		if strings.HasSuffix(size, ",") { // "major, minor"
			size, rest = size+rest[1], rest[1:]
		}
		if f[0][0] == 'd' {
			size = "-"
		}
		name := strings.SplitN(sc.Text(), rest[2]+" ", 2)[1]
		lines = append(lines, fmt.Sprintf("%s %s %s %s %s %s", f[0], f[1], size, rest[1], rest[2], name))
	}
	return lines
}

// makedev is glibc's gnu_dev_makedev.
func makedev(major, minor uint32) uint64 {
	ma, mi := uint64(major), uint64(minor)
	return mi&0xff | (ma&0xfff)<<8 | (mi&^0xff)<<12 | (ma&^0xfff)<<32
}

var sIFMT = map[rootfs.Type]uint32{rootfs.TypeDir: syscall.S_IFDIR, rootfs.TypeReg: syscall.S_IFREG, rootfs.TypeSymlink: syscall.S_IFLNK,
	rootfs.TypeChar: syscall.S_IFCHR, rootfs.TypeBlock: syscall.S_IFBLK, rootfs.TypeFIFO: syscall.S_IFIFO, rootfs.TypeSocket: syscall.S_IFSOCK}

// verifyTree checks a tree extracted or mounted at root against x:
// type, mode, owner, mtime, size, content, symlink targets, device
// numbers, hardlink identity and link counts, and no extra entries.
func verifyTree(t *testing.T, root string, x expected) {
	t.Helper()
	var seen int
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		seen++
		return err
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	if seen != len(x.byPath) {
		t.Errorf("tree has %d entries, want %d", seen, len(x.byPath))
	}
	for p, e := range x.byPath {
		if err := verifyEntry(filepath.Join(root, p), e, x); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for l, target := range x.links {
		var a, b syscall.Stat_t
		if syscall.Lstat(filepath.Join(root, l), &a) != nil || syscall.Lstat(filepath.Join(root, target), &b) != nil {
			t.Errorf("hardlink %s: cannot stat it or %s", l, target)
			continue
		}
		if a.Ino != b.Ino {
			t.Errorf("hardlink %s: inode %d, target %s has %d", l, a.Ino, target, b.Ino)
		}
	}
}

func verifyEntry(p string, e *testEntry, x expected) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return err
	}
	want := sIFMT[e.Type] | e.Mode&0o7777
	if e.Type == rootfs.TypeSymlink {
		want = syscall.S_IFLNK | 0o777
	}
	if st.Mode != want {
		return fmt.Errorf("mode %o, want %o", st.Mode, want)
	}
	if st.Uid != e.UID || st.Gid != e.GID {
		return fmt.Errorf("owner %d:%d, want %d:%d", st.Uid, st.Gid, e.UID, e.GID)
	}
	if e.Type != rootfs.TypeSymlink && st.Mtim.Sec != e.ModTime.Unix() {
		return fmt.Errorf("mtime %d, want %d", st.Mtim.Sec, e.ModTime.Unix())
	}
	switch e.Type {
	case rootfs.TypeReg:
		if want := uint64(1 + linksTo(x, e.Path)); st.Nlink != want {
			return fmt.Errorf("nlink %d, want %d", st.Nlink, want)
		}
		return verifyContent(p, e)
	case rootfs.TypeSymlink:
		got, err := os.Readlink(p)
		if err == nil && got != e.Linkname {
			err = fmt.Errorf("symlink target %q, want %q", got, e.Linkname)
		}
		return err
	case rootfs.TypeChar, rootfs.TypeBlock:
		if st.Rdev != makedev(e.Devmajor, e.Devminor) {
			return fmt.Errorf("rdev %#x, want %d,%d", st.Rdev, e.Devmajor, e.Devminor)
		}
	case rootfs.TypeDir:
		return verifyDir(p, e.Path, x)
	}
	return nil
}

func linksTo(x expected, target string) int {
	n := 0
	for _, t := range x.links {
		if t == target {
			n++
		}
	}
	return n
}

func verifyContent(p string, e *testEntry) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	c := &compareWriter{r: f}
	if err := e.gen(c); err != nil {
		return err
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 || c.off != e.Size {
		return fmt.Errorf("content length differs from %d", e.Size)
	}
	return nil
}

func verifyDir(p, rel string, x expected) error {
	ents, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	var got, want []string
	for _, d := range ents {
		got = append(got, d.Name())
	}
	for q := range x.byPath {
		if q != "." && path.Dir(q) == rel {
			want = append(want, path.Base(q))
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		return fmt.Errorf("listing (-want +got):\n%s", diff)
	}
	return nil
}

// verifyXattrs reads the xattrs of every entry outside many/ with
// getfattr and compares them with x.
func verifyXattrs(t *testing.T, root string, x expected) {
	t.Helper()
	if _, err := exec.LookPath("getfattr"); err != nil {
		t.Skipf("xattr check needs getfattr (apt package attr): %v", err)
	}
	want := map[string]map[string]string{}
	args := []string{"-h", "-d", "-m", "-", "-e", "hex", "--absolute-names"}
	for p, e := range x.byPath {
		if strings.HasPrefix(p, "many/") {
			continue
		}
		full := filepath.Join(root, p)
		args = append(args, full)
		for k, v := range e.Xattrs {
			if want[full] == nil {
				want[full] = map[string]string{}
			}
			want[full][k] = "0x" + hex.EncodeToString(v)
		}
	}
	out, err := exec.Command("getfattr", args...).Output()
	if err != nil {
		t.Fatalf("getfattr: %v", err)
	}
	got := map[string]map[string]string{}
	var cur string
	for _, line := range strings.Split(string(out), "\n") {
		if f, ok := strings.CutPrefix(line, "# file: "); ok {
			cur = f
		} else if k, v, ok := strings.Cut(line, "="); ok {
			if got[cur] == nil {
				got[cur] = map[string]string{}
			}
			got[cur][k] = v
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("xattrs (-want +got):\n%s", diff)
	}
}

var _ io.Writer = (*compareWriter)(nil)
