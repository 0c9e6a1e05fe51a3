package installer

import (
	"io"
	"strings"
	"time"

	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// excludedTrees are dropped whole and excludedContents keep the directory
// but drop what is in it: the toolkit's default system excludes (contract
// §2.1), applied whenever a tree is synced into an image.
var (
	excludedTrees    = []string{".snapshots", "host", "etc/resolv.conf"}
	excludedContents = []string{"mnt", "proc", "sys", "dev", "tmp", "run"}
)

func excluded(p string) bool {
	for _, t := range excludedTrees {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	for _, d := range excludedContents {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// mountpoint is a directory the read-only root needs at runtime
// (CreateDirStructure, contract §2.1).
type mountpoint struct {
	path string
	mode uint32
}

func mountpoints(g inspect.Generation) []mountpoint {
	m := []mountpoint{
		{"run", 0o755}, {"dev", 0o755}, {"boot", 0o755}, {"oem", 0o755}, {"system", 0o755},
		{"etc/elemental/config.d", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"tmp", 0o1777},
	}
	if g == inspect.V1 {
		m = append(m, mountpoint{"usr/local", 0o755})
	}
	return m
}

// systemTree is the Sink chain that turns the image's root filesystem into
// the system tree every system image holds: excludes applied, and the
// mountpoint directories added when the image lacks them.
type systemTree struct {
	next  rootfs.Sink
	seen  map[string]bool // the mountpoints met, not every path: it would grow with the image
	gen   inspect.Generation
	mtime time.Time
}

func newSystemTree(next rootfs.Sink, g inspect.Generation, mtime time.Time) *systemTree {
	seen := map[string]bool{}
	for _, m := range mountpoints(g) {
		seen[m.path] = false
	}
	return &systemTree{next: next, seen: seen, gen: g, mtime: mtime}
}

func (s *systemTree) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	if excluded(e.Path) {
		if e.Type == rootfs.TypeReg {
			return rootfs.Discard(), nil
		}
		return nil, nil
	}
	if _, ok := s.seen[e.Path]; ok {
		s.seen[e.Path] = true
	}
	return s.next.Add(e)
}

// finish adds the mountpoints the image did not carry.
func (s *systemTree) finish() error {
	for _, m := range mountpoints(s.gen) {
		if s.seen[m.path] {
			continue
		}
		e := &rootfs.Entry{Path: m.path, Type: rootfs.TypeDir, Mode: m.mode, ModTime: s.mtime}
		if _, err := s.next.Add(e); err != nil {
			return err
		}
		s.seen[m.path] = true
	}
	return nil
}

// extraStats is what finish may add, for sizing.
func extraStats(g inspect.Generation) rootfs.Stats {
	n := int64(len(mountpoints(g)))
	return rootfs.Stats{Entries: n, Dirs: n, NameBytes: 16 * n}
}

// tap hands the data of chosen image files to a second sink under other
// names while the stream passes: the kernel and initrd that the v2
// recovery partition carries next to recovery.img.
type tap struct {
	picks map[string]func(e *rootfs.Entry) (io.WriteCloser, error)
}

func (t *tap) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	if f, ok := t.picks[e.Path]; ok && e.Type == rootfs.TypeReg {
		return f(e)
	}
	if e.Type == rootfs.TypeReg {
		return rootfs.Discard(), nil
	}
	return nil, nil
}
