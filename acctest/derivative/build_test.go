package derivative_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/elemental-suite/elemental/acctest/derivative"
)

// needBuildTools skips unless Build can run here: root, mmdebstrap, chroot.
func needBuildTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: builds a Debian rootfs (skipped with -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("building a derivative needs root (mmdebstrap --mode=root, chroot)")
	}
	for _, tool := range []string{"mmdebstrap", "chroot", "tar", "ssh-keygen", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("building a derivative needs %s: %v", tool, err)
		}
	}
}

// layerFiles lists one layer of the image: name → header.
func layerFiles(t *testing.T, dir, digest string, i int) map[string]*tar.Header {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	man, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Manifests) != 1 || man.Manifests[0].Digest.String() != digest {
		t.Fatalf("layout index = %+v, want one manifest %s", man.Manifests, digest)
	}
	img, err := idx.Image(man.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 3 {
		t.Fatalf("image has %d layers, want 3", len(layers))
	}
	rc, err := layers[i].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading layer %d: %v", i, err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = h
	}
}

func TestBuildV2A(t *testing.T) {
	needBuildTools(t)
	ctx := context.Background()
	var log bytes.Buffer
	// ELEMENTAL_STANDIN_DIR points at another stand-in package (a missing
	// directory gives the placeholder), e.g. while the real one is in flux.
	opts := derivative.Options{Log: &log, StandinDir: os.Getenv("ELEMENTAL_STANDIN_DIR")}
	if testing.Verbose() {
		opts.Log = io.MultiWriter(&log, os.Stderr)
	}
	start := time.Now()
	b, err := derivative.Build(ctx, derivative.Variant{Generation: 2, Version: "A"}, opts)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	t.Logf("first Build took %s: %+v", time.Since(start).Round(time.Second), b)

	start = time.Now()
	again, err := derivative.Build(ctx, derivative.Variant{Generation: 2, Version: "A"}, opts)
	if err != nil {
		t.Fatalf("second Build: %v", err)
	}
	if again.Digest != b.Digest {
		t.Errorf("second Build digest = %s, want %s (cache hit)", again.Digest, b.Digest)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("second Build took %s, want a cache hit", d)
	}

	base := layerFiles(t, b.LayoutDir, b.Digest, 0)
	for _, p := range []string{"usr/lib/systemd/systemd", "usr/sbin/sshd", "usr/lib/modules/" + b.Kernel + "/kernel/fs/ext4/ext4.ko",
		"boot/vmlinuz-" + b.Kernel, "usr/lib/grub/x86_64-efi/loopback.mod", "usr/lib/grub/x86_64-efi/squash4.mod",
		"usr/lib/grub/x86_64-efi/xzio.mod", "usr/bin/grub-editenv", "usr/sbin/sgdisk", "etc/motd"} {
		if base[p] == nil {
			t.Errorf("base layer lacks %s", p)
		}
	}
	for _, p := range []string{"etc/resolv.conf", "etc/ssh/ssh_host_rsa_key", "dev/null"} {
		if base[p] != nil {
			t.Errorf("base layer has %s, want it left out", p)
		}
	}
	if h := base["usr/bin/ping"]; h != nil && h.PAXRecords["SCHILY.xattr.security.capability"] == "" {
		t.Logf("note: ping has no security.capability xattr (iputils not setcap'd here)")
	}

	boot := layerFiles(t, b.LayoutDir, b.Digest, 1)
	want := map[string]byte{
		"etc/elemental/grub.cfg":                           tar.TypeReg,
		"etc/elemental/bootargs.cfg":                       tar.TypeReg,
		"boot/vmlinuz":                                     tar.TypeSymlink,
		"boot/initrd":                                      tar.TypeSymlink,
		"boot/elemental.initrd-" + b.Kernel:                tar.TypeReg,
		"usr/lib/elemental/bootloader/shimx64.efi":         tar.TypeReg,
		"usr/lib/elemental/bootloader/grubx64.efi":         tar.TypeReg,
		"usr/lib/elemental/bootloader/mmx64.efi":           tar.TypeReg,
		"usr/bin/elemental":                                tar.TypeReg,
		"root/.ssh/authorized_keys":                        tar.TypeReg,
		"etc/ssh/ssh_host_ed25519_key":                     tar.TypeReg,
		"etc/systemd/system/elemental-test-booted.service": tar.TypeReg,
		"etc/os-release":                                   tar.TypeReg,
	}
	for p, typ := range want {
		if h := boot[p]; h == nil || h.Typeflag != typ {
			t.Errorf("boot layer entry %s = %+v, want type %c", p, h, typ)
		}
	}
	if h := boot["boot/initrd"]; h != nil && h.Linkname != "elemental.initrd-"+b.Kernel {
		t.Errorf("boot/initrd -> %s", h.Linkname)
	}
	if h := boot["root/.ssh"]; h == nil || h.Mode&0o777 != 0o700 || h.Uid != 0 {
		t.Errorf("root/.ssh header = %+v, want 0700 root", h)
	}
	if boot["etc/cos/grub.cfg"] != nil {
		t.Errorf("v2 image has the v1 etc/cos/grub.cfg")
	}

	top := layerFiles(t, b.LayoutDir, b.Digest, 2)
	for _, p := range []string{"etc/.wh.motd", "usr/share/doc/.wh.busybox-static", "etc/os-release", "etc/elemental-test-version", "etc/issue"} {
		if top[p] == nil {
			t.Errorf("top layer lacks %s", p)
		}
	}
	checkInitrd(t, b, "elemental.initrd-"+b.Kernel, 2)
}

func TestBuildV1B(t *testing.T) {
	needBuildTools(t)
	ctx := context.Background()
	var log bytes.Buffer
	opts := derivative.Options{Log: &log, StandinDir: os.Getenv("ELEMENTAL_STANDIN_DIR")}
	b, err := derivative.Build(ctx, derivative.Variant{Generation: 1, Version: "B"}, opts)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	v2, err := derivative.Build(ctx, derivative.Variant{Generation: 2, Version: "A"}, opts)
	if err != nil {
		t.Fatalf("Build v2-A: %v\n%s", err, log.String())
	}
	if b.Digest == v2.Digest {
		t.Fatalf("v1-B and v2-A have the same digest %s", b.Digest)
	}
	if b.HostKey != v2.HostKey || b.SSHKey != v2.SSHKey {
		t.Errorf("keys differ between variants of one cache: %+v vs %+v", b, v2)
	}
	boot := layerFiles(t, b.LayoutDir, b.Digest, 1)
	for _, p := range []string{"etc/cos/grub.cfg", "etc/cos/bootargs.cfg", "usr/share/efi/x86_64/shim.efi",
		"usr/share/efi/x86_64/grub.efi", "usr/share/efi/x86_64/MokManager.efi", "boot/initrd-" + b.Kernel,
		"usr/bin/grub2-editenv", "usr/bin/elemental"} {
		if boot[p] == nil {
			t.Errorf("v1 boot layer lacks %s", p)
		}
	}
	// v1 ships grub as shim.efi (Debian's shim would look for grubx64.efi).
	if s, g := boot["usr/share/efi/x86_64/shim.efi"], boot["usr/share/efi/x86_64/grub.efi"]; s == nil || g == nil || s.Size != g.Size {
		t.Errorf("v1 shim.efi %+v and grub.efi %+v: want the same grub image", s, g)
	}
	for _, p := range []string{"etc/elemental/grub.cfg", "usr/lib/elemental/bootloader/shimx64.efi", "boot/elemental.initrd-" + b.Kernel} {
		if boot[p] != nil {
			t.Errorf("v1 boot layer has the v2 file %s", p)
		}
	}
	checkInitrd(t, b, "initrd-"+b.Kernel, 1)
}

// checkInitrd unpacks the image's initrd with the cpio tool and checks /init
// and the modules, and that /init parses with busybox's and dash's sh.
func checkInitrd(t *testing.T, b *derivative.Built, initrd string, generation int) {
	t.Helper()
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skipf("checking the initrd needs cpio: %v", err)
	}
	dir := t.TempDir()
	untar := exec.Command("sh", "-c", `for l in "$1"/blobs/sha256/*; do tar -xzf "$l" -C "$2" boot 2>/dev/null; done; true`, "sh", b.LayoutDir, dir)
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("extracting boot/: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "boot", initrd))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("initrd is not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "initrd")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cpio", "-idm", "--quiet")
	cmd.Dir, cmd.Stdin = root, bytes.NewReader(raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v\n%s", err, out)
	}
	mods := "lib/modules/" + b.Kernel + "/kernel/"
	for _, p := range []string{"init", "bin/busybox", "usr/bin/elemental", "usr/sbin/e2fsck", "usr/sbin/resize2fs",
		"lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libext2fs.so.2", "lib/modules/load.order",
		mods + "fs/ext4/ext4.ko", mods + "drivers/block/virtio_blk.ko", mods + "drivers/block/loop.ko",
		mods + "fs/squashfs/squashfs.ko", mods + "fs/overlayfs/overlay.ko", mods + "fs/fat/vfat.ko", "etc/elemental-initrd.conf"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("initrd lacks %s: %v", p, err)
		}
	}
	order, _ := os.ReadFile(filepath.Join(root, "lib/modules/load.order"))
	pos := func(m string) int { return strings.Index(string(order), "/"+m+".ko") }
	for _, pair := range [][2]string{{"virtio_ring", "virtio_blk"}, {"jbd2", "ext4"}, {"fat", "vfat"}, {"virtio", "virtio_pci"}} {
		if a, z := pos(pair[0]), pos(pair[1]); a < 0 || z < 0 || a > z {
			t.Errorf("load.order: %s at %d, %s at %d; want both, the first earlier", pair[0], a, pair[1], z)
		}
	}
	conf, _ := os.ReadFile(filepath.Join(root, "etc/elemental-initrd.conf"))
	if want := fmt.Sprintf("GENERATION=%d\n", generation); !strings.Contains(string(conf), want) {
		t.Errorf("initrd conf = %q, want %q", conf, want)
	}
	for _, sh := range [][]string{{"dash", "-n"}, {filepath.Join(root, "bin/busybox"), "sh", "-n"}} {
		if _, err := exec.LookPath(sh[0]); err != nil {
			continue
		}
		if out, err := exec.Command(sh[0], append(sh[1:], filepath.Join(root, "init"))...).CombinedOutput(); err != nil {
			t.Errorf("%s -n init: %v\n%s", sh[0], err, out)
		}
	}
}
