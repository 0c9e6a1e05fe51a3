package installer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/layout"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// derivative writes a synthetic derivative of generation gen as an OCI
// layout (base, boot, top layers plus a torture layer) and returns its
// source reference.
func derivative(t *testing.T, gen int, extra ...imagetest.Layer) string {
	t.Helper()
	layers := append(imagetest.Derivative(gen, "A"), imagetest.Torture("etc/os-release"))
	layers = append(layers, extra...)
	return imagetest.WriteLayoutRef(t, layers...)
}

// flattened is the tree a system image must hold: the image flattened,
// default excludes applied and mountpoints added.
func flattened(t *testing.T, src string, gen inspect.Generation) map[string]*entry {
	t.Helper()
	s, err := oci.Open(context.Background(), src, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{m: map[string]*entry{}}
	if err := s.Walk(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for p := range c.m {
		for _, x := range []string{".snapshots", "host", "etc/resolv.conf"} {
			if p == x || strings.HasPrefix(p, x+"/") {
				delete(c.m, p)
			}
		}
		for _, d := range []string{"mnt", "proc", "sys", "dev", "tmp", "run"} {
			if strings.HasPrefix(p, d+"/") {
				delete(c.m, p)
			}
		}
	}
	delete(c.m, ".")
	mps := map[string]uint32{"run": 0o755, "dev": 0o755, "boot": 0o755, "oem": 0o755, "system": 0o755,
		"etc/elemental/config.d": 0o755, "proc": 0o555, "sys": 0o555, "tmp": 0o1777, "etc/elemental": 0o755, "etc": 0o755}
	if gen == inspect.V1 {
		mps["usr/local"] = 0o755
		mps["usr"] = 0o755
	}
	for p, mode := range mps {
		if _, ok := c.m[p]; !ok {
			c.m[p] = &entry{typ: rootfs.TypeDir, mode: mode}
		}
	}
	return c.m
}

func build(t *testing.T, spec installer.Spec) *installer.Result {
	t.Helper()
	if spec.OutputDir == "" {
		spec.OutputDir = t.TempDir()
	}
	res, err := installer.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func rawOf(t *testing.T, res *installer.Result) string {
	t.Helper()
	for _, o := range res.Outputs {
		if o.Format == diskformat.Raw {
			return o.Path
		}
	}
	t.Fatal("no raw output")
	return ""
}

func sha(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestPartitionTable(t *testing.T) {
	need(t, "sgdisk")
	for _, gen := range []int{1, 2} {
		t.Run(inspect.Generation(gen).String(), func(t *testing.T) {
			res := build(t, installer.Spec{Source: derivative(t, gen), SourceDateEpoch: 1700000000})
			raw := rawOf(t, res)
			if out := run(t, "sgdisk", "-v", raw); !strings.Contains(out, "No problems found") {
				t.Errorf("sgdisk -v:\n%s", out)
			}
			out := run(t, "sgdisk", "-p", raw)
			for i, name := range layout.Order {
				code := "8300"
				if name == layout.EFI {
					code = "EF00"
				}
				p := partOf(t, res.Partitions, name)
				want := []string{itoa(i + 1), itoa64(p.Offset / 512), itoa64(p.End()/512 - 1), code, name}
				if !lineWith(out, want) {
					t.Errorf("sgdisk -p has no line with %q:\n%s", want, out)
				}
				if p.Offset%layout.MiB != 0 {
					t.Errorf("%s not 1 MiB aligned", name)
				}
			}
		})
	}
}

func TestV2Disk(t *testing.T) {
	need(t, "e2fsck", "debugfs", "dumpe2fs", "fsck.vfat", "mdir", "mtype", "unsquashfs")
	src := derivative(t, 2)
	res := build(t, installer.Spec{Source: src, SourceDateEpoch: 1700000000,
		CloudConfigs: []installer.CloudConfig{{Origin: "user.yaml", Data: []byte("users:\n  test: {}\n")}}})
	if res.Generation != inspect.V2 || res.KernelVersion != imagetest.KernelVersion || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Errorf("result = %+v", res)
	}
	raw := rawOf(t, res)
	parts := map[string]string{}
	for _, p := range res.Partitions {
		parts[p.Name] = cut(t, raw, p.Offset, p.Size)
	}
	for _, name := range []string{layout.OEM, layout.Recovery, layout.State, layout.Persistent} {
		e2fsck(t, parts[name], name)
		if got := label(t, parts[name]); got != layout.Labels[name] {
			t.Errorf("%s label %q, want %s", name, got, layout.Labels[name])
		}
	}

	// State: snapshot 1 holds exactly the flattened tree.
	snap := debugfsDump(t, parts[layout.State], "/.snapshots/1/snapshot.img")
	e2fsck(t, snap, "snapshot.img")
	if got := label(t, snap); got != "EL_SNAP1" {
		t.Errorf("snapshot label %q", got)
	}
	compareExt(t, snap, flattened(t, src, inspect.V2))
	if out := run(t, "debugfs", "-R", "stat /.snapshots/active", parts[layout.State]); !strings.Contains(out, `"1/snapshot.img"`) {
		t.Errorf("active link:\n%s", out)
	}
	state := readExt(t, parts[layout.State], "/state.yaml")
	for _, want := range []string{"type: loopdevice", "digest: " + res.Digest, "active: true", "fromAction: build-disk"} {
		if !strings.Contains(state, want) {
			t.Errorf("state.yaml lacks %q:\n%s", want, state)
		}
	}

	// Recovery: squashfs of the same tree, kernel and initrd beside it.
	rec := debugfsDump(t, parts[layout.Recovery], "/boot/recovery.img")
	if out := run(t, "unsquashfs", "-s", rec); !strings.Contains(out, "gzip") {
		t.Errorf("recovery.img is not gzip squashfs:\n%s", out)
	}
	list := run(t, "unsquashfs", "-lln", rec)
	for _, p := range []string{"squashfs-root/etc/os-release", "squashfs-root/torture/ping", "squashfs-root/tmp", "squashfs-root/boot/vmlinuz -> vmlinuz-" + imagetest.KernelVersion} {
		if !strings.Contains(list, p) {
			t.Errorf("recovery.img lacks %s", p)
		}
	}
	if strings.Contains(list, "squashfs-root/proc/x") || strings.Contains(list, imagetest.WhitedOut) {
		t.Errorf("recovery.img holds excluded or whited-out files:\n%s", list)
	}
	if got := readExt(t, parts[layout.Recovery], "/boot/vmlinuz-"+imagetest.KernelVersion); got != "MZ fake kernel "+imagetest.KernelVersion+"\n" {
		t.Errorf("recovery kernel = %q", got)
	}
	for link, target := range map[string]string{"vmlinuz": "vmlinuz-", "linux": "vmlinuz-", "initrd": "initrd-"} {
		if out := run(t, "debugfs", "-R", "stat /boot/"+link, parts[layout.Recovery]); !strings.Contains(out, target+imagetest.KernelVersion) {
			t.Errorf("recovery /boot/%s:\n%s", link, out)
		}
	}
	if got := readExt(t, parts[layout.Recovery], "/boot/bootargs.cfg"); !strings.Contains(got, "elemental.mode") {
		t.Errorf("recovery bootargs.cfg = %q", got)
	}

	// ESP: FAT with both EFI directories and grub_oem_env.
	esp := parts[layout.EFI]
	if out, err := execOut("fsck.vfat", "-n", esp); err != nil {
		t.Errorf("fsck.vfat -n: %v\n%s", err, out)
	}
	listing := run(t, "mdir", "-/", "-b", "-i", esp, "::")
	for _, p := range []string{"::/EFI/BOOT/bootx64.efi", "::/EFI/BOOT/grubx64.efi", "::/EFI/BOOT/mmx64.efi", "::/EFI/BOOT/grub.cfg",
		"::/EFI/BOOT/x86_64-efi/loopback.mod", "::/EFI/ELEMENTAL/shimx64.efi", "::/EFI/ELEMENTAL/x86_64-efi/xzio.mod", "::/grub_oem_env"} {
		if !strings.Contains(listing, p) {
			t.Errorf("ESP lacks %s:\n%s", p, listing)
		}
	}
	if got := run(t, "mtype", "-i", esp, "::/EFI/BOOT/bootx64.efi"); got != "MZ fake shim\n" {
		t.Errorf("bootx64.efi = %q, want the shim", got)
	}
	env := run(t, "mtype", "-i", esp, "::/grub_oem_env")
	for _, want := range []string{"state_label=COS_STATE\n", "efi_label=COS_GRUB\n", "default_menu_entry=Elemental Test A\n", "default_fallback=0 1\n", "passive_snaps=\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("grub_oem_env lacks %q:\n%s", want, env)
		}
	}
	if len(env) != 1024 {
		t.Errorf("grub_oem_env is %d bytes", len(env))
	}

	// OEM: empty grubenv, the grow cloud-config, the user's file.
	if got := readExt(t, parts[layout.OEM], "/grubenv"); len(got) != 1024 || !strings.HasPrefix(got, "# GRUB Environment Block\n#") {
		t.Errorf("OEM grubenv = %q", got)
	}
	if got := readExt(t, parts[layout.OEM], "/10_elemental_grow_disk.yaml"); !strings.Contains(got, "pre-rootfs.before") || !strings.Contains(got, "label: COS_PERSISTENT") {
		t.Errorf("grow config = %q", got)
	}
	if got := readExt(t, parts[layout.OEM], "/90_custom.yaml"); got != "users:\n  test: {}\n" {
		t.Errorf("90_custom.yaml = %q", got)
	}
}

func TestV1Disk(t *testing.T) {
	need(t, "e2fsck", "debugfs", "dumpe2fs", "fsck.vfat", "mdir", "mtype", "unsquashfs")
	src := derivative(t, 1)
	res := build(t, installer.Spec{Source: src, SourceDateEpoch: 1700000000})
	if res.Generation != inspect.V1 {
		t.Fatalf("generation %s", res.Generation)
	}
	raw := rawOf(t, res)
	state := cut(t, raw, partOf(t, res.Partitions, layout.State).Offset, partOf(t, res.Partitions, layout.State).Size)
	e2fsck(t, state, "state")
	want := flattened(t, src, inspect.V1)
	for img, lbl := range map[string]string{"/cOS/active.img": "COS_ACTIVE", "/cOS/passive.img": "COS_PASSIVE"} {
		f := debugfsDump(t, state, img)
		e2fsck(t, f, img)
		if got := label(t, f); got != lbl {
			t.Errorf("%s label %q, want %s", img, got, lbl)
		}
		compareExt(t, f, want)
	}
	if got := readExt(t, state, "/grub2/grub.cfg"); !strings.Contains(got, "/cOS/active.img") {
		t.Errorf("state grub2/grub.cfg = %q", got)
	}
	for _, m := range []string{"loopback", "squash4", "xzio"} {
		readExt(t, state, "/grub2/x86_64-efi/"+m+".mod")
	}
	env := readExt(t, state, "/grub_oem_env")
	for _, w := range []string{"active_label=COS_ACTIVE\n", "passive_label=COS_PASSIVE\n", "system_label=COS_SYSTEM\n"} {
		if !strings.Contains(env, w) {
			t.Errorf("v1 grub_oem_env lacks %q", w)
		}
	}
	if st := readExt(t, state, "/state.yaml"); !strings.Contains(st, "label: COS_PASSIVE") {
		t.Errorf("v1 state.yaml:\n%s", st)
	}
	rec := cut(t, raw, partOf(t, res.Partitions, layout.Recovery).Offset, partOf(t, res.Partitions, layout.Recovery).Size)
	// v1's GRUB loop-mounts recovery.img: the toolkit's v1 default is xz.
	if out := run(t, "unsquashfs", "-s", debugfsDump(t, rec, "/cOS/recovery.img")); !strings.Contains(out, "Compression xz") {
		t.Errorf("v1 recovery.img is not xz squashfs:\n%s", out)
	}
	esp := cut(t, raw, partOf(t, res.Partitions, layout.EFI).Offset, partOf(t, res.Partitions, layout.EFI).Size)
	listing := run(t, "mdir", "-/", "-b", "-i", esp, "::")
	for _, p := range []string{"::/EFI/boot/bootx64.efi", "::/EFI/boot/grub.efi", "::/EFI/boot/MokManager.efi", "::/EFI/elemental/shim.efi", "::/EFI/elemental/grub.cfg"} {
		if !strings.Contains(listing, p) {
			t.Errorf("v1 ESP lacks %s:\n%s", p, listing)
		}
	}
	if got := run(t, "mtype", "-i", esp, "::/EFI/boot/grub.cfg"); !strings.Contains(got, "search --no-floppy --label --set=root COS_STATE") {
		t.Errorf("v1 ESP grub.cfg = %q", got)
	}
}

func TestRecoveryExt2(t *testing.T) {
	need(t, "e2fsck", "debugfs", "dumpe2fs")
	res := build(t, installer.Spec{Source: derivative(t, 2), RecoveryFS: "ext2", SourceDateEpoch: 1})
	p := partOf(t, res.Partitions, layout.Recovery)
	rec := cut(t, rawOf(t, res), p.Offset, p.Size)
	img := debugfsDump(t, rec, "/boot/recovery.img")
	e2fsck(t, img, "recovery.img")
	if got := label(t, img); got != "COS_SYSTEM" {
		t.Errorf("recovery label %q", got)
	}
}

func TestReproducible(t *testing.T) {
	src := derivative(t, 2)
	spec := installer.Spec{Source: src, SourceDateEpoch: 1700000000}
	a := build(t, spec)
	b := build(t, spec)
	if sha(t, rawOf(t, a)) != sha(t, rawOf(t, b)) {
		t.Error("two builds of the same digest and options differ")
	}
}

func TestFormats(t *testing.T) {
	need(t, "qemu-img", "tar")
	res := build(t, installer.Spec{Source: derivative(t, 2), SourceDateEpoch: 1,
		Formats: []diskformat.Format{diskformat.Raw, diskformat.QCOW2, diskformat.VHD, diskformat.VMDK, diskformat.GCE}})
	raw := rawOf(t, res)
	for _, o := range res.Outputs {
		switch o.Format {
		case diskformat.QCOW2, diskformat.VMDK:
			run(t, "qemu-img", "check", o.Path)
			run(t, "qemu-img", "compare", "-f", map[diskformat.Format]string{diskformat.QCOW2: "qcow2", diskformat.VMDK: "vmdk"}[o.Format], "-F", "raw", o.Path, raw)
		case diskformat.VHD:
			run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", o.Path, raw)
		case diskformat.GCE:
			if out := run(t, "tar", "-tvzf", o.Path); !strings.Contains(out, "disk.raw") {
				t.Errorf("gce tar: %s", out)
			}
		}
	}
	if len(res.Outputs) != 5 {
		t.Errorf("outputs = %v", res.Outputs)
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := installer.Run(ctx, installer.Spec{Source: derivative(t, 2), OutputDir: out},
		installer.WithProgress(func(e installer.Event) {
			if e.Phase == installer.PhaseWrite {
				cancel()
			}
		}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("output directory holds %v after cancel", ents)
	}
}

func TestBadInput(t *testing.T) {
	missing := derivative(t, 2, imagetest.Layer{
		{Path: "boot/initrd-" + imagetest.KernelVersion, Whiteout: true},
		{Path: "usr/lib/elemental/bootloader/shimx64.efi", Whiteout: true},
	})
	tests := []struct {
		name string
		spec installer.Spec
		want []string
	}{
		{"missing parts, all named", installer.Spec{Source: missing},
			[]string{"initrd (searched /boot/elemental.initrd*", "shim EFI binary (searched /usr/lib/elemental/bootloader/shim*"}},
		{"state too small", installer.Spec{Source: derivative(t, 2), Sizes: installer.Sizes{State: layout.MiB}},
			[]string{"partition state: content needs"}},
		{"disk too small", installer.Spec{Source: derivative(t, 2), DiskSize: 100 * layout.MiB},
			[]string{"disk size 100 MiB is smaller than"}},
		{"invalid spec, every field", installer.Spec{Source: " ", Platform: "linux/s390x", RecoveryFS: "btrfs",
			CloudConfigs: []installer.CloudConfig{{Origin: "a.yaml", Data: []byte("- not: [a mapping")}}},
			[]string{"source: required", `platform "linux/s390x"`, `recovery filesystem "btrfs"`, "cloud config 1 (a.yaml): invalid YAML"}},
		{"missing layout", installer.Spec{Source: "oci-layout:/does/not/exist"}, []string{"/does/not/exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			tt.spec.OutputDir = out
			_, err := installer.Run(context.Background(), tt.spec)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("output directory holds %v after a failed build", ents)
			}
		})
	}
}

func TestExistingOutputIsKept(t *testing.T) {
	out := t.TempDir()
	keep := filepath.Join(out, "elemental.raw")
	os.WriteFile(keep, []byte("precious"), 0o644)
	_, err := installer.Run(context.Background(), installer.Spec{Source: derivative(t, 2), OutputDir: out})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "precious" {
		t.Error("existing output was changed")
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Errorf("output directory holds %v", ents)
	}
}

func TestOutputDirCreatedAndRemovedOnFailure(t *testing.T) {
	base := t.TempDir()
	src := derivative(t, 2)
	out := filepath.Join(base, "a", "b")
	if _, err := installer.Run(context.Background(), installer.Spec{Source: src, OutputDir: out, SourceDateEpoch: 1}); err != nil {
		t.Fatalf("Run into a missing directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "elemental.raw")); err != nil {
		t.Fatalf("no disk in the created directory: %v", err)
	}
	// A build cancelled while writing takes the directories it made away.
	failed := filepath.Join(base, "c", "d")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := installer.Run(ctx, installer.Spec{Source: src, OutputDir: failed},
		installer.WithProgress(func(e installer.Event) {
			if e.Phase == installer.PhaseWrite {
				cancel()
			}
		}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(base, "c")); !os.IsNotExist(err) {
		t.Errorf("directories created for a failed build are left: %v", err)
	}
}
