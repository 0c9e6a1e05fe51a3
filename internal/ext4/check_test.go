package ext4_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// want is what debugfs should report for one path.
type want struct {
	typ          string
	mode         uint32
	uid, gid     uint32
	size         int64
	links        int
	link         string
	major, minor uint32
	xattrs       map[string][]byte
	sum          string // sha256 of the content, "" to skip
}

var typeWords = map[rootfs.Type]string{
	rootfs.TypeDir: "directory", rootfs.TypeReg: "regular", rootfs.TypeSymlink: "symlink",
	rootfs.TypeChar: "character special", rootfs.TypeBlock: "block special",
	rootfs.TypeFIFO: "FIFO", rootfs.TypeSocket: "socket",
}

// expectations derives debugfs' view of its: implicit parents 0755
// root:root, resolved hardlinks, directory link counts.
func expectations(its []item, sums bool) map[string]*want {
	ws := map[string]*want{}
	byPath := map[string]item{}
	for _, it := range its {
		byPath[it.e.Path] = it
	}
	dirs := map[string]bool{".": true, "lost+found": true}
	for _, it := range its {
		for p := it.e.Dir(); p != "."; p = path.Dir(p) {
			dirs[p] = true
		}
		if it.e.Type == rootfs.TypeDir {
			dirs[it.e.Path] = true
		}
	}
	for d := range dirs {
		w := &want{typ: "directory", mode: 0o755, links: 2, size: -1}
		if it, ok := byPath[d]; ok {
			w.mode, w.uid, w.gid, w.xattrs = it.e.Mode, it.e.UID, it.e.GID, aclIDs(it.e.Xattrs)
		}
		if d == "lost+found" {
			w.mode = 0o700
		}
		ws[d] = w
	}
	for d := range dirs {
		if d != "." {
			ws[path.Dir(d)].links++
		}
	}
	target := func(p string) string {
		for byPath[p].e.Type == rootfs.TypeHardlink {
			p = byPath[p].e.Linkname
		}
		return p
	}
	for _, it := range its {
		e := it.e
		if e.Type == rootfs.TypeDir || e.Type == rootfs.TypeHardlink {
			continue
		}
		w := &want{typ: typeWords[e.Type], mode: e.Mode, uid: e.UID, gid: e.GID, size: e.Size, links: 1,
			link: e.Linkname, major: e.Devmajor, minor: e.Devminor, xattrs: aclIDs(e.Xattrs)}
		if e.Type == rootfs.TypeSymlink {
			w.size = int64(len(e.Linkname))
		}
		if sums && e.Type == rootfs.TypeReg && e.Size < 1<<30 {
			w.sum = it.sum()
		}
		ws[e.Path] = w
	}
	for _, it := range its {
		if it.e.Type == rootfs.TypeHardlink {
			t := ws[target(it.e.Path)]
			t.links++
			ws[it.e.Path] = t
		}
	}
	return ws
}

// aclIDs returns xs with the ids of ACL entries that have none set to 0,
// as e2fsprogs reports them (the kernel reports -1).
func aclIDs(xs map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range xs {
		if strings.HasPrefix(k, "system.posix_acl_") {
			v = slices.Clone(v)
			for p := v[4:]; len(p) >= 8; p = p[8:] {
				if tag := p[0]; tag != 2 && tag != 8 {
					clear(p[4:8])
				}
			}
		}
		out[k] = v
	}
	return out
}

var statRE = map[string]*regexp.Regexp{
	"type":  regexp.MustCompile(`Type: ([a-zA-Z ]+?)\s+Mode:\s+(\d+)`),
	"owner": regexp.MustCompile(`User:\s+(\d+)\s+Group:\s+(\d+)`),
	"size":  regexp.MustCompile(`Size: (\d+)`),
	"links": regexp.MustCompile(`Links: (\d+)\s+Blockcount: (\d+)`),
	"fast":  regexp.MustCompile(`Fast link dest: "(.*)"`),
	"dev":   regexp.MustCompile(`major/minor number: (\d+):(\d+)`),
}

// debugfsBatch runs cmds through one debugfs and returns each command's
// output.
func debugfsBatch(t *testing.T, img string, cmds []string) []string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cmds")
	if err := os.WriteFile(f, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("debugfs", "-f", f, img).Output()
	if err != nil {
		t.Fatalf("debugfs -f: %v", err)
	}
	parts := regexp.MustCompile(`(?m)^debugfs: .*$`).Split(string(out), -1)
	if len(parts) != len(cmds)+1 {
		t.Fatalf("debugfs gave %d outputs for %d commands", len(parts)-1, len(cmds))
	}
	return parts[1:]
}

// checkTree compares every path of ws (sampling the big directory) with
// debugfs stat, dump and ea_get.
func checkTree(t *testing.T, img string, ws map[string]*want) {
	var paths []string
	for p := range ws {
		if !strings.HasPrefix(p, "big/") || strings.HasSuffix(p, "00") {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	tmp := t.TempDir()
	var cmds []string
	for i, p := range paths {
		q := strconv.Quote("/" + p)
		cmds = append(cmds, "stat "+q)
		w := ws[p]
		if w.sum != "" || (w.typ == "symlink" && len(w.link) >= 60) {
			cmds = append(cmds, fmt.Sprintf("dump %s %s", q, filepath.Join(tmp, strconv.Itoa(i))))
		}
		for _, name := range slices.Sorted(mapsKeys(w.xattrs)) {
			cmds = append(cmds, fmt.Sprintf("ea_get -f %s %s %s", filepath.Join(tmp, fmt.Sprintf("%d-%s", i, name)), q, name))
		}
	}
	outs := debugfsBatch(t, img, cmds)
	k := 0
	for i, p := range paths {
		w := ws[p]
		st := outs[k]
		k++
		checkStat(t, p, st, w)
		if w.sum != "" || (w.typ == "symlink" && len(w.link) >= 60) {
			k++
			b, err := os.ReadFile(filepath.Join(tmp, strconv.Itoa(i)))
			if err != nil {
				t.Errorf("%s: dump: %v", p, err)
			} else if w.typ == "symlink" && string(b) != w.link {
				t.Errorf("%s: slow symlink target %q, want %q", p, b, w.link)
			} else if h := sha256.Sum256(b); w.sum != "" && hex.EncodeToString(h[:]) != w.sum {
				t.Errorf("%s: content sha256 differs", p)
			}
		}
		for _, name := range slices.Sorted(mapsKeys(w.xattrs)) {
			k++
			b, err := os.ReadFile(filepath.Join(tmp, fmt.Sprintf("%d-%s", i, name)))
			if err != nil || string(b) != string(w.xattrs[name]) {
				t.Errorf("%s: xattr %s = %q (%v), want %q", p, name, b, err, w.xattrs[name])
			}
		}
	}
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func atoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func checkStat(t *testing.T, p, st string, w *want) {
	t.Helper()
	m := statRE["type"].FindStringSubmatch(st)
	if m == nil {
		t.Errorf("%s: no stat output: %q", p, st)
		return
	}
	mode, _ := strconv.ParseUint(m[2], 8, 32)
	if m[1] != w.typ || uint32(mode) != w.mode {
		t.Errorf("%s: type %q mode %o, want %q %o", p, m[1], mode, w.typ, w.mode)
	}
	if m := statRE["owner"].FindStringSubmatch(st); m == nil || atoi(m[1]) != int64(w.uid) || atoi(m[2]) != int64(w.gid) {
		t.Errorf("%s: owner %v, want %d:%d", p, m, w.uid, w.gid)
	}
	if m := statRE["size"].FindStringSubmatch(st); w.size >= 0 && (m == nil || atoi(m[1]) != w.size) {
		t.Errorf("%s: size %v, want %d", p, m, w.size)
	}
	if m := statRE["links"].FindStringSubmatch(st); m == nil || atoi(m[1]) != int64(w.links) {
		t.Errorf("%s: links %v, want %d", p, m, w.links)
	}
	if w.typ == "symlink" && len(w.link) < 60 {
		if m := statRE["fast"].FindStringSubmatch(st); m == nil || m[1] != w.link {
			t.Errorf("%s: fast link %v, want %q", p, m, w.link)
		}
	}
	if w.typ == "character special" || w.typ == "block special" {
		if m := statRE["dev"].FindStringSubmatch(st); m == nil || atoi(m[1]) != int64(w.major) || atoi(m[2]) != int64(w.minor) {
			t.Errorf("%s: device %v, want %d:%d", p, m, w.major, w.minor)
		}
	}
}
