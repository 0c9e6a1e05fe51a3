package squashfs_test

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/internal/squashfs"
)

var imageCases = []struct {
	name     string
	opts     squashfs.Options
	withRoot bool
}{
	{name: "gzip", opts: squashfs.Options{Time: epoch.Add(48 * time.Hour)}, withRoot: true},
	{name: "xz", opts: squashfs.Options{Compression: squashfs.XZ, BlockSize: 128 << 10, Time: epoch.Add(72 * time.Hour)}},
}

func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("test needs %s: %v", tool, err)
	}
}

// TestImage builds the fixture for each compressor and checks it with
// squashfs-tools and, as root, with the kernel.
func TestImage(t *testing.T) {
	needTool(t, "unsquashfs")
	t.Parallel()
	for _, tc := range imageCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bs := tc.opts.BlockSize
			if bs == 0 {
				bs = squashfs.DefaultBlockSize
			}
			es := fixture(bs, tc.withRoot, !testing.Short())
			img, size := build(t, es, tc.opts)
			x := expect(es, tc.opts.Time)
			checkFile(t, img, size)
			t.Run("superblock", func(t *testing.T) { checkSuperblock(t, img, tc.opts, bs, x) })
			t.Run("listing", func(t *testing.T) { checkListing(t, img, x) })
			t.Run("extract", func(t *testing.T) { checkExtract(t, img, x) })
			t.Run("mount", func(t *testing.T) { checkMount(t, img, x) })
			t.Run("grub", func(t *testing.T) { checkGRUB(t, img, x) })
		})
	}
}

func checkFile(t *testing.T, img string, size int64) {
	t.Helper()
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size || size%4096 != 0 {
		t.Errorf("image file is %d bytes, Close said %d (want a multiple of 4096)", fi.Size(), size)
	}
}

func checkSuperblock(t *testing.T, img string, opts squashfs.Options, bs int, x expected) {
	out, err := exec.Command("unsquashfs", "-s", img).Output()
	if err != nil {
		t.Fatalf("unsquashfs -s: %v", err)
	}
	comp := opts.Compression
	if comp == squashfs.CompressionUnknown {
		comp = squashfs.Gzip
	}
	for _, want := range []string{
		`Found a valid SQUASHFS 4:0 superblock`,
		`Compression ` + comp.String(),
		`Block size ` + itoa(bs),
		`Number of inodes ` + itoa(x.inodes()),
		`Number of ids ` + itoa(x.ids()),
		`Filesystem is not exportable via NFS`,
		`Xattrs are compressed`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).Match(out) {
			t.Errorf("unsquashfs -s lacks %q:\n%s", want, out)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func checkListing(t *testing.T, img string, x expected) {
	got := unsquashfsList(t, img)
	var want []string
	for p, e := range x.byPath {
		want = append(want, lsLine(p, &e.Entry))
	}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unsquashfs -lln (-want +got):\n%s", diff)
	}
}

func checkExtract(t *testing.T, img string, x expected) {
	if os.Geteuid() != 0 {
		t.Skip("extracting with owners, devices and security xattrs needs root")
	}
	dst := filepath.Join(t.TempDir(), "root")
	out, err := exec.Command("unsquashfs", "-no-progress", "-xattrs", "-d", dst, img).CombinedOutput()
	if err != nil {
		t.Fatalf("unsquashfs -d: %v\n%s", err, out)
	}
	verifyTree(t, dst, x)
	verifyXattrs(t, dst, x)
}

func checkMount(t *testing.T, img string, x expected) {
	if os.Geteuid() != 0 {
		t.Skip("mounting with mount -o loop needs root")
	}
	needTool(t, "mount")
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "squashfs", "-o", "loop,ro", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("kernel cannot loop-mount here (mount -o loop): %v: %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	}()
	verifyTree(t, mnt, x)
	verifyXattrs(t, mnt, x)
	// Name lookups in the 2,000-entry directory go through its index.
	for _, name := range []string{"f0000", "f0999", "f1500", "f1999"} {
		if _, err := os.Lstat(path.Join(mnt, "many", name)); err != nil {
			t.Errorf("lookup of many/%s: %v", name, err)
		}
	}
}
