package ext4_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
)

// TestKernelMount mounts images read-write through a loop device (root
// only), reads metadata back through the kernel, writes and deletes, then
// runs e2fsck on the result.
func TestKernelMount(t *testing.T) {
	if testing.Short() {
		t.Skip("mounting is slow")
	}
	needTool(t, "mount", "umount", "e2fsck")
	if os.Geteuid() != 0 {
		t.Skip("test needs mount, which needs root")
	}
	for _, tc := range []struct {
		name, fstype string
		opts         ext4.Options
	}{
		{"ext2", "ext2", testOptions(ext4.KindExt2, false)},
		{"ext4 journal", "ext4", testOptions(ext4.KindExt4, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := build(t, 64<<20, tc.opts, tree(false))
			mnt := t.TempDir()
			if out, err := exec.Command("mount", "-t", tc.fstype, "-o", "loop", img, mnt).CombinedOutput(); err != nil {
				t.Skipf("test needs mount -o loop: %v: %s", err, out)
			}
			mounted := true
			umount := func() {
				if mounted {
					mounted = false
					run(t, "umount", mnt)
				}
			}
			t.Cleanup(umount)
			fi, err := os.Lstat(filepath.Join(mnt, "usr/bin/sgid"))
			if err != nil || fi.Mode()&os.ModeSetgid == 0 || fi.Sys().(*syscall.Stat_t).Gid != 100000 {
				t.Errorf("usr/bin/sgid: %v %v", fi, err)
			}
			if l, err := os.Readlink(filepath.Join(mnt, "links/long")); l != longLink {
				t.Errorf("links/long -> %q (%v)", l, err)
			}
			fi, err = os.Lstat(filepath.Join(mnt, "dev/nvme0n1"))
			if rdev := fi.Sys().(*syscall.Stat_t).Rdev; err != nil || (rdev>>8)&0xfff != 259 || rdev&0xff|(rdev>>12)&^0xff != 70000 {
				t.Errorf("dev/nvme0n1: rdev %#x %v", rdev, err)
			}
			for _, x := range []struct{ path, name string }{{"xattr/cap", "security.capability"}, {"xattr/big", "user.big"}} {
				buf := make([]byte, 4096)
				n, err := syscall.Getxattr(filepath.Join(mnt, x.path), x.name, buf)
				want := tree(false)
				var val []byte
				for _, it := range want {
					if it.e.Path == x.path {
						val = it.e.Xattrs[x.name]
					}
				}
				if err != nil || !bytes.Equal(buf[:max(n, 0)], val) {
					t.Errorf("%s %s: %d bytes, %v", x.path, x.name, n, err)
				}
			}
			b, err := os.ReadFile(filepath.Join(mnt, "data/random-5m"))
			if err != nil || !bytes.Equal(b, randBytes(2, 5<<20)) {
				t.Errorf("data/random-5m differs (%v)", err)
			}
			if err := os.WriteFile(filepath.Join(mnt, "new"), randBytes(12, 10<<20), 0o644); err != nil {
				t.Errorf("writing a new file: %v", err)
			}
			if err := os.RemoveAll(filepath.Join(mnt, "big")); err != nil {
				t.Errorf("removing big: %v", err)
			}
			umount()
			fsck(t, img)
		})
	}
}
