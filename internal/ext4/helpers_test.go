package ext4_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/google/uuid"
)

var epoch = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// item is one entry of a generated tree plus, for regular files, a
// factory for its data.
type item struct {
	e    rootfs.Entry
	data func() io.Reader
}

func (it item) sum() string {
	h := sha256.New()
	if it.data != nil {
		io.Copy(h, it.data())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sparse reads as size bytes of zeros with segs laid over them.
type sparse struct {
	size, off int64
	segs      []seg
}

type seg struct {
	at   int64
	data []byte
}

func (s *sparse) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.size-s.off)]
	clear(p)
	for _, g := range s.segs {
		if g.at < s.off+int64(len(p)) && g.at+int64(len(g.data)) > s.off {
			lo := max(g.at, s.off)
			hi := min(g.at+int64(len(g.data)), s.off+int64(len(p)))
			copy(p[lo-s.off:hi-s.off], g.data[lo-g.at:hi-g.at])
		}
	}
	s.off += int64(len(p))
	return len(p), nil
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, (n+7)&^7)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

func reg(p string, mode, uid, gid uint32, data []byte) item {
	return item{
		e:    rootfs.Entry{Path: p, Type: rootfs.TypeReg, Mode: mode, UID: uid, GID: gid, Size: int64(len(data)), ModTime: epoch},
		data: func() io.Reader { return bytes.NewReader(data) },
	}
}

func sparseFile(p string, size int64, segs ...seg) item {
	return item{
		e:    rootfs.Entry{Path: p, Type: rootfs.TypeReg, Mode: 0o644, Size: size, ModTime: epoch},
		data: func() io.Reader { return &sparse{size: size, segs: segs} },
	}
}

func other(p string, t rootfs.Type, mode uint32) item {
	return item{e: rootfs.Entry{Path: p, Type: t, Mode: mode, ModTime: epoch}}
}

var (
	longName  = strings.Repeat("n", 255)
	utf8Name  = "ünïcødé-名前-😀"
	longLink  = "/" + strings.Repeat("very-long-target/", 6) + "end"
	capValue  = []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // cap_net_raw
	bigXattr  = randBytes(7, 900)                                                     // too big for the inode, fits a 1 KiB block
	aclAccess = []byte{2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 4, 0, 0xe8, 3, 0, 0,
		4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff}
)

// tree returns the test tree: parents out of order, a deep path, a big
// directory, hardlinks (one forward reference), symlinks, xattrs, special
// modes, devices, long and UTF-8 names, sparse, random and empty files.
// withHuge adds the multi-GiB sparse files. Items are shared: treat them
// as read-only.
func tree(withHuge bool) []item {
	if withHuge {
		return hugeTree()
	}
	return smallTree()
}

var (
	smallTree = sync.OnceValue(func() []item { return makeTree(false) })
	hugeTree  = sync.OnceValue(func() []item { return makeTree(true) })
)

func makeTree(withHuge bool) []item {
	var its []item
	add := func(it ...item) { its = append(its, it...) }
	add(reg("usr/bin/tool", 0o4755, 0, 0, []byte("#!/bin/sh\necho tool\n")))
	dir := other("usr", rootfs.TypeDir, 0o751)
	dir.e.UID, dir.e.GID = 5, 6
	add(dir)
	add(reg("usr/bin/sgid", 0o2711, 1000, 100000, randBytes(1, 10000)))
	add(other("tmp", rootfs.TypeDir, 0o1777), other("srv/shared", rootfs.TypeDir, 0o2775))
	deep := "deep"
	for i := range 24 {
		deep += fmt.Sprintf("/level%02d", i)
	}
	add(reg(deep+"/leaf", 0o600, 7, 7, []byte("deep leaf")))
	for i := range 2100 {
		add(reg(fmt.Sprintf("big/file-with-a-longish-name-%05d", i), 0o644, 0, 0, []byte(fmt.Sprintf("file %d\n", i))))
	}
	add(item{e: rootfs.Entry{Path: "links/hl-forward", Type: rootfs.TypeHardlink, Linkname: "links/target-later"}})
	add(item{e: rootfs.Entry{Path: "links/hl-chain", Type: rootfs.TypeHardlink, Linkname: "links/hl-forward"}})
	add(item{e: rootfs.Entry{Path: "links/hl-back", Type: rootfs.TypeHardlink, Linkname: "usr/bin/tool"}})
	add(reg("links/target-later", 0o640, 33, 33, []byte("hardlinked\n")))
	for _, l := range []struct{ name, target string }{{"rel", "../usr/bin/tool"}, {"abs", "/usr/bin/tool"}, {"long", longLink}} {
		s := other("links/"+l.name, rootfs.TypeSymlink, 0o777)
		s.e.Linkname = l.target
		add(s)
	}
	cp := reg("xattr/cap", 0o755, 0, 0, []byte("ping"))
	cp.e.Xattrs = map[string][]byte{"security.capability": capValue, "user.note": []byte("hello")}
	big := reg("xattr/big", 0o644, 0, 0, nil)
	big.e.Xattrs = map[string][]byte{"user.big": bigXattr, "trusted.t": []byte("x")}
	big2 := reg("xattr/big2", 0o644, 0, 0, nil)
	big2.e.Xattrs = map[string][]byte{"user.big": bigXattr, "trusted.t": []byte("x")}
	acl := other("xattr/acl-dir", rootfs.TypeDir, 0o755)
	acl.e.Xattrs = map[string][]byte{"system.posix_acl_access": aclAccess, "security.selinux": []byte("system_u:object_r:etc_t:s0\x00")}
	add(cp, big, big2, acl)
	null := other("dev/null", rootfs.TypeChar, 0o666)
	null.e.Devmajor, null.e.Devminor = 1, 3
	nvme := other("dev/nvme0n1", rootfs.TypeBlock, 0o660)
	nvme.e.Devmajor, nvme.e.Devminor = 259, 70000
	add(null, nvme, other("dev/fifo", rootfs.TypeFIFO, 0o644), other("dev/sock", rootfs.TypeSocket, 0o755))
	add(reg("names/"+longName, 0o644, 0, 0, []byte("long")), reg("names/"+utf8Name, 0o644, 0, 0, []byte("utf8")))
	add(reg("data/random-5m", 0o644, 0, 0, randBytes(2, 5<<20)))
	add(reg("data/empty", 0o644, 0, 0, nil), reg("data/empty2", 0o600, 1, 1, nil))
	add(reg("data/unaligned", 0o644, 0, 0, randBytes(3, 4096*3+17)))
	add(sparseFile("data/zeros", 1<<20))
	// 1500 data blocks between holes: a two-level extent tree on ext4,
	// indirect blocks with holes on ext2.
	var stripes []seg
	for i := range int64(1500) {
		stripes = append(stripes, seg{2 * i * 4096, randBytes(uint64(100+i), 4096)})
	}
	add(sparseFile("data/striped", 3000*4096, stripes...))
	if withHuge {
		add(sparseFile("data/sparse-3g", 3<<30, seg{0, randBytes(4, 1<<20)}, seg{3 << 29, randBytes(5, 1<<20)}, seg{3<<30 - 100000, randBytes(6, 100000)}))
		add(sparseFile("data/sparse-4g", 4<<30+65536, seg{4 << 30, randBytes(8, 65536)}))
	}
	root := other(".", rootfs.TypeDir, 0o755)
	root.e.ModTime = epoch.Add(time.Hour)
	add(root)
	return its
}

// feed adds its to s.
func feed(t testing.TB, s rootfs.Sink, its []item) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for _, it := range its {
		e := it.e
		w, err := s.Add(&e)
		if err != nil {
			t.Fatalf("add %q: %v", e.Path, err)
		}
		if w == nil {
			continue
		}
		if _, err := io.CopyBuffer(w, it.data(), buf); err != nil {
			t.Fatalf("write %q: %v", e.Path, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("close %q: %v", e.Path, err)
		}
	}
}

func stats(its []item) rootfs.Stats {
	var c rootfs.Counter
	for _, it := range its {
		e := it.e
		c.Add(&e)
	}
	return c.Stats
}

func testOptions(kind ext4.Kind, journal bool) ext4.Options {
	return ext4.Options{
		Kind: kind, Journal: journal, Label: "EL_TEST_" + kind.String(),
		UUID:     uuid.NewSHA1(uuid.NameSpaceOID, []byte("fs-"+kind.String())),
		HashSeed: uuid.NewSHA1(uuid.NameSpaceOID, []byte("seed")),
		Time:     epoch,
	}
}

// build writes its into a new image file of size bytes.
func build(t testing.TB, size int64, opts ext4.Options, its []item) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	w, err := ext4.New(f, size, opts)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	feed(t, w, its)
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return img
}

func needTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("test needs %s: %v", n, err)
		}
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var summaryRE = regexp.MustCompile(`^\S+: \d+/\d+ files \(\d+\.\d% non-contiguous\), \d+/\d+ blocks$`)

// fsck runs e2fsck -fn and fails on a non-zero exit or any message other
// than the pass headers and summary.
func fsck(t testing.TB, img string) {
	t.Helper()
	out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", img, err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "Pass ") || strings.HasPrefix(line, "e2fsck ") || summaryRE.MatchString(line) {
			continue
		}
		t.Errorf("e2fsck message: %q", line)
	}
}

func debugfs(t testing.TB, img, cmd string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", cmd, img).Output()
	if err != nil {
		t.Fatalf("debugfs -R %q: %v", cmd, err)
	}
	return string(out)
}
