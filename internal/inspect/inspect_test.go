package inspect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

type ent struct {
	path, link, data string
	typ              rootfs.Type
}

func feed(t *testing.T, in *inspect.Inspector, ents []ent) {
	t.Helper()
	for _, e := range ents {
		typ := e.typ
		if typ == rootfs.TypeUnknown {
			typ = rootfs.TypeReg
		}
		w, err := in.Add(&rootfs.Entry{Path: e.path, Type: typ, Linkname: e.link, Size: int64(len(e.data)), Mode: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		if w != nil {
			w.Write([]byte(e.data))
			w.Close()
		}
	}
}

// v2 is a merged-/usr v2 derivative: lib is a link to usr/lib, the kernel
// is found through the /boot/vmlinuz link.
var v2 = []ent{
	{path: "lib", link: "usr/lib", typ: rootfs.TypeSymlink},
	{path: "usr/lib/modules/6.1.0-9-amd64", typ: rootfs.TypeDir},
	{path: "boot/vmlinuz-6.1.0-9-amd64", data: "kernel"},
	{path: "boot/vmlinuz", link: "vmlinuz-6.1.0-9-amd64", typ: rootfs.TypeSymlink},
	{path: "boot/initrd-6.1.0-9-amd64", data: "initrd"},
	{path: "boot/initrd", link: "/boot/initrd-6.1.0-9-amd64", typ: rootfs.TypeSymlink},
	{path: "etc/elemental/grub.cfg", data: "menuentry"},
	{path: "etc/elemental/bootargs.cfg", data: "set kernelcmd=\"elemental.mode=active\""},
	{path: "usr/lib/elemental/bootloader/shimx64.efi", data: "shim"},
	{path: "usr/lib/elemental/bootloader/grubx64.efi", data: "grub"},
	{path: "usr/lib/elemental/bootloader/mmx64.efi", data: "mm"},
	{path: "usr/lib/grub/x86_64-efi/loopback.mod", data: "l"},
	{path: "usr/lib/grub/x86_64-efi/squash4.mod", data: "s"},
	{path: "usr/lib/grub/x86_64-efi/xzio.mod", data: "x"},
	{path: "usr/bin/elemental", data: "bin"},
	{path: "etc/os-release", link: "../usr/lib/os-release", typ: rootfs.TypeSymlink},
	{path: "usr/lib/os-release", data: "NAME=\"Test OS\"\nVERSION=\"A\"\nID=debian\nGRUB_ENTRY_NAME=Test\n"},
}

func TestReportV2(t *testing.T) {
	in := inspect.New("x86_64")
	feed(t, in, v2)
	r, err := in.Report(inspect.GenerationUnknown)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"generation": {r.Generation.String(), "v2"},
		"kernel":     {r.Kernel, "boot/vmlinuz-6.1.0-9-amd64"},
		"version":    {r.KernelVersion, "6.1.0-9-amd64"},
		"initrd":     {r.Initrd, "boot/initrd-6.1.0-9-amd64"},
		"shim":       {string(r.Shim.Data), "shim"},
		"grub":       {r.Grub.Name(), "grubx64.efi"},
		"mm":         {r.MokManager.Name(), "mmx64.efi"},
		"os-release": {r.OSRelease["GRUB_ENTRY_NAME"], "Test"},
		"elemental":  {r.Elemental, "usr/bin/elemental"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if len(r.Modules) != 3 {
		t.Errorf("modules = %v", r.Modules)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "microcode") {
		t.Errorf("warnings = %q, want the microcode warning only", r.Warnings)
	}
}

func TestReportV1(t *testing.T) {
	in := inspect.New("x86_64")
	feed(t, in, []ent{
		{path: "lib/modules/5.14.21-default", typ: rootfs.TypeDir},
		{path: "boot/vmlinuz-5.14.21-default", data: "k"},
		{path: "boot/vmlinuz", link: "vmlinuz-5.14.21-default", typ: rootfs.TypeSymlink},
		{path: "boot/initrd-5.14.21-default", data: "i"},
		{path: "boot/initrd", link: "initrd-5.14.21-default", typ: rootfs.TypeSymlink},
		{path: "etc/cos/grub.cfg", data: "menuentry"},
		{path: "etc/cos/bootargs.cfg", data: "cos-img/filename=/cOS/active.img"},
		{path: "usr/share/efi/x86_64/shim.efi", data: "shim"},
		{path: "usr/share/efi/x86_64/grub.efi", data: "grub"},
		{path: "usr/share/efi/x86_64/MokManager.efi", data: "mm"},
		{path: "usr/share/grub2/x86_64-efi/loopback.mod", data: "l"},
		{path: "usr/share/grub2/x86_64-efi/squash4.mod", data: "s"},
		{path: "usr/share/grub2/x86_64-efi/xzio.mod", data: "x"},
		{path: "usr/bin/elemental", data: "bin"},
		{path: "etc/os-release", data: "ID=sle-micro\n"},
		{path: "etc/selinux/targeted/contexts/files/file_contexts", data: "x"},
	})
	r, err := in.Report(inspect.GenerationUnknown)
	if err != nil {
		t.Fatal(err)
	}
	if r.Generation != inspect.V1 || r.Shim.Path != "usr/share/efi/x86_64/shim.efi" || r.MokManager.Name() != "MokManager.efi" {
		t.Errorf("report = %+v", r)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "SELinux") {
		t.Errorf("no SELinux warning in %q", r.Warnings)
	}
}

func TestMissingPartsAllAtOnce(t *testing.T) {
	in := inspect.New("x86_64")
	feed(t, in, []ent{
		{path: "etc/elemental/grub.cfg", data: "menuentry"},
		{path: "etc/elemental/bootargs.cfg", data: "elemental.mode"},
		{path: "boot/vmlinuz-6.1.0", data: "k"},
	})
	_, err := in.Report(inspect.GenerationUnknown)
	var miss *inspect.MissingError
	if !errors.As(err, &miss) {
		t.Fatalf("err = %v, want *MissingError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"kernel modules matching /boot/vmlinuz-6.1.0 (searched /lib/modules/*, /usr/lib/modules/*)",
		"initrd (searched /boot/elemental.initrd*, /boot/initrd*, /boot/initramfs*)",
		"shim EFI binary (searched /usr/lib/elemental/bootloader/shim*",
		"grub EFI binary", "MokManager EFI binary",
		"grub module loopback.mod", "grub module squash4.mod", "grub module xzio.mod",
		"elemental binary (searched /usr/bin/elemental)",
		"boot/vmlinuz (booted by bootargs.cfg)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestGenerationUndetectable(t *testing.T) {
	in := inspect.New("x86_64")
	feed(t, in, []ent{{path: "etc/hostname", data: "x"}})
	_, err := in.Report(inspect.GenerationUnknown)
	if err == nil || !strings.Contains(err.Error(), "toolkit generation markers") || !strings.Contains(err.Error(), "/etc/cos/grub.cfg") {
		t.Fatalf("err = %v", err)
	}
	// An override skips detection and reports the parts that are missing.
	_, err = in.Report(inspect.V2)
	if err == nil || !strings.Contains(err.Error(), "toolkit v2") {
		t.Fatalf("override err = %v", err)
	}
}

func TestResolveDoesNotEscape(t *testing.T) {
	in := inspect.New("x86_64")
	ents := append([]ent{}, v2...)
	// A link climbing above the root stays inside it, like a chroot.
	ents[3] = ent{path: "boot/vmlinuz", link: "../../../../boot/vmlinuz-6.1.0-9-amd64", typ: rootfs.TypeSymlink}
	feed(t, in, ents)
	r, err := in.Report(inspect.GenerationUnknown)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kernel != "boot/vmlinuz-6.1.0-9-amd64" {
		t.Errorf("kernel = %q", r.Kernel)
	}
}

func TestParseGeneration(t *testing.T) {
	for in, want := range map[string]inspect.Generation{"": inspect.GenerationUnknown, "auto": inspect.GenerationUnknown, "v1": inspect.V1, "2": inspect.V2} {
		if g, err := inspect.ParseGeneration(in); err != nil || g != want {
			t.Errorf("ParseGeneration(%q) = %v, %v", in, g, err)
		}
	}
	if _, err := inspect.ParseGeneration("v3"); err == nil || !strings.Contains(err.Error(), "want auto, v1 or v2") {
		t.Errorf("v3: %v", err)
	}
}
