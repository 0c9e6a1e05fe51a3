package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// resolveInTree resolves symlinks of an absolute in-image path against
// the tree root, as utils.FindKernel does.
func resolveInTree(tree, p string) (string, error) {
	for range 16 {
		fi, err := os.Lstat(filepath.Join(tree, p))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		target, err := os.Readlink(filepath.Join(tree, p))
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
	return "", fmt.Errorf("too many symlinks resolving %s", p)
}

// findInTree returns the resolved in-image path of the first match of the
// patterns (in pattern order).
func findInTree(tree string, patterns []string) (string, error) {
	for _, pat := range patterns {
		matches, _ := filepath.Glob(filepath.Join(tree, pat))
		for _, m := range matches {
			rel := "/" + strings.TrimPrefix(m, filepath.Clean(tree)+"/")
			if r, err := resolveInTree(tree, rel); err == nil {
				return r, nil
			}
		}
	}
	return "", fmt.Errorf("none of %v in %s", patterns, tree)
}

var (
	kernelPatterns = []string{"/boot/uImage*", "/boot/Image*", "/boot/zImage*", "/boot/vmlinuz*", "/boot/image*"}
	initrdPatterns = []string{"/boot/elemental.initrd*", "/boot/initrd*", "/boot/initramfs*"}
)

func copyFileMode(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// upgradeRecoveryV2 builds boot-transition/ (kernel, initrd, symlinks,
// bootargs.cfg, recovery.img) on the recovery partition from tree and
// rotates it into boot/ (§2.1, §4.2 step 9).
func upgradeRecoveryV2(ctx context.Context, e *env, tree, recDir string, dep deployed, st *stateV2) error {
	bt := filepath.Join(recDir, "boot-transition")
	if err := os.RemoveAll(bt); err != nil {
		return err
	}
	if err := os.MkdirAll(bt, 0o755); err != nil {
		return err
	}
	for _, set := range []struct {
		patterns []string
		links    []string
	}{{kernelPatterns, []string{"vmlinuz", "linux"}}, {initrdPatterns, []string{"initrd"}}} {
		p, err := findInTree(tree, set.patterns)
		if err != nil {
			return fmt.Errorf("finding kernel or initrd: %w", err)
		}
		base := filepath.Base(p)
		if err := copyFileMode(filepath.Join(tree, p), filepath.Join(bt, base), 0o644); err != nil {
			return fmt.Errorf("copying %s: %w", p, err)
		}
		for _, l := range set.links {
			if l != base {
				if err := os.Symlink(base, filepath.Join(bt, l)); err != nil {
					return err
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(tree, "etc/elemental/bootargs.cfg")); err == nil {
		if err := copyFileMode(filepath.Join(tree, "etc/elemental/bootargs.cfg"), filepath.Join(bt, "bootargs.cfg"), 0o644); err != nil {
			return err
		}
	}
	img := &imageState{Source: dep.source, Digest: dep.digest, FromAction: "upgrade"}
	if err := buildRecoveryImage(ctx, tree, filepath.Join(bt, "recovery.img"), recoveryFS(st), img); err != nil {
		return err
	}
	old := filepath.Join(recDir, "boot-old")
	_ = os.RemoveAll(old)
	if err := os.Rename(filepath.Join(recDir, "boot"), old); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Rename(bt, filepath.Join(recDir, "boot")); err != nil {
		return err
	}
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	st.Recovery.Recovery = img
	e.logf("Recovery upgrade completed")
	return nil
}

func recoveryFS(st *stateV2) string {
	if r := st.Recovery.Recovery; r != nil && r.FS != "" {
		return r.FS
	}
	return "squashfs"
}

// buildRecoveryImage writes a squashfs recovery image, or an ext2 one
// labelled COS_SYSTEM when fs is not squashfs or mksquashfs is missing.
func buildRecoveryImage(ctx context.Context, tree, dst, fs string, img *imageState) error {
	if fs == "squashfs" {
		if _, err := exec.LookPath("mksquashfs"); err == nil {
			img.FS = "squashfs"
			return makeSquashfs(ctx, tree, dst)
		}
	}
	img.FS, img.Label = "ext2", labelSystem
	return makeExt2(ctx, tree, dst, labelSystem)
}
