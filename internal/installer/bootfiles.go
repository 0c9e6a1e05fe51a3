package installer

import (
	"fmt"
	"path"

	"github.com/elemental-suite/elemental/internal/grubenv"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/layout"
)

// file is a small file the build creates on a partition.
type file struct {
	path string
	data []byte
	mode uint32
	link string // non-empty: a symlink to link
}

// archNames returns the toolkit's arch string and the EFI fallback loader name.
func archNames(platform string) (arch, fallback string) {
	if platform == "linux/arm64" {
		return "arm64", "bootaa64.efi"
	}
	return "x86_64", "bootx64.efi"
}

// espFiles lays out the EFI system partition (contract §2.1). v2 keeps the
// original basenames in EFI/BOOT and EFI/ELEMENTAL and uses shim as the
// fallback loader; v1 does the same in lower-case directories with a stub
// grub.cfg that hands over to the state partition.
func espFiles(r *inspect.Report, platform string, oemEnv []byte) []file {
	arch, fallback := archNames(platform)
	dirs := []string{"EFI/BOOT", "EFI/ELEMENTAL"}
	cfg := r.GrubCfg.Data
	if r.Generation == inspect.V1 {
		dirs = []string{"EFI/boot", "EFI/elemental"}
		cfg = []byte("search --no-floppy --label --set=root " + layout.Labels[layout.State] + "\n" +
			"set prefix=($root)/grub2\n" +
			"configfile ($root)/grub2/grub.cfg\n")
	}
	var out []file
	for i, d := range dirs {
		if i == 0 {
			out = append(out, file{path: path.Join(d, fallback), data: r.Shim.Data, mode: 0o755})
		} else {
			out = append(out, file{path: path.Join(d, r.Shim.Name()), data: r.Shim.Data, mode: 0o755})
		}
		out = append(out,
			file{path: path.Join(d, r.Grub.Name()), data: r.Grub.Data, mode: 0o755},
			file{path: path.Join(d, r.MokManager.Name()), data: r.MokManager.Data, mode: 0o755},
			file{path: path.Join(d, "grub.cfg"), data: cfg, mode: 0o644},
		)
		if r.Generation == inspect.V2 {
			for _, m := range r.Modules {
				out = append(out, file{path: path.Join(d, arch+"-efi", m.Name()), data: m.Data, mode: 0o644})
			}
		}
	}
	if r.Generation == inspect.V2 {
		out = append(out, file{path: "grub_oem_env", data: oemEnv, mode: 0o644})
	}
	return out
}

// oemEnv renders grub_oem_env (contract §2.2): the ESP root in v2, the
// state root in v1.
func oemEnv(r *inspect.Report, entryName string) ([]byte, error) {
	e := &grubenv.Env{}
	for _, name := range []string{layout.State, layout.Recovery, layout.OEM, layout.Persistent, layout.EFI} {
		e.Set(name+"_label", layout.Labels[name])
	}
	if r.Generation == inspect.V1 {
		e.Set("active_label", "COS_ACTIVE")
		e.Set("passive_label", "COS_PASSIVE")
		e.Set("system_label", "COS_SYSTEM")
	}
	if n := r.OSRelease["GRUB_ENTRY_NAME"]; n != "" {
		entryName = n
	}
	e.Set("default_menu_entry", entryName)
	if r.Generation == inspect.V2 {
		e.Set("default_fallback", "0 1")
		e.Set("passive_snaps", "")
	}
	b, err := e.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("rendering grub_oem_env: %w", err)
	}
	return b, nil
}

// emptyEnv is the OEM grubenv: GRUB's save_env only works on an existing
// 1024-byte block, and next_entry/saved_entry live there.
func emptyEnv() ([]byte, error) { return (&grubenv.Env{}).MarshalBinary() }

// growConfig is the OEM cloud-config that grows the last partition to the
// real disk size on first boot (contract §7.5). The disk we write is small;
// the disks clouds create from it are larger. v2 runs it in the initrd
// before the root is mounted (pre-rootfs), v1 at rootfs.before.
func growConfig(g inspect.Generation) []byte {
	stage := "pre-rootfs.before"
	if g == inspect.V1 {
		stage = "rootfs.before"
	}
	return []byte(`# Written by the Elemental image suite. The disk image is built small; on
# first boot this grows the last partition (COS_PERSISTENT) and its
# filesystem to the end of the real disk. It is a no-op once grown.
name: Grow the last partition to fill the disk
stages:
    ` + stage + `:
        - name: Grow COS_PERSISTENT to the end of the disk
          layout:
            device:
                label: COS_PERSISTENT
            expand_partition:
                size: 0
`)
}

// growConfigName sorts before user cloud-configs (90_custom.yaml…).
const growConfigName = "10_elemental_grow_disk.yaml"
