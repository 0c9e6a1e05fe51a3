package derivative

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// grubModules are built into grubx64.efi: what the templates use (loopback,
// squash4, xzio for v1 squashfs images, regexp for passive entries, loadenv,
// search by label) and no tpm, whose verifier makes Debian's signed grub
// fail to loop-mount large snapshot images (contract §9).
var grubModules = []string{"part_gpt", "fat", "ext2", "squash4", "loopback", "xzio", "gzio",
	"normal", "configfile", "search", "search_label", "search_fs_uuid", "linux", "echo",
	"test", "loadenv", "cat", "ls", "all_video", "gfxterm", "efi_gop", "serial", "terminal",
	"sleep", "reboot", "halt", "regexp", "gettext"}

// stagedFile is one regular file of a layer.
type stagedFile struct {
	rel  string
	data []byte
	mode os.FileMode
}

// bootInput is what the boot layer needs besides the variant.
type bootInput struct {
	base                *base
	standin             string
	clientPub, hostKey  string // host paths of the keys (hostKey is the private half)
	generation          int
	epoch               int64
	grubEFI, initrdData []byte
}

// stageBoot fills the boot + toolkit layer (layer 2) of a generation. It
// depends on the generation only, so versions A and B share the blob.
func stageBoot(s *stage, in bootInput) error {
	k := in.base.kernel
	files := []stagedFile{
		{"etc/hostname", []byte("elemental-test\n"), 0o644},
		{"etc/hosts", []byte("127.0.0.1\tlocalhost\n127.0.1.1\telemental-test\n::1\tlocalhost ip6-localhost ip6-loopback\n"), 0o644},
		{"etc/os-release", osRelease(in.generation, "base"), 0o644},
		{"etc/ssh/sshd_config.d/10-elemental-test.conf", recipe("sshd.conf"), 0o644},
		{"etc/systemd/network/80-elemental-test.network", recipe("dhcp.network"), 0o644},
		{"etc/systemd/system/systemd-networkd-wait-online.service.d/elemental-test.conf", recipe("wait-online.conf"), 0o644},
		{"etc/systemd/system/elemental-test-booted.service", recipe("booted.service"), 0o644},
		{"usr/libexec/elemental-test/booted.sh", recipe("booted.sh"), 0o755},
	}
	cfgDir, initrdName := "etc/elemental", "elemental.initrd-"+k
	if in.generation == 1 {
		cfgDir, initrdName = "etc/cos", "initrd-"+k
	}
	g := fmt.Sprint(in.generation)
	files = append(files,
		stagedFile{cfgDir + "/grub.cfg", recipe("grub-v" + g + ".cfg"), 0o644},
		stagedFile{cfgDir + "/bootargs.cfg", recipe("bootargs-v" + g + ".cfg"), 0o644},
		stagedFile{"boot/" + initrdName, in.initrdData, 0o644},
	)
	for _, f := range files {
		if err := s.file(f.rel, f.data, f.mode); err != nil {
			return err
		}
	}
	if err := stageEFI(s, in); err != nil {
		return err
	}
	if err := stageKeys(s, in); err != nil {
		return err
	}
	copies := []struct{ rel, src string }{{"usr/bin/elemental", in.standin}}
	for _, c := range copies {
		if err := s.copyFile(c.rel, c.src, 0o755); err != nil {
			return err
		}
	}
	// Mountpoint the disk builder would create anyway (contract §2.1).
	if err := s.mkdir("oem", 0o755); err != nil {
		return err
	}
	return stageLinks(s, k, initrdName)
}

// stageLinks makes the kernel/initrd names GRUB and the toolkit look for,
// grub2-editenv (v1 calls only that name), and enables the units.
func stageLinks(s *stage, kernel, initrdName string) error {
	const sys = "etc/systemd/system/"
	links := []struct{ rel, target string }{
		{"boot/vmlinuz", "vmlinuz-" + kernel},
		{"boot/initrd", initrdName},
		{"usr/bin/grub2-editenv", "grub-editenv"},
		{sys + "multi-user.target.wants/systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service"},
		{sys + "multi-user.target.wants/elemental-test-booted.service", "/etc/systemd/system/elemental-test-booted.service"},
		{sys + "sockets.target.wants/systemd-networkd.socket", "/lib/systemd/system/systemd-networkd.socket"},
		{sys + "network-online.target.wants/systemd-networkd-wait-online.service", "/lib/systemd/system/systemd-networkd-wait-online.service"},
		{sys + "dbus-org.freedesktop.network1.service", "/lib/systemd/system/systemd-networkd.service"},
	}
	for _, l := range links {
		if err := s.symlink(l.rel, l.target); err != nil {
			return err
		}
	}
	return nil
}

// stageEFI installs shim, grub and MokManager under the names each
// generation's installer looks for (contract §3.2): v2 stages them in
// /usr/lib/elemental/bootloader, v1 finds SUSE names by a tree walk (ID=debian
// is neither fedora nor ubuntu, so the SUSE names apply).
//
// v1's shim.efi is the plain grub itself, not Debian's shim: the ESP gets
// shim.efi as bootx64.efi next to grub.efi, and Debian's shim only loads
// grubx64.efi, so a real shim there could never start grub. With Secure
// Boot off the firmware runs grub directly, which then reads the ESP's
// grub.cfg stub from its own directory.
func stageEFI(s *stage, in bootInput) error {
	shim, err := os.ReadFile(filepath.Join(in.base.tree, "usr/lib/shim/shimx64.efi.signed"))
	if err != nil {
		return fmt.Errorf("reading shim: %w", err)
	}
	mm := filepath.Join(in.base.tree, "usr/lib/shim/mmx64.efi.signed")
	dir, names := "usr/lib/elemental/bootloader/", [3]string{"shimx64.efi", "grubx64.efi", "mmx64.efi"}
	if in.generation == 1 {
		dir, names = "usr/share/efi/x86_64/", [3]string{"shim.efi", "grub.efi", "MokManager.efi"}
		shim = in.grubEFI
	}
	if err := s.file(dir+names[0], shim, 0o644); err != nil {
		return err
	}
	if err := s.file(dir+names[1], in.grubEFI, 0o644); err != nil {
		return err
	}
	return s.copyFile(dir+names[2], mm, 0o644)
}

// stageKeys installs the per-cache SSH keys: root's authorized_keys and the
// fixed ed25519 host key.
func stageKeys(s *stage, in bootInput) error {
	if err := s.mkdir("root/.ssh", 0o700); err != nil {
		return err
	}
	if err := s.copyFile("root/.ssh/authorized_keys", in.clientPub, 0o600); err != nil {
		return err
	}
	if err := s.copyFile("etc/ssh/ssh_host_ed25519_key", in.hostKey, 0o600); err != nil {
		return err
	}
	return s.copyFile("etc/ssh/ssh_host_ed25519_key.pub", in.hostKey+".pub", 0o644)
}

// osRelease is the derivative's /etc/os-release. ID stays debian (see
// stageEFI); GRUB_ENTRY_NAME feeds default_menu_entry; VERSION and
// IMAGE_VERSION tell A from B on a booted machine.
func osRelease(generation int, version string) []byte {
	return fmt.Appendf(nil, `NAME="Elemental Test Derivative"
VERSION=%q
VERSION_ID=%q
ID=debian
ID_LIKE=debian
PRETTY_NAME="Elemental Test Derivative v%d %s (Debian 12)"
VARIANT="generation %d"
VARIANT_ID=elemental-test-v%d
IMAGE_VERSION=v%d-%s
GRUB_ENTRY_NAME="Elemental Test v%d"
ELEMENTAL_TEST_GENERATION=%d
`, version, version, generation, version, generation, generation, generation, version, generation, generation)
}

// stageTop fills the version layer (layer 3): files that differ between A
// and B, plus deletions of base files so whiteouts are exercised.
func stageTop(s *stage, v Variant) ([]string, error) {
	files := []struct {
		rel  string
		data []byte
	}{
		{"etc/os-release", osRelease(v.Generation, v.Version)},
		{"etc/issue", fmt.Appendf(nil, "Elemental Test Derivative %s \\n \\l\n\n", v)},
		{"etc/elemental-test-version", []byte(v.Version + "\n")},
	}
	for _, f := range files {
		if err := s.file(f.rel, f.data, 0o644); err != nil {
			return nil, err
		}
	}
	var whiteouts []string
	for _, p := range []string{"etc/motd", "usr/share/doc/busybox-static"} {
		if _, err := os.Lstat(filepath.Join(s.base, p)); err != nil {
			continue // nothing to delete in this base
		}
		if err := s.parents(p); err != nil {
			return nil, err
		}
		whiteouts = append(whiteouts, p)
	}
	return whiteouts, nil
}

// grubImage builds the plain grubx64.efi with the rootfs's own grub-mkimage
// and modules (chroot, so the host needs no grub), embedding grub-early.cfg.
// Its input and output go through the tree's /tmp, which no layer includes.
// grub-early.cfg has no comments: the embedded config is read by GRUB's
// rescue parser, which prints "Unknown command `#'" for them.
func (b *builder) grubImage(ctx context.Context, tree string) ([]byte, error) {
	cfg := filepath.Join(tree, "tmp", "elemental-early.cfg")
	out := filepath.Join(tree, "tmp", "elemental-grubx64.efi")
	if err := os.WriteFile(cfg, recipe("grub-early.cfg"), 0o644); err != nil {
		return nil, fmt.Errorf("writing grub early config: %w", err)
	}
	defer os.Remove(cfg)
	defer os.Remove(out)
	args := append([]string{tree, "grub-mkimage", "-O", "x86_64-efi", "-p", "/EFI/BOOT",
		"-d", "/usr/lib/grub/x86_64-efi", "-c", "/tmp/elemental-early.cfg",
		"-o", "/tmp/elemental-grubx64.efi"}, grubModules...)
	if err := b.run(ctx, nil, "chroot", args...); err != nil {
		return nil, fmt.Errorf("building grubx64.efi: %w", err)
	}
	img, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading grubx64.efi: %w", err)
	}
	if len(img) < 2 || img[0] != 'M' || img[1] != 'Z' {
		return nil, fmt.Errorf("building grubx64.efi: output is not a PE image")
	}
	return img, nil
}
