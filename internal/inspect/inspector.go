package inspect

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// maxCapture bounds the bytes kept for one boot file. EFI binaries and GRUB
// modules are a few MiB at most; anything larger is not a boot file.
const maxCapture = 32 << 20

type node struct {
	typ  rootfs.Type
	link string
	size int64
}

// Inspector is a rootfs.Sink that records the shape of a root filesystem.
// Feed it the whole stream, then call Report.
type Inspector struct {
	arch     string
	nodes    map[string]node
	captured map[string][]byte
	children map[string][]string // built lazily by Report
	keepAll  bool                // record every regular file (tests)
}

// New returns an Inspector for an image of the given toolkit architecture
// ("x86_64" or "arm64").
func New(arch string) *Inspector {
	return &Inspector{arch: arch, nodes: map[string]node{}, captured: map[string][]byte{}}
}

// Add implements rootfs.Sink. Directories, links and special files are
// recorded, and the regular files Report can look up; any other regular
// file leaves only its directory behind, so memory follows the number of
// directories, not of files (the first pass of a build holds the
// Inspector until the end).
func (in *Inspector) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	if e.Type == rootfs.TypeReg && !in.keepAll && !in.wanted(e.Path) && !lookedUp(path.Base(e.Path)) {
		// The directory must still be listed: it may exist only
		// implicitly, through the files a layer carries.
		if d := path.Dir(e.Path); d != "." {
			if _, ok := in.nodes[d]; !ok {
				in.nodes[d] = node{typ: rootfs.TypeDir}
			}
		}
		return rootfs.Discard(), nil
	}
	in.nodes[e.Path] = node{typ: e.Type, link: e.Linkname, size: e.Size}
	if e.Type != rootfs.TypeReg {
		return nil, nil
	}
	if e.Size > maxCapture || !in.wanted(e.Path) {
		return rootfs.Discard(), nil
	}
	return &capture{in: in, path: e.Path}, nil
}

// lookedUpNames are the base-name patterns of every regular file Report
// finds by name or glob besides the captured boot files (wanted): the
// kernel and initrd patterns' base names, the elemental binary,
// microcode, the SELinux file contexts, and dracut module names. A lookup
// added to Report must add its pattern here; TestFilteringKeepsReports
// compares Reports with and without the filter.
var lookedUpNames = append(baseNames(kernelPatterns, initrdPatterns),
	"elemental", "*ucode*", "file_contexts",
	"*elemental-rootfs", "*elemental-sysroot", "*elemental-immutable-rootfs", "*cos-immutable-rootfs")

func baseNames(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, p := range l {
			out = append(out, path.Base(p))
		}
	}
	return out
}

func lookedUp(base string) bool {
	for _, p := range lookedUpNames {
		if m, _ := path.Match(p, base); m {
			return true
		}
	}
	return false
}

type capture struct {
	in   *Inspector
	path string
	buf  bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) { return c.buf.Write(p) }
func (c *capture) Close() error {
	c.in.captured[c.path] = c.buf.Bytes()
	return nil
}

// wanted reports whether the file at p may be one of the boot files whose
// bytes the disk needs. It is deliberately broad: a candidate that is not
// picked costs only memory for a few small files.
func (in *Inspector) wanted(p string) bool {
	base := path.Base(p)
	switch p {
	case "etc/os-release", "usr/lib/os-release",
		"etc/elemental/grub.cfg", "etc/elemental/bootargs.cfg",
		"etc/cos/grub.cfg", "etc/cos/bootargs.cfg":
		return true
	}
	if strings.HasPrefix(p, "usr/lib/elemental/bootloader/") {
		return true
	}
	if strings.HasSuffix(base, ".efi") || strings.HasSuffix(base, ".efi.signed") {
		return true
	}
	switch base {
	case "loopback.mod", "squash4.mod", "xzio.mod":
		return true
	}
	return false
}

// resolve follows symlinks in p inside the image root, the way the toolkit
// does when it works in a chroot: absolute targets restart at the root, and
// ".." never climbs above it. It gives up after 40 links.
func (in *Inspector) resolve(p string) (string, bool) {
	parts := strings.Split(p, "/")
	cur := ""
	hops := 0
	for i := 0; i < len(parts); i++ {
		el := parts[i]
		switch el {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			if cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, el)
		n, ok := in.nodes[next]
		if !ok || n.typ != rootfs.TypeSymlink {
			cur = next
			continue
		}
		hops++
		if hops > 40 {
			return "", false
		}
		target := n.link
		rest := parts[i+1:]
		if strings.HasPrefix(target, "/") {
			cur = ""
		}
		parts = append(strings.Split(target, "/"), rest...)
		i = -1
	}
	if cur == "" {
		cur = "."
	}
	return cur, true
}

// exists reports whether p resolves to an entry of one of the given types.
func (in *Inspector) exists(p string, types ...rootfs.Type) (string, bool) {
	r, ok := in.resolve(p)
	if !ok {
		return "", false
	}
	n, ok := in.nodes[r]
	if !ok {
		return "", false
	}
	for _, t := range types {
		if n.typ == t {
			return r, true
		}
	}
	return "", false
}

// glob returns the image paths matching pattern, sorted, with the pattern's
// directory resolved through symlinks first (so "lib/modules/*" works on a
// merged-/usr image where lib is a link to usr/lib). The paths returned are
// the literal names under the resolved directory.
func (in *Inspector) glob(pattern string) []string {
	dir, file := path.Split(pattern)
	dir = strings.TrimSuffix(dir, "/")
	var dirs []string
	if strings.ContainsAny(dir, "*?[") {
		dirs = in.glob(dir)
	} else if r, ok := in.resolve(dir); ok {
		dirs = []string{r}
	}
	var out []string
	for _, d := range dirs {
		rd, ok := in.resolve(d)
		if !ok {
			continue
		}
		for _, name := range in.childrenOf(rd) {
			if m, _ := path.Match(file, name); m {
				out = append(out, path.Join(rd, name))
			}
		}
	}
	sort.Strings(out)
	return out
}

func (in *Inspector) childrenOf(dir string) []string {
	if in.children == nil {
		// Parents may exist only implicitly (a layer that carries
		// usr/lib/grub/x86_64-efi/x.mod but no entry for usr/lib/grub),
		// so every ancestor of every path is a directory here.
		in.children = map[string][]string{}
		seen := map[string]bool{}
		for p := range in.nodes {
			for p != "." && !seen[p] {
				seen[p] = true
				d := path.Dir(p)
				in.children[d] = append(in.children[d], path.Base(p))
				p = d
			}
		}
		for _, c := range in.children {
			sort.Strings(c)
		}
	}
	return in.children[dir]
}

// file returns a captured boot file, following symlinks.
func (in *Inspector) file(p string) (File, bool) {
	r, ok := in.exists(p, rootfs.TypeReg)
	if !ok {
		return File{}, false
	}
	data, ok := in.captured[r]
	if !ok {
		return File{}, false
	}
	return File{Path: r, Data: data}, true
}

// File is a boot file found in the image, with its bytes.
type File struct {
	Path string // resolved path inside the image
	Data []byte
}

// Name returns the file's base name.
func (f File) Name() string { return path.Base(f.Path) }

func (f File) String() string { return fmt.Sprintf("/%s (%d bytes)", f.Path, len(f.Data)) }
