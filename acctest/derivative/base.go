package derivative

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// base is the shared Debian rootfs: the extracted tree (read by the other
// layers' recipes) and its layer, both cached by the base key.
type base struct {
	tree   string // extracted rootfs
	layer  string // layer 1, .tar.gz
	kernel string // the one version under /lib/modules
}

// ensureBase makes (or reuses) the mmdebstrap tarball, its extracted tree and
// layer 1. Each step leaves a finished file behind only when it succeeded, so
// an interrupted build resumes where it stopped.
func (b *builder) ensureBase(ctx context.Context) (*base, error) {
	key := b.baseKey()[:16]
	dir := filepath.Join(b.cache, "base-"+key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating base dir: %w", err)
	}
	tarball := filepath.Join(dir, "rootfs.tar")
	if err := b.ensureFile(tarball, func(tmp string) error { return b.debootstrap(ctx, dir, tmp) }); err != nil {
		return nil, err
	}
	tree := filepath.Join(dir, "tree")
	if err := b.ensureFile(tree, func(tmp string) error { return b.extract(ctx, tarball, tmp) }); err != nil {
		return nil, err
	}
	layer := filepath.Join(dir, "layer.tar.gz")
	err := b.ensureFile(layer, func(tmp string) error {
		b.logf("writing the base layer")
		return writeLayer(ctx, layerSpec{root: tree, skip: skipInBase, epoch: b.epoch}, tmp)
	})
	if err != nil {
		return nil, err
	}
	kernel, err := kernelVersion(tree)
	if err != nil {
		return nil, err
	}
	return &base{tree: tree, layer: layer, kernel: kernel}, nil
}

// ensureFile runs make on a temporary name next to path and renames it into
// place, unless path already exists.
func (b *builder) ensureFile(path string, make func(tmp string) error) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("removing stale %s: %w", tmp, err)
	}
	if err := make(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

// debootstrap runs recipe/base.sh (mmdebstrap) into a tarball.
func (b *builder) debootstrap(ctx context.Context, dir, out string) error {
	script := filepath.Join(dir, "base.sh")
	pkgs := filepath.Join(dir, "packages.txt")
	if err := os.WriteFile(script, recipe("base.sh"), 0o755); err != nil {
		return fmt.Errorf("writing base.sh: %w", err)
	}
	if err := os.WriteFile(pkgs, recipe("packages.txt"), 0o644); err != nil {
		return fmt.Errorf("writing packages.txt: %w", err)
	}
	b.logf("building the base rootfs with mmdebstrap from %s", b.mirror)
	env := []string{fmt.Sprintf("SOURCE_DATE_EPOCH=%d", b.epoch.Unix())}
	if err := b.run(ctx, env, "/bin/sh", script, out, pkgs, b.mirror); err != nil {
		return fmt.Errorf("building the base rootfs: %w", err)
	}
	return nil
}

// extract unpacks the tarball keeping numeric owners, modes and xattrs.
func (b *builder) extract(ctx context.Context, tarball, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return b.run(ctx, nil, "tar", "--xattrs", "--xattrs-include=*", "--numeric-owner",
		"-xpf", tarball, "-C", dir)
}

// skipInBase leaves out what must not be in an image or is replaced by the
// boot layer: pseudo filesystems' contents, apt caches, the host's
// resolv.conf and hostname, the generated ssh host keys (the boot layer
// brings fixed ones) and the dangling initrd.img links (no initramfs-tools
// image is built).
func skipInBase(rel string) bool {
	for _, dir := range []string{"dev", "proc", "sys", "run", "tmp", "var/cache/apt", "var/lib/apt/lists"} {
		if strings.HasPrefix(rel, dir+"/") {
			return true
		}
	}
	switch rel {
	case "etc/resolv.conf", "etc/hostname", "initrd.img", "initrd.img.old":
		return true
	}
	m, _ := path.Match("etc/ssh/ssh_host_*", rel)
	return m
}

// kernelVersion is the single directory under /lib/modules.
func kernelVersion(tree string) (string, error) {
	entries, err := os.ReadDir(filepath.Join(tree, "usr/lib/modules"))
	if err != nil {
		return "", fmt.Errorf("reading kernel modules dir: %w", err)
	}
	var vers []string
	for _, e := range entries {
		if e.IsDir() {
			vers = append(vers, e.Name())
		}
	}
	if len(vers) != 1 {
		return "", fmt.Errorf("want one kernel in /lib/modules, found %q", vers)
	}
	return vers[0], nil
}
