package gpt_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/gpt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

const mib = 1 << 20

var seed = []byte("sha256:0123456789abcdef")

// elementalTable plans the v2 non-expandable layout (disk contract §1.4)
// with sizes in MiB; the last partition takes the rest of the disk.
func elementalTable(diskSize int64, sizesMiB ...int64) *gpt.Table {
	names := []string{"efi", "oem", "recovery", "state", "persistent"}
	t := &gpt.Table{DiskGUID: gpt.GUIDFromSeed(seed, "disk"), SectorSize: 512}
	next := gpt.LBA(mib / 512)
	for i, name := range names[:len(sizesMiB)+1] {
		typ := gpt.TypeLinux
		if name == "efi" {
			typ = gpt.TypeESP
		}
		last := gpt.LastUsable(diskSize, 512)
		if i < len(sizesMiB) {
			last = next + gpt.LBA(sizesMiB[i]*mib/512) - 1
		}
		t.Partitions = append(t.Partitions, gpt.Partition{
			Name: name, Type: typ, GUID: gpt.GUIDFromSeed(seed, name), First: next, Last: last,
		})
		next = last + 1
	}
	return t
}

func writeImage(t *testing.T, tab *gpt.Table, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := tab.Write(f, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func sgdisk(t *testing.T, args ...string) string {
	t.Helper()
	tool, err := exec.LookPath("sgdisk")
	if err != nil {
		t.Skipf("checking the table needs sgdisk (apt package gdisk): %v", err)
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sgdisk %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func verifyClean(t *testing.T, path string) {
	t.Helper()
	if out := sgdisk(t, "-v", path); !strings.Contains(out, "No problems found") {
		t.Errorf("sgdisk -v reports problems:\n%s", out)
	}
}

// sgdiskInfo is what `sgdisk -i N` reports about one partition.
type sgdiskInfo struct {
	Type, GUID  string
	First, Last int64
	Attrs, Name string
}

var infoRe = regexp.MustCompile(`(?s)Partition GUID code: (\S+) .*Partition unique GUID: (\S+)\s+First sector: (\d+) .*Last sector: (\d+) .*Attribute flags: (\S+)\s+Partition name: '(.*)'`)

func partInfo(t *testing.T, path string, n int) sgdiskInfo {
	t.Helper()
	out := sgdisk(t, "-i", strconv.Itoa(n), path)
	m := infoRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("cannot parse sgdisk -i %d output:\n%s", n, out)
	}
	first, _ := strconv.ParseInt(m[3], 10, 64)
	last, _ := strconv.ParseInt(m[4], 10, 64)
	return sgdiskInfo{Type: m[1], GUID: m[2], First: first, Last: last, Attrs: m[5], Name: m[6]}
}

func TestWriteCheckedBySgdisk(t *testing.T) {
	tests := []struct {
		name     string
		diskSize int64
		sizes    []int64
		codes    []string // sgdisk -p type codes
	}{
		{name: "full layout", diskSize: 13 << 30, sizes: []int64{64, 64, 4096, 8192}, codes: []string{"EF00", "8300", "8300", "8300", "8300"}},
		{name: "expandable", diskSize: 1 << 30, sizes: []int64{64, 64}, codes: []string{"EF00", "8300", "8300"}},
		{name: "over 2 TiB", diskSize: 3 << 40, sizes: []int64{64, 64, 4096, 8192}, codes: []string{"EF00", "8300", "8300", "8300", "8300"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := elementalTable(tc.diskSize, tc.sizes...)
			path := writeImage(t, tab, tc.diskSize)
			verifyClean(t, path)
			if gdisk, err := exec.LookPath("gdisk"); err == nil {
				out, _ := exec.Command(gdisk, "-l", path).CombinedOutput()
				if !strings.Contains(string(out), "MBR: protective") || !strings.Contains(string(out), "GPT: present") {
					t.Errorf("gdisk -l does not see a protective MBR and a GPT:\n%s", out)
				}
			}
			out := sgdisk(t, "-p", path)
			if want := "Disk identifier (GUID): " + strings.ToUpper(tab.DiskGUID.String()); !strings.Contains(out, want) {
				t.Errorf("sgdisk -p lacks %q:\n%s", want, out)
			}
			if want := fmt.Sprintf("last usable sector is %d", tc.diskSize/512-34); !strings.Contains(out, want) {
				t.Errorf("sgdisk -p lacks %q:\n%s", want, out)
			}
			for i, p := range tab.Partitions {
				row := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%d\s+%d\s+%d\s+.*\s%s\s+%s$`, i+1, p.First, p.Last, tc.codes[i], p.Name))
				if !row.MatchString(out) {
					t.Errorf("sgdisk -p has no row for partition %d (%s %s %d-%d):\n%s", i+1, tc.codes[i], p.Name, p.First, p.Last, out)
				}
				got := partInfo(t, path, i+1)
				want := sgdiskInfo{Type: strings.ToUpper(p.Type.String()), GUID: strings.ToUpper(p.GUID.String()),
					First: int64(p.First), Last: int64(p.Last), Attrs: "0000000000000000", Name: p.Name}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("sgdisk -i %d (-want +got):\n%s", i+1, diff)
				}
				if got.First%2048 != 0 {
					t.Errorf("partition %d starts at sector %d, not 1 MiB aligned", i+1, got.First)
				}
			}
			if last := partInfo(t, path, len(tab.Partitions)).Last; last != tc.diskSize/512-34 {
				t.Errorf("last partition ends at %d, want last usable %d", last, tc.diskSize/512-34)
			}
		})
	}
}

func TestReadRoundTrip(t *testing.T) {
	for _, ss := range []int64{512, 4096} {
		t.Run(fmt.Sprintf("sector %d", ss), func(t *testing.T) {
			const size = 2 << 30
			tab := &gpt.Table{DiskGUID: gpt.GUIDFromSeed(seed, "disk"), SectorSize: ss, Partitions: []gpt.Partition{
				{Name: "efi", Type: gpt.TypeESP, GUID: gpt.GUIDFromSeed(seed, "efi"), First: gpt.LBA(mib / ss), Last: gpt.LBA(65*mib/ss) - 1},
				{Name: "ünïcødé-名前-" + strings.Repeat("x", 25), Type: gpt.TypeLinux, GUID: gpt.GUIDFromSeed(seed, "u"), First: gpt.LBA(65 * mib / ss), Last: gpt.LastUsable(size, ss), Attributes: 1 << 60},
			}}
			path := writeImage(t, tab, size)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := gpt.Read(f, size)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tab, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadCorrupt(t *testing.T) {
	const size = 16 * mib
	tests := []struct {
		name string
		at   int64 // byte to flip
		want error
	}{
		{name: "primary header", at: 512 + 60, want: gpt.ErrCorrupt},
		{name: "primary entries", at: 1024 + 60, want: gpt.ErrCorrupt},
		{name: "backup header", at: size - 512 + 60, want: gpt.ErrCorrupt},
		{name: "backup entries", at: size - 33*512 + 3, want: gpt.ErrCorrupt},
		{name: "signature", at: 512, want: gpt.ErrNoGPT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeImage(t, elementalTable(size, 8), size)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[tc.at] ^= 0x40
			if _, err := gpt.Read(bytes.NewReader(data), size); !errors.Is(err, tc.want) {
				t.Errorf("Read error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestResizeLast(t *testing.T) {
	const small, big = 512 * mib, 3 << 30
	tab := elementalTable(small, 64, 64, 128, 128)
	path := writeImage(t, tab, small)
	if err := os.Truncate(path, big); err != nil {
		t.Fatal(err)
	}
	if out := sgdisk(t, "-v", path); !strings.Contains(out, "secondary header") {
		t.Fatalf("grown disk should have a misplaced backup header:\n%s", out)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := gpt.Read(f, big)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.ResizeLast(big); err != nil {
		t.Fatal(err)
	}
	if err := got.Write(f, big); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, path)
	info := partInfo(t, path, 5)
	if want := int64(gpt.LastUsable(big, 512)); info.Last != want || info.Last != big/512-34 {
		t.Errorf("persistent ends at %d, want %d", info.Last, want)
	}
	if first := partInfo(t, path, 4); first.First != int64(tab.Partitions[3].First) || first.Last != int64(tab.Partitions[3].Last) {
		t.Errorf("state moved: %+v", first)
	}
	if err := got.ResizeLast(small); err == nil {
		t.Error("shrinking with ResizeLast succeeded")
	}
	if err := (&gpt.Table{}).ResizeLast(big); !errors.Is(err, gpt.ErrNoPartitions) {
		t.Errorf("empty table: %v", err)
	}
}

func TestDeterministic(t *testing.T) {
	const size = 16 * mib
	sum := func() [32]byte {
		data, err := os.ReadFile(writeImage(t, elementalTable(size, 4, 4), size))
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(data)
	}
	if sum() != sum() {
		t.Error("two writes of the same table differ")
	}
}

func TestGUIDFromSeed(t *testing.T) {
	a := gpt.GUIDFromSeed(seed, "efi")
	tests := []struct {
		name  string
		got   uuid.UUID
		equal bool
	}{
		{name: "same inputs", got: gpt.GUIDFromSeed(seed, "efi"), equal: true},
		{name: "other label", got: gpt.GUIDFromSeed(seed, "oem")},
		{name: "other seed", got: gpt.GUIDFromSeed([]byte("x"), "efi")},
		{name: "boundary moved", got: gpt.GUIDFromSeed(append(append([]byte{}, seed...), 'e'), "fi")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.got == a) != tc.equal {
				t.Errorf("GUIDFromSeed = %s, first = %s, want equal=%v", tc.got, a, tc.equal)
			}
		})
	}
	if a.Version() != 5 || a.Variant() != uuid.RFC4122 {
		t.Errorf("%s is not an RFC 4122 version 5 UUID", a)
	}
	// Golden value: changing the derivation changes every image's GUIDs.
	if want := uuid.MustParse("f6aa2f86-057e-59e7-b7d9-f6816b807a24"); a != want {
		t.Errorf("GUIDFromSeed(seed, efi) = %s, want %s", a, want)
	}
}

func TestUsableRange(t *testing.T) {
	tests := []struct {
		name        string
		size, ss    int64
		first, last gpt.LBA
	}{
		{name: "512", size: 100 * mib, ss: 512, first: 34, last: 204800 - 34},
		{name: "4096", size: 100 * mib, ss: 4096, first: 6, last: 25600 - 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := gpt.FirstUsable(tc.ss); got != tc.first {
				t.Errorf("FirstUsable = %d, want %d", got, tc.first)
			}
			if got := gpt.LastUsable(tc.size, tc.ss); got != tc.last {
				t.Errorf("LastUsable = %d, want %d", got, tc.last)
			}
		})
	}
}
