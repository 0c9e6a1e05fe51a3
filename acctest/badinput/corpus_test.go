package badinput_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// layerCase is a complete derivative with one hostile layer on top.
type layerCase struct {
	name  string
	layer imagetest.Layer
	want  []string
	is    error
}

var long = strings.Repeat("x", 256)

// layerCases are the hostile layers: path escapes, hardlinks out of the
// root or through symlinks, bad whiteouts, duplicates, devices in odd
// places and over-long names.
var layerCases = []layerCase{
	{"dotdot first", imagetest.Layer{reg("../escape", "x")}, []string{`entry "../escape": path escapes the root`}, oci.ErrUnsafePath},
	{"dotdot deep", imagetest.Layer{reg("etc/../../escape", "x")}, []string{`entry "etc/../../escape": path escapes the root`}, oci.ErrUnsafePath},
	{"dotdot staying inside", imagetest.Layer{reg("etc/../etc/passwd", "x")}, []string{`entry "etc/../etc/passwd": path escapes the root`}, oci.ErrUnsafePath},
	{"absolute dotdot", imagetest.Layer{reg("/../../etc/shadow", "x")}, []string{`entry "/../../etc/shadow": path escapes the root`}, oci.ErrUnsafePath},
	{"dot slash dotdot", imagetest.Layer{reg("./../x", "x")}, []string{`entry "./../x": path escapes the root`}, oci.ErrUnsafePath},
	{"trailing dotdot directory", imagetest.Layer{{Path: "etc/..", Type: rootfs.TypeDir}}, []string{`entry "etc/../": path escapes the root`}, oci.ErrUnsafePath},
	{"hardlink target dotdot", imagetest.Layer{link("etc/h", "../../etc/shadow")}, []string{`hardlink target "../../etc/shadow": path escapes the root`}, oci.ErrUnsafePath},
	{"hardlink target absolute dotdot", imagetest.Layer{link("etc/h", "/../etc/shadow")}, []string{`hardlink target "/../etc/shadow": path escapes the root`}, oci.ErrUnsafePath},
	{"hardlink target absent", imagetest.Layer{link("etc/h", "/etc/shadow")}, []string{`entry "etc/h": hardlink target "etc/shadow" is absent or hidden`}, oci.ErrBadHardlink},
	{"hardlink through symlinked dir", imagetest.Layer{sym("hostetc", "/etc"), link("h", "hostetc/os-release")},
		[]string{`entry "h": hardlink target "hostetc/os-release" is absent or hidden`}, oci.ErrBadHardlink},
	{"hardlink through symlink chain", imagetest.Layer{sym("a", "b"), sym("b", "../../../etc"), link("h", "a/os-release")},
		[]string{`entry "h": hardlink target "a/os-release" is absent or hidden`}, oci.ErrBadHardlink},
	{"hardlink to directory", imagetest.Layer{link("h", "etc")}, []string{`hardlink target "etc" is a directory`}, oci.ErrBadHardlink},
	{"hardlink to itself", imagetest.Layer{link("h", "./h")}, []string{`hardlink to "h": invalid hardlink`}, oci.ErrBadHardlink},
	{"hardlink loop", imagetest.Layer{link("h1", "h2"), link("h2", "h1")}, []string{`is a loop`}, oci.ErrBadHardlink},
	{"hardlink to whited-out file", imagetest.Layer{link("h", imagetest.WhitedOut)}, []string{`hardlink target "etc/obsolete.conf" is absent or hidden`}, oci.ErrBadHardlink},
	{"symlink parent in same layer", imagetest.Layer{sym("esc", "../../.."), reg("esc/passwd", "x")}, []string{`entry "esc/passwd": parent "esc" is a symlink: invalid entry`}, oci.ErrBadEntry},
	{"symlink chain parent in same layer", imagetest.Layer{sym("a", "b"), sym("b", "/etc"), reg("a/passwd", "x")}, []string{`parent "a" is a symlink: invalid entry`}, oci.ErrBadEntry},
	{"whiteout of root", imagetest.Layer{reg(".wh.", "")}, []string{`whiteout ".wh." hides "": invalid whiteout`}, oci.ErrBadWhiteout},
	{"whiteout of absolute root", imagetest.Layer{reg("/.wh.", "")}, []string{`whiteout ".wh." hides "": invalid whiteout`}, oci.ErrBadWhiteout},
	{"whiteout of dot", imagetest.Layer{reg(".wh..", "")}, []string{`whiteout ".wh.." hides ".": invalid whiteout`}, oci.ErrBadWhiteout},
	{"whiteout of parent", imagetest.Layer{reg("etc/.wh...", "")}, []string{`whiteout ".wh..." hides "..": invalid whiteout`}, oci.ErrBadWhiteout},
	{"whiteout name too long", imagetest.Layer{whiteout("etc/" + long)}, []string{`name longer than 255 bytes`}, oci.ErrNameTooLong},
	{"duplicate file", imagetest.Layer{reg("etc/dup", "1"), reg("etc/dup", "2")}, []string{`entry "etc/dup": duplicate entry`}, oci.ErrDuplicate},
	{"duplicate after cleaning", imagetest.Layer{reg("etc/dup", "1"), reg("./etc//dup", "2")}, []string{`entry "./etc//dup": duplicate entry`}, oci.ErrDuplicate},
	{"duplicate directory", imagetest.Layer{{Path: "srv", Type: rootfs.TypeDir}, {Path: "srv/", Type: rootfs.TypeDir}}, []string{`entry "srv/": duplicate entry`}, oci.ErrDuplicate},
	{"duplicate whiteout", imagetest.Layer{whiteout("etc/os-release"), whiteout("etc/os-release")}, []string{`entry "etc/.wh.os-release": duplicate entry`}, oci.ErrDuplicate},
	{"device as root", imagetest.Layer{{Path: ".", Type: rootfs.TypeChar, Major: 1, Minor: 3}}, []string{`root is a character device: invalid entry`}, oci.ErrBadEntry},
	{"device as parent", imagetest.Layer{{Path: "etc/dev0", Type: rootfs.TypeBlock, Major: 8}, reg("etc/dev0/x", "x")}, []string{`parent "etc/dev0" is a block device: invalid entry`}, oci.ErrBadEntry},
	{"file with children", imagetest.Layer{reg("etc/f/x", "x"), reg("etc/f", "f")}, []string{`entry "etc/f": regular file has entries below it: invalid entry`}, oci.ErrBadEntry},
	{"device as kernel", imagetest.Layer{{Path: "boot/vmlinuz-" + imagetest.KernelVersion, Type: rootfs.TypeChar, Major: 1, Minor: 1}},
		[]string{"derivative is missing", "  - kernel (searched /boot/uImage*", "boot/vmlinuz (booted by bootargs.cfg)"}, nil},
	{"fifo as initrd", imagetest.Layer{{Path: "boot/initrd-" + imagetest.KernelVersion, Type: rootfs.TypeFIFO}},
		[]string{"derivative is missing", "  - initrd (searched /boot/elemental.initrd*"}, nil},
	{"name over 255 bytes", imagetest.Layer{reg("etc/"+long, "x")}, []string{`name longer than 255 bytes`}, oci.ErrNameTooLong},
	{"directory name over 255 bytes", imagetest.Layer{reg(long+"/f", "x")}, []string{`name longer than 255 bytes`}, oci.ErrNameTooLong},
	{"hardlink target over 255 bytes", imagetest.Layer{link("h", "etc/"+long)}, []string{`hardlink target "etc/xxxx`, `name longer than 255 bytes`}, oci.ErrNameTooLong},
	{"symlink target over PATH_MAX", imagetest.Layer{sym("s", strings.Repeat("a/", 2048))}, []string{`symlink target of 4096 bytes: invalid entry`}, oci.ErrBadEntry},
	{"empty symlink target", imagetest.Layer{{Path: "s", Type: rootfs.TypeSymlink}}, []string{`symlink target of 0 bytes: invalid entry`}, oci.ErrBadEntry},
	{"no kernel modules", imagetest.Layer{whiteout("usr/lib/modules")},
		[]string{"missing 1 required part(s) for toolkit v2", "kernel modules matching /boot/vmlinuz-6.1.0-test (searched /lib/modules/*, /usr/lib/modules/*)"}, nil},
	{"kernel modules of another kernel", imagetest.Layer{whiteout("usr/lib/modules/" + imagetest.KernelVersion), reg("usr/lib/modules/5.0.0-other/x.ko", "x")},
		[]string{"kernel modules matching /boot/vmlinuz-6.1.0-test"}, nil},
	{"no kernel", imagetest.Layer{whiteout("boot/vmlinuz"), whiteout("boot/vmlinuz-" + imagetest.KernelVersion)},
		[]string{"  - kernel (searched /boot/uImage*, /boot/Image*, /boot/zImage*, /boot/vmlinuz*, /boot/image*)"}, nil},
	{"no initrd", imagetest.Layer{whiteout("boot/initrd"), whiteout("boot/initrd-" + imagetest.KernelVersion)},
		[]string{"  - initrd (searched /boot/elemental.initrd*, /boot/initrd*, /boot/initramfs*)", "  - boot/initrd (booted by bootargs.cfg)"}, nil},
	{"no grub parts", imagetest.Layer{whiteout("usr/lib/grub"), whiteout("usr/lib/elemental/bootloader")},
		[]string{"loopback.mod", "squash4.mod", "xzio.mod", "shim"}, nil},
	{"no generation markers", imagetest.Layer{whiteout("etc/elemental")}, []string{"toolkit generation markers"}, nil},
	{"no elemental binary", imagetest.Layer{whiteout("usr/bin/elemental")}, []string{"  - elemental binary (searched /usr/bin/elemental)"}, nil},
}

func TestHostileLayers(t *testing.T) {
	for _, c := range layerCases {
		t.Run(c.name, func(t *testing.T) {
			src := layoutRef(t, image(t, derivativeWith(c.layer)...))
			err := runFailing(t, installer.Spec{Source: src}, c.want)
			if !isAny(err, c.is) {
				t.Errorf("error is not %v: %v", c.is, err)
			}
		})
	}
}

// TestMissingGrubConfig forces the generation so that the missing
// grub.cfg is reported as such rather than as missing markers.
func TestMissingGrubConfig(t *testing.T) {
	src := layoutRef(t, image(t, derivativeWith(imagetest.Layer{whiteout("etc/elemental/grub.cfg")})...))
	runFailing(t, installer.Spec{Source: src, Generation: inspect.V2},
		[]string{"derivative is missing 1 required part(s) for toolkit v2", "  - grub.cfg (searched /etc/elemental/grub.cfg, /etc/cos/grub.cfg)"})
}

// TestHostileLayersEverySource checks that the same refusals hold when the
// derivative comes from a docker archive or a registry, whose layers take
// other code paths (uncompressed DiffID-verified layers, downloaded and
// cached blobs).
func TestHostileLayersEverySource(t *testing.T) {
	host := imagetest.Registry(t)
	for i, c := range layerCases[:14] {
		img := image(t, derivativeWith(c.layer)...)
		for _, kind := range []string{"docker-archive", "registry"} {
			t.Run(kind+" "+c.name, func(t *testing.T) {
				var src string
				if kind == "registry" {
					src = fmt.Sprintf("%s/hostile/%d:v1", host, i)
					imagetest.Push(t, src, img)
				} else {
					src = "docker-archive:" + filepath.Join(t.TempDir(), "image.tar")
					if err := imagetest.WriteDockerArchive(strings.TrimPrefix(src, "docker-archive:"), img, "example.org/hostile:v1"); err != nil {
						t.Fatal(err)
					}
				}
				err := runFailing(t, installer.Spec{Source: src, Insecure: true}, c.want)
				if !isAny(err, c.is) {
					t.Errorf("error is not %v: %v", c.is, err)
				}
			})
		}
	}
}
