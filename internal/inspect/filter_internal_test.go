package inspect

import (
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// filterTrees are root filesystems that exercise every lookup of Report:
// both generations, merged /usr, kernels and initrds by every pattern,
// EFI binaries under every distribution's names, microcode as a file and
// as a directory, SELinux contexts, dracut modules present only through
// their files, and many files Report never looks at.
func filterTrees() map[string][]*rootfs.Entry {
	reg := func(p string) *rootfs.Entry {
		return &rootfs.Entry{Path: p, Type: rootfs.TypeReg, Size: int64(len(p)), Mode: 0o644}
	}
	link := func(p, to string) *rootfs.Entry {
		return &rootfs.Entry{Path: p, Type: rootfs.TypeSymlink, Linkname: to}
	}
	dir := func(p string) *rootfs.Entry { return &rootfs.Entry{Path: p, Type: rootfs.TypeDir, Mode: 0o755} }
	noise := func(n int) []*rootfs.Entry {
		var out []*rootfs.Entry
		for i := range n {
			out = append(out, reg(fmt.Sprintf("usr/share/doc/pkg%d/file%d.txt", i%7, i)))
		}
		return out
	}
	trees := map[string][]*rootfs.Entry{
		"v2 merged usr": append([]*rootfs.Entry{
			link("lib", "usr/lib"), dir("usr/lib/modules/6.1.0-9-amd64"), reg("usr/lib/modules/6.1.0-9-amd64/modules.dep"),
			reg("boot/vmlinuz-6.1.0-9-amd64"), link("boot/vmlinuz", "vmlinuz-6.1.0-9-amd64"),
			reg("boot/initrd.img-6.1.0-9-amd64"), link("boot/initrd", "initrd.img-6.1.0-9-amd64"),
			reg("etc/elemental/grub.cfg"), reg("etc/elemental/bootargs.cfg"),
			reg("usr/lib/elemental/bootloader/shimx64.efi"), reg("usr/lib/elemental/bootloader/grubx64.efi"),
			reg("usr/lib/elemental/bootloader/mmx64.efi"), reg("usr/lib/grub/x86_64-efi/loopback.mod"),
			reg("usr/lib/grub/x86_64-efi/squash4.mod"), reg("usr/lib/grub/x86_64-efi/normal.mod"),
			reg("usr/bin/elemental"), reg("usr/lib/os-release"), link("etc/os-release", "../usr/lib/os-release"),
			reg("usr/lib/firmware/intel-ucode/06-55-04"), reg("usr/lib/dracut/modules.d/30elemental-rootfs/module-setup.sh"),
		}, noise(300)...),
		"v1 suse names": append([]*rootfs.Entry{
			dir("lib/modules/5.14.21-default"), reg("boot/Image-5.14.21-default"), reg("boot/initramfs-5.14.21-default"),
			reg("etc/cos/grub.cfg"), reg("etc/cos/bootargs.cfg"), reg("usr/share/efi/x86_64/shim.efi"),
			reg("usr/share/efi/x86_64/grub.efi"), reg("usr/share/efi/x86_64/MokManager.efi"),
			reg("usr/share/grub2/x86_64-efi/xzio.mod"), reg("boot/amd-ucode.img"),
			reg("etc/selinux/targeted/contexts/files/file_contexts"), reg("etc/os-release"),
			reg("lib/dracut/modules.d/30cos-immutable-rootfs/module-setup.sh"),
		}, noise(300)...),
		"ubuntu names, nothing found": append([]*rootfs.Entry{
			reg("boot/zImage"), reg("boot/elemental.initrd-x"), reg("opt/EFI/ubuntu/shimx64.efi.signed"),
			reg("opt/EFI/ubuntu/grubx64.efi.signed"), reg("etc/os-release"),
		}, noise(50)...),
	}
	return trees
}

// TestFilteringKeepsReports: leaving out the regular files Report never
// looks up changes no Report and no error, and keeps none of those files.
func TestFilteringKeepsReports(t *testing.T) {
	for name, tree := range filterTrees() {
		t.Run(name, func(t *testing.T) {
			var reports [2]*Report
			var errs [2]string
			var nodes [2]int
			for i, keepAll := range []bool{true, false} {
				in := New("x86_64")
				in.keepAll = keepAll
				for _, e := range tree {
					w, err := in.Add(e)
					if err != nil {
						t.Fatal(err)
					}
					if w != nil {
						io.WriteString(w, "data of "+e.Path+" elemental.mode cos-img/filename ID=ubuntu")
						w.Close()
					}
				}
				for _, g := range []Generation{GenerationUnknown, V1, V2} {
					r, err := in.Report(g)
					reports[i] = r
					errs[i] += fmt.Sprintf("%v|%v;", err, r)
				}
				nodes[i] = len(in.nodes)
			}
			if errs[0] != errs[1] || !reflect.DeepEqual(reports[0], reports[1]) {
				t.Fatalf("reports differ with the filter:\n all:      %s\n filtered: %s", errs[0], errs[1])
			}
			if nodes[1] >= nodes[0]-40 {
				t.Errorf("filtered inspector keeps %d nodes, unfiltered %d: the noise files were kept", nodes[1], nodes[0])
			}
		})
	}
}
