package gpt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/gpt"
	"github.com/google/uuid"
)

func TestValidate(t *testing.T) {
	const size = 256 * mib
	ok := func() *gpt.Table { return elementalTable(size, 64, 64) }
	tests := []struct {
		name   string
		mutate func(*gpt.Table)
		size   int64
		want   []string // every one must appear in the joined error
	}{
		{name: "valid", mutate: func(*gpt.Table) {}},
		{name: "overlap", mutate: func(t *gpt.Table) { t.Partitions[1].First -= 10 }, want: []string{`partition 2 ("oem"): overlaps partition 1 ("efi")`}},
		{name: "before first usable", mutate: func(t *gpt.Table) { t.Partitions[0].First = 33 }, want: []string{"outside the usable range 34-"}},
		{name: "after last usable", mutate: func(t *gpt.Table) { t.Partitions[2].Last++ }, want: []string{`partition 3 ("recovery"): sectors`, "outside the usable range"}},
		{name: "long name", mutate: func(t *gpt.Table) { t.Partitions[0].Name = strings.Repeat("é", 37) }, want: []string{"37 UTF-16 code units, at most 36"}},
		{name: "surrogate pairs count twice", mutate: func(t *gpt.Table) { t.Partitions[0].Name = strings.Repeat("😀", 19) }, want: []string{"38 UTF-16 code units"}},
		{name: "bad utf8", mutate: func(t *gpt.Table) { t.Partitions[0].Name = "\xff" }, want: []string{"not valid UTF-8"}},
		{name: "zero guids", mutate: func(t *gpt.Table) {
			t.DiskGUID = uuid.Nil
			t.Partitions[0].GUID = uuid.Nil
			t.Partitions[1].Type = uuid.Nil
		}, want: []string{"disk GUID is zero", `partition 1 ("efi"): partition GUID is zero`, `partition 2 ("oem"): type GUID is zero`}},
		{name: "duplicate guid", mutate: func(t *gpt.Table) { t.Partitions[2].GUID = t.Partitions[0].GUID }, want: []string{"already used by partition 1"}},
		{name: "guid equals disk", mutate: func(t *gpt.Table) { t.Partitions[2].GUID = t.DiskGUID }, want: []string{"equals the disk GUID"}},
		{name: "reversed", mutate: func(t *gpt.Table) {
			t.Partitions[2].First, t.Partitions[2].Last = t.Partitions[2].Last, t.Partitions[2].First
		}, want: []string{"is after last sector"}},
		{name: "sector size", mutate: func(t *gpt.Table) { t.SectorSize = 1024 }, want: []string{"sector size 1024"}},
		{name: "odd disk size", mutate: func(*gpt.Table) {}, size: size + 100, want: []string{"not a multiple"}},
		{name: "tiny disk", mutate: func(t *gpt.Table) { t.Partitions = nil }, size: 16 << 10, want: []string{"no room for a GPT"}},
		{name: "too many", mutate: func(t *gpt.Table) {
			for i := range 130 {
				t.Partitions = append(t.Partitions, gpt.Partition{Name: "x", Type: gpt.TypeLinux, GUID: uuid.New(), First: gpt.LBA(40 + i), Last: gpt.LBA(40 + i)})
			}
			t.Partitions = t.Partitions[3:]
		}, want: []string{"130 partitions, at most 128"}},
		{name: "several at once", mutate: func(t *gpt.Table) {
			t.Partitions[0].Name = strings.Repeat("a", 40)
			t.Partitions[2].Last += 100
		}, want: []string{"40 UTF-16", "outside the usable range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := ok()
			tc.mutate(tab)
			size := tc.size
			if size == 0 {
				size = int64(size256)
			}
			err := tab.Validate(size)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, gpt.ErrInvalid) {
				t.Fatalf("Validate error %v is not ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if werr := tab.Write(failWriter{t}, size); werr == nil {
				t.Error("Write of an invalid table succeeded")
			}
		})
	}
	var pe *gpt.PartitionError
	tab := ok()
	tab.Partitions[1].GUID = uuid.Nil
	if err := tab.Validate(size); !errors.As(err, &pe) || pe.Index != 1 || pe.Name != "oem" {
		t.Errorf("errors.As PartitionError: %v, %+v", err, pe)
	}
}

const size256 = 256 * mib

type failWriter struct{ t *testing.T }

func (w failWriter) WriteAt(p []byte, off int64) (int, error) {
	w.t.Error("invalid table was written")
	return len(p), nil
}
