package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/elemental-suite/elemental/acctest/registry"
	"github.com/elemental-suite/elemental/internal/statefile"
)

// derivativeLayer is a tiny test derivative: kernel and initrd (fake),
// grub.cfg, os-release naming the version, a setuid root file, a file
// with group 42 and one with a user xattr.
func derivativeLayer(t *testing.T, version string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	now := time.Unix(1700000000, 0)
	add := func(h tar.Header, body string) {
		h.ModTime = now
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	for _, d := range []string{"boot/", "etc/", "etc/elemental/", "lib/", "lib/modules/", "lib/modules/6.1.0-test/", "usr/", "usr/bin/"} {
		add(tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, "")
	}
	reg := func(n string, mode int64, body string) {
		add(tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: mode}, body)
	}
	reg("etc/os-release", 0o644, fmt.Sprintf("NAME=standin\nVERSION=%s\nGRUB_ENTRY_NAME=\"Standin %s\"\n", version, version))
	reg("etc/elemental/grub.cfg", 0o644, "# grub "+version+"\n")
	if strings.HasPrefix(version, "cos") { // a v1 derivative
		for _, d := range []string{"etc/cos/", "usr/share/", "usr/share/grub2/", "usr/share/grub2/x86_64-efi/"} {
			add(tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, "")
		}
		reg("etc/cos/grub.cfg", 0o644, "# cos grub "+version+"\n")
		for _, m := range []string{"loopback", "squash4", "xzio", "other"} {
			reg("usr/share/grub2/x86_64-efi/"+m+".mod", 0o644, m)
		}
	}
	reg("etc/elemental/bootargs.cfg", 0o644, "set kernelcmd=\"console=ttyS0\"\n")
	reg("boot/vmlinuz-6.1.0-test", 0o644, "kernel "+version)
	reg("boot/elemental.initrd-6.1.0-test", 0o644, "initrd "+version)
	add(tar.Header{Name: "boot/vmlinuz", Typeflag: tar.TypeSymlink, Linkname: "vmlinuz-6.1.0-test", Mode: 0o777}, "")
	add(tar.Header{Name: "boot/initrd", Typeflag: tar.TypeSymlink, Linkname: "elemental.initrd-6.1.0-test", Mode: 0o777}, "")
	reg("usr/bin/suid", 0o4755, "#!/bin/sh\n")
	add(tar.Header{Name: "etc/shadow", Typeflag: tar.TypeReg, Mode: 0o640, Gid: 42}, "")
	add(tar.Header{Name: "etc/xattr-file", Typeflag: tar.TypeReg, Mode: 0o644,
		PAXRecords: map[string]string{"SCHILY.xattr.user.test": "1"}}, "")
	tw.Close()
	return b.Bytes()
}

func pushDerivative(t *testing.T, host, tag string, layer []byte) string {
	t.Helper()
	l, err := tarball.LayerFromReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/derivative:" + tag)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// loopSetup builds the stand-in, starts a registry and makes a loop disk
// with the five Elemental partitions (efi, oem, recovery, state,
// persistent), formatted and labelled.
type loopSetup struct {
	bin, loop, diskFile, dir string
	reg                      *registry.Registry
}

func newLoopSetup(t *testing.T) *loopSetup {
	t.Helper()
	if os.Getenv("STANDIN_LOOP_TEST") != "1" {
		t.Skip("set STANDIN_LOOP_TEST=1 to run (needs root, loop devices, unshare)")
	}
	for _, tool := range []string{"losetup", "partx", "sgdisk", "mkfs.ext4", "mksquashfs", "unsquashfs",
		"debugfs", "e2fsck", "e2label", "dumpe2fs", "unshare", "findmnt", "blockdev", "tune2fs", "resize2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	s := &loopSetup{dir: t.TempDir()}
	s.bin = filepath.Join(s.dir, "elemental")
	build := exec.Command("go", "build", "-o", s.bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building stand-in: %v\n%s", err, out)
	}
	var err error
	if s.reg, err = registry.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.reg.Close() })
	s.diskFile = filepath.Join(s.dir, "disk.raw")
	mustRun(t, "truncate", "-s", "1200M", s.diskFile)
	mustRun(t, "sgdisk", "-n1:2048:+64M", "-t1:EF00", "-c1:efi", "-n2:0:+64M", "-c2:oem", "-n3:0:+256M", "-c3:recovery",
		"-n4:0:+512M", "-c4:state", "-n5:0:0", "-c5:persistent", s.diskFile)
	s.loop = mustRun(t, "losetup", "-fP", "--show", s.diskFile)
	t.Cleanup(func() { exec.Command("losetup", "-d", s.loop).Run() })
	if _, err := os.Stat(s.loop + "p1"); err != nil {
		// Kernels without GPT parsing: add the partitions with BLKPG.
		mustRun(t, "partx", "-a", s.loop)
	}
	// The ESP is FAT; kernels without vfat (some CI sandboxes) get ext4,
	// which the stand-in treats the same.
	if fs, _ := os.ReadFile("/proc/filesystems"); strings.Contains(string(fs), "vfat") {
		mustRun(t, "mkfs.vfat", "-n", "COS_GRUB", s.loop+"p1")
	} else {
		mustRun(t, "mkfs.ext4", "-q", "-F", "-L", "COS_GRUB", s.loop+"p1")
	}
	for i, label := range map[int]string{2: "COS_OEM", 3: "COS_RECOVERY", 4: "COS_STATE", 5: "COS_PERSISTENT"} {
		mustRun(t, "mkfs.ext4", "-q", "-F", "-L", label, fmt.Sprintf("%sp%d", s.loop, i))
	}
	return s
}

// runScript runs a testdata script in a private mount namespace.
func (s *loopSetup) runScript(t *testing.T, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "-m", "bash", script, s.bin, s.loop, s.reg.Host(), s.diskFile).CombinedOutput()
	t.Logf("script output:\n%s", out)
	if err != nil || !strings.Contains(string(out), "ALL CHECKS PASSED") {
		t.Fatalf("%s: %v", script, err)
	}
}

// TestLoopDeviceV2 runs reset, upgrade (twice, the second with
// --recovery) and run-stage partition growth on a loop-device disk with
// the v2 layout, checking the results with e2fsck, debugfs, unsquashfs,
// sgdisk and dumpe2fs (testdata/loopdev-v2.sh). It needs root, loop
// devices and unshare, so it only runs with STANDIN_LOOP_TEST=1.
func TestLoopDeviceV2(t *testing.T) {
	s := newLoopSetup(t)
	v1Layer := derivativeLayer(t, "v1")
	v1Digest := pushDerivative(t, s.reg.Host(), "v1", v1Layer)
	pushDerivative(t, s.reg.Host(), "v2", derivativeLayer(t, "v2"))
	pushDerivative(t, s.reg.Host(), "v3", derivativeLayer(t, "v3"))
	seedRecovery(t, s.loop, s.dir, v1Layer, "oci://"+s.reg.Host()+"/derivative:v1", v1Digest)
	s.runScript(t, "testdata/loopdev-v2.sh")
}

// TestLoopDeviceV1 runs the v1 flows: reset (active.img, passive.img,
// grub2/), a system upgrade (active → passive rotation with relabel) and
// a recovery-only upgrade (testdata/loopdev-v1.sh).
func TestLoopDeviceV1(t *testing.T) {
	s := newLoopSetup(t)
	layer := derivativeLayer(t, "cos1")
	digest := pushDerivative(t, s.reg.Host(), "cos1", layer)
	pushDerivative(t, s.reg.Host(), "cos2", derivativeLayer(t, "cos2"))
	pushDerivative(t, s.reg.Host(), "cos3", derivativeLayer(t, "cos3"))
	seedRecoveryV1(t, s, layer, "oci://"+s.reg.Host()+"/derivative:cos1", digest)
	s.runScript(t, "testdata/loopdev-v1.sh")
}

// seedRecoveryV1 writes what a v1 install leaves on COS_RECOVERY:
// cOS/recovery.img (ext2, COS_SYSTEM) and a v1 state.yaml.
func seedRecoveryV1(t *testing.T, s *loopSetup, layer []byte, src, digest string) {
	t.Helper()
	tree := filepath.Join(s.dir, "tree")
	if err := extractTar(context.Background(), bytes.NewReader(layer), tree); err != nil {
		t.Fatal(err)
	}
	if err := createDirStructure(tree, genV1); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(s.dir, "mnt")
	os.MkdirAll(mnt, 0o755)
	mustRun(t, "mount", s.loop+"p3", mnt)
	defer mustRun(t, "umount", mnt)
	os.MkdirAll(filepath.Join(mnt, "cOS"), 0o755)
	if err := makeExt2(context.Background(), tree, filepath.Join(mnt, "cOS/recovery.img"), labelSystem); err != nil {
		t.Fatal(err)
	}
	st, err := statefile.V1(statefile.Disk{Date: time.Now(), System: statefile.Image{Source: src, Digest: digest, FS: "ext2"},
		Recovery: statefile.Image{Source: src, Digest: digest, FS: "ext2", Label: labelSystem}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mnt, "state.yaml"), st, 0o644)
}

// seedRecovery writes what build-disk puts on COS_RECOVERY and the ESP:
// boot/recovery.img (squashfs of the v1 tree), state.yaml, EFI/BOOT.
func seedRecovery(t *testing.T, loop, dir string, layer []byte, src, digest string) {
	t.Helper()
	tree := filepath.Join(dir, "tree")
	if err := extractTar(context.Background(), bytes.NewReader(layer), tree); err != nil {
		t.Fatal(err)
	}
	if err := createDirStructure(tree, genV2); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "mnt")
	os.MkdirAll(mnt, 0o755)
	mustRun(t, "mount", loop+"p3", mnt)
	os.MkdirAll(filepath.Join(mnt, "boot"), 0o755)
	mustRun(t, "mksquashfs", tree, filepath.Join(mnt, "boot/recovery.img"), "-no-progress", "-quiet")
	st, err := statefile.V2(statefile.Disk{Date: time.Now(), System: statefile.Image{Source: src, Digest: digest},
		Recovery: statefile.Image{Source: src, Digest: digest, FS: "squashfs"}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mnt, "state.yaml"), st, 0o644)
	mustRun(t, "umount", mnt)
	mustRun(t, "mount", loop+"p1", mnt)
	os.MkdirAll(filepath.Join(mnt, "EFI/BOOT"), 0o755)
	if err := setGrubEnv(filepath.Join(mnt, "grub_oem_env"), []kv{{"state_label", labelState}}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "umount", mnt)
}
