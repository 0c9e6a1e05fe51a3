package imagetest

import (
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// SparseSize is the logical size of the sparse file in Torture.
const SparseSize int64 = 1 << 30

// LongName is a 255-byte file name, the longest Linux allows.
var LongName = strings.Repeat("n", 255)

// Capability is a raw security.capability value (VFS_CAP_REVISION_2,
// effective, permitted CAP_NET_RAW) as setcap writes it.
const Capability = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// Torture returns a layer with every kind of entry a filesystem writer must
// get right: hardlinks (one, "torture/lowerlink", to lowerFile, which must
// be a regular file of a lower layer), relative, absolute and dangling
// symlinks, xattrs including security.capability, setuid/setgid/sticky
// modes, character and block devices, a fifo, a 255-byte name, UTF-8
// names, a 1 GiB sparse file, and files inside the directories installers
// exclude by default (proc, tmp, dev, run, etc/resolv.conf, .snapshots).
func Torture(lowerFile string) Layer {
	return Layer{
		{Path: "torture", Type: rootfs.TypeDir, Mode: 0o755},
		reg("torture/file", "hardlinked data\n"),
		{Path: "torture/hardlink", Type: rootfs.TypeHardlink, Linkname: "torture/file"},
		{Path: "torture/lowerlink", Type: rootfs.TypeHardlink, Linkname: lowerFile},
		symlink("torture/rel-symlink", "file"),
		symlink("torture/abs-symlink", "/usr/bin/elemental"),
		symlink("torture/dangling", "/does/not/exist"),
		{Path: "torture/ping", Type: rootfs.TypeReg, Mode: 0o755, Data: []byte("ping\n"),
			Xattrs: map[string]string{"security.capability": Capability, "user.comment": "hello"}},
		{Path: "torture/setuid", Type: rootfs.TypeReg, Mode: 0o4755, Data: []byte("su\n")},
		{Path: "torture/setgid", Type: rootfs.TypeDir, Mode: 0o2775, GID: 50},
		{Path: "torture/sticky", Type: rootfs.TypeDir, Mode: 0o1777},
		{Path: "torture/owned", Type: rootfs.TypeReg, Mode: 0o600, UID: 1000, GID: 1000, Data: []byte("mine\n")},
		{Path: "torture/zero", Type: rootfs.TypeChar, Mode: 0o666, Major: 1, Minor: 5},
		{Path: "torture/sda", Type: rootfs.TypeBlock, Mode: 0o660, GID: 6, Major: 8, Minor: 0},
		{Path: "torture/fifo", Type: rootfs.TypeFIFO, Mode: 0o600},
		reg("torture/"+LongName, "long\n"),
		reg("torture/ünïcødé-日本語.txt", "utf-8\n"),
		{Path: "torture/sparse", Type: rootfs.TypeReg, SparseSize: SparseSize, Data: []byte("sparse head\n")},
		{Path: "torture/empty", Type: rootfs.TypeReg},
		reg("proc/x", "x\n"),
		reg("tmp/x", "x\n"),
		{Path: "dev/null", Type: rootfs.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
		reg("run/x", "x\n"),
		reg("etc/resolv.conf", "nameserver 192.0.2.1\n"),
		reg(".snapshots/x", "x\n"),
	}.WithParents()
}
