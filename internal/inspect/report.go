package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Report is what the installer needs to know about a derivative.
type Report struct {
	Generation Generation
	// Detected is how the generation was decided ("override", or the files
	// that showed it).
	Detected string

	Kernel        string // resolved path of the kernel the toolkit would pick
	KernelVersion string // the /lib/modules directory matching it
	Initrd        string // resolved path of the initrd
	KernelSize    int64
	InitrdSize    int64
	GrubCfg       File
	Bootargs      File
	Shim          File
	Grub          File
	MokManager    File
	Modules       []File // loopback.mod, squash4.mod, xzio.mod
	Elemental     string // resolved path of the elemental binary

	OSRelease     map[string]string
	OSReleasePath string
	Warnings      []string
}

// MissingPart names one required part the image lacks and where it was sought.
type MissingPart struct {
	What     string
	Searched []string
}

// MissingError lists every required part an image lacks. Reporting them all
// at once saves a rebuild-and-retry cycle per missing file.
type MissingError struct {
	Generation Generation
	Parts      []MissingPart
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "derivative is missing %d required part(s) for toolkit %s:", len(e.Parts), e.Generation)
	for _, p := range e.Parts {
		fmt.Fprintf(&b, "\n  - %s (searched %s)", p.What, strings.Join(p.Searched, ", "))
	}
	return b.String()
}

// Kernel, initrd and module search patterns, in the toolkit's order (§3.1).
var (
	kernelPatterns = []string{"boot/uImage*", "boot/Image*", "boot/zImage*", "boot/vmlinuz*", "boot/image*"}
	initrdPatterns = []string{"boot/elemental.initrd*", "boot/initrd*", "boot/initramfs*"}
	moduleNames    = []string{"loopback.mod", "squash4.mod", "xzio.mod"}
)

// Report evaluates what the stream held. override forces a generation.
func (in *Inspector) Report(override Generation) (*Report, error) {
	r := &Report{}
	miss := &MissingError{}
	in.osRelease(r)
	r.Generation, r.Detected = in.detect(override)
	if r.Generation == GenerationUnknown {
		miss.Parts = append(miss.Parts, MissingPart{
			What:     "toolkit generation markers (v2: grub.cfg + bootargs.cfg with elemental.mode; v1: grub.cfg + bootargs.cfg with cos-img/filename)",
			Searched: []string{"/etc/elemental/grub.cfg", "/etc/elemental/bootargs.cfg", "/etc/cos/grub.cfg", "/etc/cos/bootargs.cfg", "/usr/lib/dracut/modules.d"},
		})
		return nil, miss
	}
	miss.Generation = r.Generation
	in.kernel(r, miss)
	in.grubConfig(r, miss)
	if r.Generation == V2 {
		in.efiV2(r, miss)
	} else {
		in.efiV1(r, miss)
	}
	in.modules(r, miss)
	if p, ok := in.exists("usr/bin/elemental", rootfs.TypeReg); ok {
		r.Elemental = p
	} else {
		miss.Parts = append(miss.Parts, MissingPart{What: "elemental binary", Searched: []string{"/usr/bin/elemental"}})
	}
	in.warnings(r)
	if len(miss.Parts) > 0 {
		return r, miss
	}
	return r, nil
}

func (in *Inspector) detect(override Generation) (Generation, string) {
	if override != GenerationUnknown {
		return override, "override"
	}
	v2, v2ok := in.file("etc/elemental/bootargs.cfg")
	_, v2grub := in.file("etc/elemental/grub.cfg")
	v1, v1ok := in.file("etc/cos/bootargs.cfg")
	_, v1grub := in.file("etc/cos/grub.cfg")
	isV2 := v2grub && v2ok && bytes.Contains(v2.Data, []byte("elemental.mode"))
	isV1 := v1grub && v1ok && bytes.Contains(v1.Data, []byte("cos-img/filename"))
	switch {
	case isV2 && !isV1:
		return V2, "/etc/elemental/grub.cfg and elemental.mode in /etc/elemental/bootargs.cfg"
	case isV1 && !isV2:
		return V1, "/etc/cos/grub.cfg and cos-img/filename in /etc/cos/bootargs.cfg"
	}
	// Ambiguous or unmarked: fall back on the dracut modules the initrd was built from.
	for _, d := range []string{"usr/lib/dracut/modules.d", "lib/dracut/modules.d"} {
		if len(in.glob(d+"/*elemental-rootfs")) > 0 || len(in.glob(d+"/*elemental-sysroot")) > 0 {
			return V2, "dracut module elemental-rootfs"
		}
		if len(in.glob(d+"/*elemental-immutable-rootfs")) > 0 || len(in.glob(d+"/*cos-immutable-rootfs")) > 0 {
			return V1, "dracut module elemental-immutable-rootfs"
		}
	}
	return GenerationUnknown, ""
}

func (in *Inspector) kernel(r *Report, miss *MissingError) {
	for _, pat := range kernelPatterns {
		for _, m := range in.glob(pat) {
			if p, ok := in.exists(m, rootfs.TypeReg); ok {
				r.Kernel = p
				break
			}
		}
		if r.Kernel != "" {
			break
		}
	}
	if r.Kernel == "" {
		miss.Parts = append(miss.Parts, MissingPart{What: "kernel", Searched: slashed(kernelPatterns)})
	} else {
		var mods []string
		for _, d := range []string{"lib/modules/*", "usr/lib/modules/*"} {
			mods = append(mods, in.glob(d)...)
		}
		for _, m := range mods {
			if strings.Contains(r.Kernel, path.Base(m)) {
				r.KernelVersion = path.Base(m)
				break
			}
		}
		if r.KernelVersion == "" {
			miss.Parts = append(miss.Parts, MissingPart{
				What:     fmt.Sprintf("kernel modules matching /%s", r.Kernel),
				Searched: []string{"/lib/modules/*", "/usr/lib/modules/*"},
			})
		}
	}
	for _, pat := range initrdPatterns {
		for _, m := range in.glob(pat) {
			if p, ok := in.exists(m, rootfs.TypeReg); ok {
				r.Initrd = p
				break
			}
		}
		if r.Initrd != "" {
			break
		}
	}
	r.KernelSize, r.InitrdSize = in.nodes[r.Kernel].size, in.nodes[r.Initrd].size
	if r.Initrd == "" {
		miss.Parts = append(miss.Parts, MissingPart{What: "initrd", Searched: slashed(initrdPatterns)})
	}
	// bootargs.cfg boots /boot/vmlinuz and /boot/initrd from inside the image.
	for _, p := range []string{"boot/vmlinuz", "boot/initrd"} {
		if _, ok := in.exists(p, rootfs.TypeReg); !ok {
			miss.Parts = append(miss.Parts, MissingPart{What: p + " (booted by bootargs.cfg)", Searched: []string{"/" + p}})
		}
	}
}

func (in *Inspector) grubConfig(r *Report, miss *MissingError) {
	grub := []string{"etc/elemental/grub.cfg", "etc/cos/grub.cfg"}
	boot := []string{"etc/elemental/bootargs.cfg", "etc/cos/bootargs.cfg"}
	if r.Generation == V1 {
		grub, boot = grub[1:], boot[1:]
	}
	r.GrubCfg = in.first(grub)
	r.Bootargs = in.first(boot)
	if r.GrubCfg.Path == "" {
		miss.Parts = append(miss.Parts, MissingPart{What: "grub.cfg", Searched: slashed(grub)})
	}
	if r.Bootargs.Path == "" {
		miss.Parts = append(miss.Parts, MissingPart{What: "bootargs.cfg", Searched: slashed(boot)})
	}
}

func (in *Inspector) first(paths []string) File {
	for _, p := range paths {
		if f, ok := in.file(p); ok {
			return f
		}
	}
	return File{}
}

// findEFI returns the first captured file matching one of the patterns.
func (in *Inspector) findEFI(patterns []string) File {
	for _, pat := range patterns {
		for _, m := range in.glob(pat) {
			if f, ok := in.file(m); ok {
				return f
			}
		}
	}
	return File{}
}

func (in *Inspector) efiV2(r *Report, miss *MissingError) {
	shim := []string{"usr/lib/elemental/bootloader/shim*", "usr/share/efi/*/shim.efi", "boot/efi/EFI/*/shim*.efi"}
	grub := []string{"usr/lib/elemental/bootloader/grub*", "usr/share/grub2/*-efi/grub.efi", "boot/efi/EFI/*/grub*.efi"}
	mm := []string{"usr/lib/elemental/bootloader/mm*", "boot/efi/EFI/*/mm*.efi", "usr/share/efi/*/MokManager.efi"}
	for _, c := range []struct {
		dst  *File
		what string
		pats []string
	}{{&r.Shim, "shim EFI binary", shim}, {&r.Grub, "grub EFI binary", grub}, {&r.MokManager, "MokManager EFI binary", mm}} {
		*c.dst = in.findEFI(c.pats)
		if c.dst.Path == "" {
			miss.Parts = append(miss.Parts, MissingPart{What: c.what, Searched: slashed(c.pats)})
		}
	}
}

// efiV1 walks the whole tree for the distro's exact basenames (§3.2).
func (in *Inspector) efiV1(r *Report, miss *MissingError) {
	names := [3]string{"shim.efi", "grub.efi", "MokManager.efi"} // SUSE, the default
	switch r.OSRelease["ID"] {
	case "fedora":
		names = [3]string{"shimx64.efi", "grubx64.efi", "mmx64.efi"}
		if in.arch == "arm64" {
			names = [3]string{"shimaa64.efi", "grubx64.efi", "mmaa64.efi"}
		}
	case "ubuntu":
		names = [3]string{"shimx64.efi.signed", "grubx64.efi.signed", "mmx64.efi"}
	}
	paths := make([]string, 0, len(in.captured))
	for p := range in.captured {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	dsts := [3]*File{&r.Shim, &r.Grub, &r.MokManager}
	whats := [3]string{"shim EFI binary", "grub EFI binary", "MokManager EFI binary"}
	for i, name := range names {
		for _, p := range paths {
			if path.Base(p) == name {
				*dsts[i] = File{Path: p, Data: in.captured[p]}
				break
			}
		}
		if dsts[i].Path == "" {
			miss.Parts = append(miss.Parts, MissingPart{What: whats[i], Searched: []string{"every directory for " + name}})
		}
	}
}

func (in *Inspector) modules(r *Report, miss *MissingError) {
	dirs := []string{"boot/grub2/*-efi", "usr/share/grub*/*-efi", "usr/lib/grub*/*-efi"}
	for _, name := range moduleNames {
		var found File
		for _, d := range dirs {
			for _, m := range in.glob(d + "/" + name) {
				if !strings.Contains(m, in.arch) {
					continue
				}
				if f, ok := in.file(m); ok {
					found = f
					break
				}
			}
			if found.Path != "" {
				break
			}
		}
		if found.Path == "" {
			miss.Parts = append(miss.Parts, MissingPart{What: "grub module " + name + " for " + in.arch, Searched: slashed(dirs)})
			continue
		}
		r.Modules = append(r.Modules, found)
	}
}

func (in *Inspector) osRelease(r *Report) {
	f := in.first([]string{"etc/os-release", "usr/lib/os-release"})
	r.OSRelease = map[string]string{}
	if f.Path == "" {
		r.Warnings = append(r.Warnings, "no os-release found (searched /etc/os-release, /usr/lib/os-release): the boot menu entry falls back to the configured name")
		return
	}
	r.OSReleasePath = f.Path
	sc := bufio.NewScanner(bytes.NewReader(f.Data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		r.OSRelease[k] = strings.Trim(v, `"'`)
	}
}

func (in *Inspector) warnings(r *Report) {
	micro := []string{"boot/*ucode*", "usr/lib/firmware/intel-ucode", "usr/lib/firmware/amd-ucode", "lib/firmware/intel-ucode", "lib/firmware/amd-ucode"}
	found := false
	for _, m := range micro {
		if len(in.glob(m)) > 0 {
			found = true
			break
		}
	}
	if !found {
		r.Warnings = append(r.Warnings, "no CPU microcode found (searched "+strings.Join(slashed(micro), ", ")+")")
	}
	if _, ok := in.exists("etc/selinux/targeted/contexts/files/file_contexts", rootfs.TypeReg); ok {
		r.Warnings = append(r.Warnings, "SELinux policy found (/etc/selinux/targeted): files are written with the labels the image carries and are not relabelled; an unlabelled image booted enforcing will fail")
	}
}

func slashed(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = "/" + p
	}
	return out
}
