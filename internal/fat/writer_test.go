package fat_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/fat"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/google/go-cmp/cmp"
)

// espFiles is the v2 ESP content of disk contract §2.1, with parents
// arriving after children.
func espFiles() []file {
	return entries(
		reg("EFI/BOOT/BOOTX64.EFI", "shim"),
		reg("EFI/BOOT/grub.efi", "grub"),
		reg("EFI/BOOT/MokManager.efi", "mok"),
		reg("EFI/BOOT/grub.cfg", "search --no-floppy --label --set=root COS_RECOVERY\n"),
		reg("EFI/BOOT/x86_64-efi/loopback.mod", "loopback"),
		reg("EFI/BOOT/x86_64-efi/squash4.mod", "squash4"),
		reg("EFI/BOOT/x86_64-efi/xzio.mod", "xzio"),
		dir("EFI/BOOT"),
		reg("EFI/ELEMENTAL/shim.efi", "shim"),
		reg("EFI/ELEMENTAL/grub.cfg", "cfg"),
		dir("EFI"),
		reg("grub_oem_env", "# GRUB Environment Block\n"),
		dir("grubcustom"),
		reg("grubcustom/custom.cfg", ""),
	)
}

// checkClean runs fsck.vfat -n and fails on any complaint.
func checkClean(t *testing.T, img string) string {
	t.Helper()
	out := fsck(t, img)
	for _, bad := range []string{"differ", "wrong", "nvalid", "arning", "Bad", "bad", "FIXED", "Orphan", "checksum", "Unable", "Dropping", "Duplicate", "Contains"} {
		if strings.Contains(out, bad) {
			t.Errorf("fsck.vfat -n mentions %q:\n%s", bad, out)
		}
	}
	return out
}

func sorted(ps []string) []string {
	out := append([]string(nil), ps...)
	slicesSort(out)
	return out
}

func TestESP(t *testing.T) {
	files := espFiles()
	img := build(t, 64*mib, opts("cos_grub"), files)
	out := checkClean(t, img)
	if !strings.Contains(out, "16 bit entries") {
		t.Errorf("64 MiB ESP is not FAT16:\n%s", out)
	}
	want := []string{"EFI", "EFI/BOOT", "EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/MokManager.efi", "EFI/BOOT/grub.cfg", "EFI/BOOT/grub.efi",
		"EFI/BOOT/x86_64-efi", "EFI/BOOT/x86_64-efi/loopback.mod", "EFI/BOOT/x86_64-efi/squash4.mod", "EFI/BOOT/x86_64-efi/xzio.mod",
		"EFI/ELEMENTAL", "EFI/ELEMENTAL/grub.cfg", "EFI/ELEMENTAL/shim.efi", "grub_oem_env", "grubcustom", "grubcustom/custom.cfg"}
	if diff := cmp.Diff(want, sorted(listing(t, img))); diff != "" {
		t.Errorf("mdir listing (-want +got):\n%s", diff)
	}
	for _, f := range files {
		if f.dir {
			continue
		}
		if got := runTool(t, "mtype", "-i", img, "::/"+f.path); !bytes.Equal(got, f.data) {
			t.Errorf("mtype %s = %q, want %q", f.path, got, f.data)
		}
	}
	info := string(runTool(t, "mdir", "-i", img, "::/"))
	if !strings.Contains(info, "Volume in drive : is COS_GRUB") || !strings.Contains(info, "Serial Number is 1234-ABCD") {
		t.Errorf("label or serial missing from mdir:\n%s", info)
	}
	boot, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(boot[43:54]); got != "COS_GRUB   " {
		t.Errorf("boot sector label = %q", got)
	}
}

// TestShortNames checks the 8.3 aliases mdir shows next to the long names.
func TestShortNames(t *testing.T) {
	var files []file
	for i := range 12 {
		files = append(files, reg(fmt.Sprintf("longfilename%02d.txt", i), "x"))
	}
	files = append(files, reg("BOOTX64.EFI", "x"), reg("x86_64-efi", "x"), reg(".hidden", "x"), reg("a+b.txt", "x"), reg("abc.defg", "x"))
	img := build(t, 16*mib, opts(""), files)
	checkClean(t, img)
	out := string(runTool(t, "mdir", "-i", img, "::/"))
	for _, want := range []string{
		`BOOTX64  EFI +1 [^ ]+ +\S+ *$`, // no long name
		`LONGFI~1 TXT +1 .* longfilename00\.txt`, `LONGFI~9 TXT +1 .* longfilename08\.txt`,
		`LO[0-9A-F]{4}~1 TXT +1 .* longfilename09\.txt`,
		`X86_64~1 +1 .* x86_64-efi`, `HIDDEN~1 +1 .* \.hidden`, `A_B~1 +TXT +1 .* a\+b\.txt`, `ABC~1 +DEF +1 .* abc\.defg`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).MatchString(out) {
			t.Errorf("mdir lacks a line matching %q:\n%s", want, out)
		}
	}
}

func TestLargeFileAndFAT32(t *testing.T) {
	big := blob("EFI/BOOT/big.bin", 3*mib+123)
	tests := []struct {
		name   string
		size   int64
		typ    int
		bits   string
		prefix string
	}{
		{name: "FAT16 auto", size: 64 * mib, bits: "16 bit entries"},
		{name: "FAT32 auto 600 MiB", size: 600 * mib, bits: "32 bit entries"},
		{name: "FAT32 forced on 64 MiB", size: 64 * mib, typ: 32, bits: "32 bit entries"},
		{name: "FAT12 auto 4 MiB", size: 4 * mib, bits: "12 bit entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts("COS_GRUB")
			o.FATType = tc.typ
			files := append(espFiles(), big)
			img := build(t, tc.size, o, files)
			if out := checkClean(t, img); !strings.Contains(out, tc.bits) {
				t.Errorf("not %s:\n%s", tc.bits, out)
			}
			dst := filepath.Join(t.TempDir(), "out.bin")
			runTool(t, "mcopy", "-i", img, "::/"+big.path, dst)
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != sha256.Sum256(big.data) {
				t.Errorf("mcopy of %s: sha256 differs (%d bytes, want %d)", big.path, len(got), len(big.data))
			}
			if got := runTool(t, "mtype", "-i", img, "::/EFI/BOOT/grub.cfg"); string(got) != string(files[3].data) {
				t.Errorf("grub.cfg = %q", got)
			}
		})
	}
}

// TestManyAndDeep fills directories past one cluster (the FAT32 root
// included) and nests directories deeply.
func TestManyAndDeep(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
	}{{"FAT16", 64 * mib}, {"FAT32", 600 * mib}} {
		t.Run(tc.name, func(t *testing.T) {
			var files []file
			var want []string
			for i := range 300 {
				p := fmt.Sprintf("many/A file with a long name %03d.txt", i)
				files = append(files, reg(p, p))
				want = append(want, p)
			}
			deep := "d0"
			want = append(want, "many", deep)
			for i := 1; i < 30; i++ {
				deep += fmt.Sprintf("/Level%d", i)
				want = append(want, deep)
			}
			files = append(files, reg(deep+"/leaf.txt", "leaf"))
			want = append(want, deep+"/leaf.txt")
			for i := range 200 {
				p := fmt.Sprintf("root entry with long name %03d", i)
				if tc.name == "FAT16" {
					break // the fixed FAT16 root holds 512 slots
				}
				files = append(files, dir(p))
				want = append(want, p)
			}
			img := build(t, tc.size, opts("MANY"), files)
			checkClean(t, img)
			if diff := cmp.Diff(sorted(want), sorted(listing(t, img))); diff != "" {
				t.Errorf("mdir listing (-want +got):\n%s", diff)
			}
			if got := runTool(t, "mtype", "-i", img, "::/many/A file with a long name 299.txt"); string(got) != "many/A file with a long name 299.txt" {
				t.Errorf("last file content = %q", got)
			}
			if got := runTool(t, "mtype", "-i", img, "::/"+deep+"/leaf.txt"); string(got) != "leaf" {
				t.Errorf("deep file content = %q", got)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	sum := func() [32]byte {
		t.Helper()
		data, err := os.ReadFile(build(t, 64*mib, opts("COS_GRUB"), append(espFiles(), blob("x/big", mib+5))))
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(data)
	}
	if a, b := sum(), sum(); a != b {
		t.Errorf("two builds differ: %x vs %x", a, b)
	}
}

// TestImplicitDirTimes checks that a directory entry arriving after its
// children gives the directory its time, and implied ones get Options.Time.
func TestImplicitDirTimes(t *testing.T) {
	img := build(t, 16*mib, fat.Options{Time: epoch.AddDate(-3, 0, 0)}, entries(reg("late/a", "a"), reg("implied/b", "b"), dir("late")))
	checkClean(t, img)
	out := string(runTool(t, "mdir", "-i", img, "::/"))
	for _, want := range []string{`(?m)^LATE +<DIR> +2025-03-04`, `(?m)^IMPLIED +<DIR> +2022-03-04`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("mdir lacks %q:\n%s", want, out)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		size    int64
		opts    fat.Options
		files   []file
		entry   *rootfs.Entry
		want    error
		wantMsg string
	}{
		{name: "too small", size: 8 << 10, wantMsg: "too small"},
		{name: "long label", size: 4 * mib, opts: fat.Options{Label: "TWELVE CHARS"}, wantMsg: "longer than 11"},
		{name: "bad label", size: 4 * mib, opts: fat.Options{Label: "A.B"}, wantMsg: "contains"},
		{name: "bad type", size: 4 * mib, opts: fat.Options{FATType: 24}, wantMsg: "FAT type 24"},
		{name: "FAT16 too big", size: 8 << 30, opts: fat.Options{FATType: 16}, wantMsg: "do not fit FAT16"},
		{name: "FAT32 too small", size: 16 * mib, opts: fat.Options{FATType: 32}, want: fat.ErrTooSmall},
		{name: "symlink", size: 4 * mib, entry: &rootfs.Entry{Path: "EFI/link", Type: rootfs.TypeSymlink, Linkname: "x"}, want: fat.ErrUnsupported, wantMsg: "EFI/link"},
		{name: "device", size: 4 * mib, entry: &rootfs.Entry{Path: "dev/null", Type: rootfs.TypeChar}, want: fat.ErrUnsupported, wantMsg: "dev/null"},
		{name: "no space", size: 1 * mib, files: entries(blob("big", 2*mib)), want: fat.ErrNoSpace, wantMsg: "big"},
		{name: "case clash", size: 4 * mib, files: entries(reg("EFI/grub.cfg", "a"), reg("efi/GRUB.CFG", "b")), want: fat.ErrExists},
		{name: "file over dir", size: 4 * mib, files: entries(reg("a/b", "a"), reg("a", "b")), want: fat.ErrExists},
		{name: "dir under file", size: 4 * mib, files: entries(reg("a", "a"), reg("a/b", "b")), wantMsg: "is a file"},
		{name: "bad char", size: 4 * mib, files: entries(reg("a:b", "a")), wantMsg: "does not allow"},
		{name: "trailing dot", size: 4 * mib, files: entries(reg("a.", "a")), wantMsg: "ends in a dot"},
		{name: "root full", size: 16 * mib, files: manyRoot(300), want: fat.ErrNoSpace, wantMsg: "root directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tryBuild(tc.size, tc.opts, tc.files, tc.entry)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v is not %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

func manyRoot(n int) []file {
	var fs []file
	for i := range n {
		fs = append(fs, reg(fmt.Sprintf("root file %03d", i), ""))
	}
	return fs
}

func tryBuild(size int64, o fat.Options, files []file, e *rootfs.Entry) error {
	f, err := os.CreateTemp("", "fat-err-*.img")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	w, err := fat.New(f, size, o)
	if err != nil {
		return err
	}
	if err := addAll(w, files); err != nil {
		return err
	}
	if e != nil {
		if _, err := w.Add(e); err != nil {
			return err
		}
	}
	return w.Close()
}

func TestFileWriterMisuse(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := fat.New(f, 4*mib, fat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wc, err := w.Add(&rootfs.Entry{Path: "f", Type: rootfs.TypeReg, Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "still open") {
		t.Errorf("Close with an open file: %v", err)
	}
	if n, err := wc.Write([]byte("abcd")); n != 3 || err == nil {
		t.Errorf("overlong write: n=%d err=%v", n, err)
	}
	wc2, _ := w.Add(&rootfs.Entry{Path: "g", Type: rootfs.TypeReg, Size: 3})
	wc2.Write([]byte("a"))
	if err := wc2.Close(); err == nil || !strings.Contains(err.Error(), "1 of 3 bytes") {
		t.Errorf("short file close: %v", err)
	}
}

func TestMinSize(t *testing.T) {
	tests := []struct {
		name  string
		files []file
	}{
		{name: "esp", files: espFiles()},
		{name: "big files", files: entries(blob("a", 30*mib), blob("b/c", 7*mib+1), reg("d", "x"))},
		{name: "many small", files: manyInDir(2000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c rootfs.Counter
			for _, f := range tc.files {
				typ, size := rootfs.TypeReg, int64(len(f.data))
				if f.dir {
					typ, size = rootfs.TypeDir, 0
				}
				c.Add(&rootfs.Entry{Path: f.path, Type: typ, Size: size})
			}
			size := fat.MinSize(c.Stats)
			if size%mib != 0 {
				t.Errorf("MinSize %d is not a multiple of 1 MiB", size)
			}
			if err := tryBuild(size, fat.Options{}, tc.files, nil); err != nil {
				t.Errorf("MinSize %d is too small: %v", size, err)
			}
		})
	}
}

func manyInDir(n int) []file {
	var fs []file
	for i := range n {
		fs = append(fs, reg(fmt.Sprintf("dir/sub%d/file number %05d.conf", i%7, i), "data"))
	}
	return fs
}
