package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/elemental-suite/elemental/internal/gpt"
)

// sparseDisk writes a GPT with the Elemental partitions to a sparse file
// of size bytes, then grows the file to grownSize (the disk got bigger).
func sparseDisk(t *testing.T, size, grownSize int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	mib := func(n int64) gpt.LBA { return gpt.LBA(n << 20 / 512) }
	tbl := &gpt.Table{DiskGUID: uuid.MustParse("11111111-2222-3333-4444-555555555555")}
	starts := []struct {
		name       string
		first, end int64 // MiB
	}{{"efi", 1, 65}, {"oem", 65, 129}, {"recovery", 129, 257}, {"state", 257, 513}, {"persistent", 513, 0}}
	for i, s := range starts {
		last := mib(s.end) - 1
		if s.end == 0 {
			last = gpt.LastUsable(size, 512)
		}
		tbl.Partitions = append(tbl.Partitions, gpt.Partition{Name: s.name, Type: gpt.TypeLinux,
			GUID: gpt.GUIDFromSeed([]byte("t"), s.name), First: mib(s.first), Last: last})
		_ = i
	}
	if err := tbl.Write(f, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(grownSize); err != nil {
		t.Fatal(err)
	}
	return p
}

func sgdiskVerify(t *testing.T, p string) string {
	t.Helper()
	out, err := exec.Command("sgdisk", "-v", p).CombinedOutput()
	if err != nil {
		t.Fatalf("sgdisk -v: %v\n%s", err, out)
	}
	return string(out)
}

func TestGrowTable(t *testing.T) {
	if _, err := exec.LookPath("sgdisk"); err != nil {
		t.Skipf("needs sgdisk: %v", err)
	}
	const size, grownSize = 600 << 20, 1 << 30
	tests := []struct {
		name        string
		grown       int64
		pno         int
		wantChanged bool
		wantErr     string
	}{
		{name: "grows last partition", grown: grownSize, pno: 5, wantChanged: true},
		{name: "already full size", grown: size, pno: 5},
		{name: "not the last partition", grown: grownSize, pno: 4, wantErr: "not the last"},
		{name: "no such partition", grown: grownSize, pno: 9, wantErr: "not in the table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sparseDisk(t, size, tt.grown)
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g, err := growTable(f, tt.pno)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", g.changed, tt.wantChanged)
			}
			wantEnd := gpt.LastUsable(tt.grown, 512)
			if g.start != 513<<20 || g.start+g.length != int64(wantEnd+1)*512 {
				t.Errorf("partition = [%d, +%d), want start %d ending at sector %d", g.start, g.length, 513<<20, wantEnd)
			}
			out := sgdiskVerify(t, p)
			if !strings.Contains(out, "No problems found") {
				t.Errorf("sgdisk -v:\n%s", out)
			}
			info, _ := exec.Command("sgdisk", "-i", "5", p).CombinedOutput()
			if !strings.Contains(string(info), "Partition name: 'persistent'") {
				t.Errorf("partition 5 lost its name:\n%s", info)
			}
			// Idempotent: a second run changes nothing.
			again, err := growTable(f, tt.pno)
			if err != nil || again.changed || again.length != g.length {
				t.Errorf("second grow = %+v, %v; want unchanged", again, err)
			}
		})
	}
}
