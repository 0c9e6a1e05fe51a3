package installer_test

// Independent verification of built disks: every check here goes through a
// tool that is not ours (sgdisk, e2fsck, debugfs, fsck.vfat, mtools,
// unsquashfs, qemu-img, tar), reading regions cut out of the raw disk.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/layout"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// need skips the test when a verification tool is missing, naming it.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (run make tools): %v", tool, err)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cut copies [off, off+size) of src into a new sparse file.
func cut(t *testing.T, src string, off, size int64) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), fmt.Sprintf("part-%d.img", off))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	zero := make([]byte, 1<<20)
	for pos := int64(0); pos < size; {
		n := int64(len(buf))
		if size-pos < n {
			n = size - pos
		}
		if _, err := in.ReadAt(buf[:n], off+pos); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], zero[:n]) {
			if _, err := out.WriteAt(buf[:n], pos); err != nil {
				t.Fatal(err)
			}
		}
		pos += n
	}
	if err := out.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return dst
}

// e2fsck checks an ext image read-only and fails the test on any problem.
func e2fsck(t *testing.T, img, what string) {
	t.Helper()
	out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	if err != nil {
		t.Errorf("e2fsck -fn %s: %v\n%s", what, err, out)
	}
}

// debugfsDump extracts one file of an ext image.
func debugfsDump(t *testing.T, img, p string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), path.Base(p))
	run(t, "debugfs", "-R", fmt.Sprintf("dump %s %s", p, dst), img)
	if _, err := os.Stat(dst); err != nil {
		t.Fatalf("debugfs could not dump %s: %v", p, err)
	}
	return dst
}

func label(t *testing.T, img string) string {
	t.Helper()
	for _, line := range strings.Split(run(t, "dumpe2fs", "-h", img), "\n") {
		if v, ok := strings.CutPrefix(line, "Filesystem volume name:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// entry is what the flattened image says a path should be.
type entry struct {
	typ      rootfs.Type
	mode     uint32
	uid, gid uint32
	size     int64
	link     string
	sum      string
	xattrs   map[string]string
	major    uint32
	minor    uint32
}

// collector records a flattened stream.
type collector struct{ m map[string]*entry }

func (c *collector) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	x := &entry{typ: e.Type, mode: e.Mode, uid: e.UID, gid: e.GID, size: e.Size, link: e.Linkname, major: e.Devmajor, minor: e.Devminor}
	if len(e.Xattrs) > 0 {
		x.xattrs = map[string]string{}
		for k, v := range e.Xattrs {
			x.xattrs[k] = string(v)
		}
	}
	c.m[e.Path] = x
	if e.Type != rootfs.TypeReg {
		return nil, nil
	}
	return &hashWriter{h: sha256.New(), e: x}, nil
}

type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	e *entry
}

func (w *hashWriter) Write(p []byte) (int, error) { return w.h.Write(p) }
func (w *hashWriter) Close() error {
	w.e.sum = hex.EncodeToString(w.h.Sum(nil))
	return nil
}

// lsEntry is one line of debugfs "ls -p".
type lsEntry struct {
	inode      string
	mode       uint32
	uid, gid   uint32
	size       int64
	dir, isDir bool
}

// listExt lists every path of an ext image with debugfs, walking directories
// in one batch per level.
func listExt(t *testing.T, img string) map[string]lsEntry {
	t.Helper()
	all := map[string]lsEntry{}
	level := []string{"."}
	for len(level) > 0 {
		var cmds bytes.Buffer
		for _, d := range level {
			fmt.Fprintf(&cmds, "ls -p \"/%s\"\n", strings.TrimPrefix(d, "."))
		}
		cmdFile := filepath.Join(t.TempDir(), "cmds")
		os.WriteFile(cmdFile, cmds.Bytes(), 0o644)
		out := run(t, "debugfs", "-f", cmdFile, img)
		var next []string
		cur := ""
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			line := sc.Text()
			if p, ok := strings.CutPrefix(line, "debugfs: ls -p \"/"); ok {
				cur = strings.TrimSuffix(p, "\"")
				continue
			}
			f := strings.Split(line, "/")
			if len(f) < 7 || f[5] == "." || f[5] == ".." {
				continue
			}
			mode, _ := strconv.ParseUint(f[2], 8, 32)
			uid, _ := strconv.ParseUint(f[3], 10, 32)
			gid, _ := strconv.ParseUint(f[4], 10, 32)
			size, _ := strconv.ParseInt(f[6], 10, 64)
			p := path.Join(cur, f[5])
			le := lsEntry{inode: f[1], mode: uint32(mode), uid: uint32(uid), gid: uint32(gid), size: size, isDir: mode&0o170000 == 0o040000}
			all[p] = le
			if le.isDir {
				next = append(next, p)
			}
		}
		sort.Strings(next)
		level = next
	}
	return all
}

var typeBits = map[rootfs.Type]uint32{
	rootfs.TypeDir: 0o040000, rootfs.TypeReg: 0o100000, rootfs.TypeSymlink: 0o120000,
	rootfs.TypeChar: 0o020000, rootfs.TypeBlock: 0o060000, rootfs.TypeFIFO: 0o010000, rootfs.TypeSocket: 0o140000,
}

// compareExt checks that an ext image holds exactly the expected tree.
func compareExt(t *testing.T, img string, want map[string]*entry) {
	t.Helper()
	got := listExt(t, img)
	delete(got, "lost+found")
	var batch bytes.Buffer
	var links, xattrs []string
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: /%s missing", filepath.Base(img), p)
			continue
		}
		typ := w.typ
		if typ == rootfs.TypeHardlink {
			typ = want[w.link].typ
		}
		wantMode := typeBits[typ] | w.mode&0o7777
		if typ == rootfs.TypeSymlink {
			wantMode = typeBits[typ] | g.mode&0o7777 // symlink permission bits are not meaningful
		}
		if g.mode != wantMode || g.uid != w.uid || g.gid != w.gid {
			t.Errorf("/%s: mode %o uid %d gid %d, want %o %d %d", p, g.mode, g.uid, g.gid, wantMode, w.uid, w.gid)
		}
		if typ == rootfs.TypeReg && w.typ == rootfs.TypeReg && g.size != w.size {
			t.Errorf("/%s: size %d, want %d", p, g.size, w.size)
		}
		if w.typ == rootfs.TypeHardlink && got[w.link].inode != g.inode {
			t.Errorf("/%s: inode %s, want the inode of /%s (%s)", p, g.inode, w.link, got[w.link].inode)
		}
		if w.typ == rootfs.TypeSymlink {
			links = append(links, p)
			fmt.Fprintf(&batch, "stat \"/%s\"\n", p)
		}
		if len(w.xattrs) > 0 {
			xattrs = append(xattrs, p)
			fmt.Fprintf(&batch, "ea_list \"/%s\"\n", p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected /%s", filepath.Base(img), p)
		}
	}
	if batch.Len() == 0 {
		return
	}
	cmdFile := filepath.Join(t.TempDir(), "cmds")
	os.WriteFile(cmdFile, batch.Bytes(), 0o644)
	out := run(t, "debugfs", "-f", cmdFile, img)
	for _, p := range links {
		if !strings.Contains(out, fmt.Sprintf("link dest: %q", want[p].link)) && !strings.Contains(out, want[p].link) {
			t.Errorf("/%s: symlink target %q not found in debugfs stat", p, want[p].link)
		}
	}
	for _, p := range xattrs {
		for k := range want[p].xattrs {
			if !strings.Contains(out, k) {
				t.Errorf("/%s: xattr %s missing in debugfs ea_list", p, k)
			}
		}
	}
}

// part finds a planned partition in a result.
func partOf(t *testing.T, parts []layout.Partition, name string) layout.Partition {
	t.Helper()
	for _, p := range parts {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no partition %s", name)
	return layout.Partition{}
}

func readExt(t *testing.T, img, p string) string {
	t.Helper()
	b, err := os.ReadFile(debugfsDump(t, img, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func itoa(i int) string     { return strconv.Itoa(i) }
func itoa64(i int64) string { return strconv.FormatInt(i, 10) }

// lineWith reports whether one line of out holds every field of want as
// whitespace-separated fields.
func lineWith(out string, want []string) bool {
	for _, line := range strings.Split(out, "\n") {
		fields := map[string]bool{}
		for _, f := range strings.Fields(line) {
			fields[f] = true
		}
		ok := true
		for _, w := range want {
			if !fields[w] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
