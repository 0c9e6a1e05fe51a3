package derivative

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// initrdInput is what the initrd is made of.
type initrdInput struct {
	tree       string // base rootfs, source of busybox, tools, libs and modules
	kernel     string
	generation int
	standin    string // host path of the stand-in elemental binary
	mtime      int64
}

// buildInitrd returns the gzip-compressed cpio initrd (contract §3.4
// stand-in, see recipe/init.sh) and the modules it loads, in order.
func buildInitrd(in initrdInput) ([]byte, []string, error) {
	entries, mods, err := initrdEntries(in)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, nil, fmt.Errorf("creating initrd gzip writer: %w", err)
	}
	if err := writeCpio(zw, entries, in.mtime); err != nil {
		return nil, nil, fmt.Errorf("writing initrd: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, nil, fmt.Errorf("compressing initrd: %w", err)
	}
	return out.Bytes(), mods, nil
}

// initrdSkeleton is the fixed part: directories, device nodes the kernel
// needs before devtmpfs, /init and its configuration.
func initrdSkeleton(in initrdInput) []cpioEntry {
	var entries []cpioEntry
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "lib", "lib64",
		"lib/modules", "lib/x86_64-linux-gnu", "etc", "dev", "proc", "sys", "run", "tmp",
		"sysroot", "oem", "root", "mnt"} {
		entries = append(entries, cpioEntry{name: d, mode: cpioDir | 0o755})
	}
	return append(entries,
		cpioEntry{name: "dev/console", mode: cpioChr | 0o600, major: 5, minor: 1},
		cpioEntry{name: "dev/null", mode: cpioChr | 0o666, major: 1, minor: 3},
		cpioEntry{name: "bin/sh", mode: cpioLink | 0o777, link: "busybox"},
		cpioEntry{name: "etc/mtab", mode: cpioLink | 0o777, link: "/proc/mounts"},
		cpioEntry{name: "init", mode: cpioReg | 0o755, data: recipe("init.sh")},
		cpioEntry{name: "etc/elemental-initrd.conf", mode: cpioReg | 0o644,
			data: fmt.Appendf(nil, "GENERATION=%d\nKERNEL=%s\n", in.generation, in.kernel)},
	)
}

// initrdEntries collects the skeleton, busybox, the stand-in, the tools with
// their libraries and the kernel modules with their load order.
func initrdEntries(in initrdInput) ([]cpioEntry, []string, error) {
	entries := initrdSkeleton(in)
	add := func(name, hostPath string, mode uint32) error {
		data, err := os.ReadFile(hostPath)
		if err != nil {
			return fmt.Errorf("reading %s for the initrd: %w", hostPath, err)
		}
		entries = append(entries, cpioEntry{name: name, mode: cpioReg | mode, data: data})
		return nil
	}
	bb, err := resolveIn(in.tree, "/bin/busybox")
	if err != nil {
		return nil, nil, fmt.Errorf("finding busybox: %w", err)
	}
	files := []copyFile{{src: bb[1:], dst: "bin/busybox"}}
	tools, err := binaryClosure(in.tree, lines(recipe("initrd-binaries.txt")))
	if err != nil {
		return nil, nil, err
	}
	for _, f := range append(files, tools...) {
		if err := add(f.dst, filepath.Join(in.tree, f.src), 0o755); err != nil {
			return nil, nil, err
		}
	}
	if err := add("usr/bin/elemental", in.standin, 0o755); err != nil {
		return nil, nil, err
	}
	mods, err := moduleOrder(in.tree, in.kernel, lines(recipe("initrd-modules.txt")))
	if err != nil {
		return nil, nil, err
	}
	var order bytes.Buffer
	for _, m := range mods {
		rel := in.kernel + "/" + m
		if err := add("lib/modules/"+rel, filepath.Join(in.tree, "usr/lib/modules", rel), 0o644); err != nil {
			return nil, nil, err
		}
		fmt.Fprintln(&order, rel)
	}
	entries = append(entries, cpioEntry{name: "lib/modules/load.order", mode: cpioReg | 0o644, data: order.Bytes()})
	return withParents(entries), mods, nil
}

// withParents adds a directory entry for every missing parent.
func withParents(entries []cpioEntry) []cpioEntry {
	have := map[string]bool{}
	for _, e := range entries {
		have[e.name] = true
	}
	for _, e := range entries {
		for d := path.Dir(e.name); d != "." && !have[d]; d = path.Dir(d) {
			have[d] = true
			entries = append(entries, cpioEntry{name: d, mode: cpioDir | 0o755})
		}
	}
	return entries
}

// lines returns the non-empty, non-comment lines of a recipe list.
func lines(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// resolveIn resolves p inside the tree at root, following symlinks
// (absolute ones relative to root), and returns the real path within root.
func resolveIn(root, p string) (string, error) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	cur, hops := "/", 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolving %s: too many symlinks", p)
		}
		t, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(t) {
			cur = "/"
		}
		parts = append(strings.Split(t, "/"), parts...)
	}
	return cur, nil
}

// copyFile is one file to put in the initrd: src in the tree, dst in the
// initrd (both without leading slash).
type copyFile struct{ src, dst string }

// libDirs are searched for DT_NEEDED names, like ld.so's default path.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"}

// binaryClosure returns the binaries plus the ELF interpreter and every
// shared library they need, transitively, resolved inside the tree (the
// host's ldd would answer for the host, not for the image).
func binaryClosure(tree string, bins []string) ([]copyFile, error) {
	var out []copyFile
	seen := map[string]bool{}
	queue := []string{}
	for _, b := range bins {
		real, err := resolveIn(tree, b)
		if err != nil {
			return nil, fmt.Errorf("finding %s in the rootfs: %w", b, err)
		}
		out = append(out, copyFile{src: real[1:], dst: b[1:]})
		queue = append(queue, real)
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		f, err := elf.Open(filepath.Join(tree, cur))
		if err != nil {
			return nil, fmt.Errorf("reading ELF %s: %w", cur, err)
		}
		needed, err := f.ImportedLibraries()
		interp := elfInterp(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading DT_NEEDED of %s: %w", cur, err)
		}
		if interp != "" && !seen[interp] {
			seen[interp] = true
			real, err := resolveIn(tree, interp)
			if err != nil {
				return nil, fmt.Errorf("finding interpreter %s: %w", interp, err)
			}
			out = append(out, copyFile{src: real[1:], dst: interp[1:]})
		}
		for _, lib := range needed {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			real, err := findLib(tree, lib)
			if err != nil {
				return nil, fmt.Errorf("library %s needed by %s: %w", lib, cur, err)
			}
			out = append(out, copyFile{src: real[1:], dst: "lib/x86_64-linux-gnu/" + lib})
			queue = append(queue, real)
		}
	}
	return out, nil
}

func findLib(tree, name string) (string, error) {
	for _, d := range libDirs {
		if real, err := resolveIn(tree, path.Join(d, name)); err == nil {
			return real, nil
		}
	}
	return "", fmt.Errorf("not found in %v", libDirs)
}

func elfInterp(f *elf.File) string {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err == nil {
				return strings.TrimRight(string(data), "\x00")
			}
		}
	}
	return ""
}

// errModuleMissing marks a wanted module that is neither a file nor built in.
var errModuleMissing = errors.New("kernel module not found")

// moduleOrder turns wanted module names into module paths (relative to
// /lib/modules/<kernel>) in an order insmod accepts: every module after all
// of its dependencies from modules.dep. Built-in modules are skipped.
func moduleOrder(tree, kernel string, wanted []string) ([]string, error) {
	dir := filepath.Join(tree, "usr/lib/modules", kernel)
	deps, err := readModulesDep(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	builtin, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if err != nil {
		return nil, fmt.Errorf("reading modules.builtin: %w", err)
	}
	isBuiltin := map[string]bool{}
	for _, l := range lines(builtin) {
		isBuiltin[modName(l)] = true
	}
	byName := map[string]string{}
	for p := range deps {
		byName[modName(p)] = p
	}
	var order []string
	done := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		if done[p] {
			return
		}
		done[p] = true
		for _, d := range deps[p] {
			visit(d)
		}
		order = append(order, p)
	}
	var missing []error
	for _, w := range wanted {
		name := modName(w)
		switch p, ok := byName[name]; {
		case ok:
			visit(p)
		case isBuiltin[name]:
		default:
			missing = append(missing, fmt.Errorf("%s: %w", w, errModuleMissing))
		}
	}
	return order, errors.Join(missing...)
}

// modName normalises a module path or name: "kernel/fs/nls/nls-x.ko" and
// "nls_x" are the same module.
func modName(p string) string {
	base := path.Base(p)
	base = strings.TrimSuffix(base, ".ko")
	return strings.ReplaceAll(base, "-", "_")
}

func readModulesDep(file string) (map[string][]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading modules.dep: %w", err)
	}
	deps := map[string][]string{}
	for _, l := range lines(data) {
		mod, rest, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps, nil
}
