package squashfs_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/elemental-suite/elemental/internal/squashfs"
)

func variedData(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	n := r.IntN(120_000) + 1
	b := make([]byte, n)
	switch i % 6 {
	case 0: // few distinct bytes
		for j := range b {
			b[j] = byte(r.IntN(3))
		}
	case 1: // text-ish
		words := []string{"the ", "quick ", "brown ", "fox ", "jumps\n", "over ", "lazy ", "dog. "}
		b = b[:0]
		for len(b) < n {
			b = append(b, words[r.IntN(len(words))]...)
		}
	case 2: // runs
		for j := 0; j < n; {
			v, k := byte(r.IntN(256)), r.IntN(500)+1
			for ; k > 0 && j < n; k-- {
				b[j] = v
				j++
			}
		}
	case 3: // random with repeats
		for j := range b {
			if j > 1000 && r.IntN(4) == 0 {
				b[j] = b[j-r.IntN(1000)-1]
			} else {
				b[j] = byte(r.IntN(256))
			}
		}
	case 4:
		b = pattern(n, byte(i))
	case 5: // single byte value
		for j := range b {
			b[j] = 'a'
		}
	}
	return b
}

// TestGRUBReadsVariedData packs many kinds of data (few symbols, text,
// runs, near-random, patterns, a single byte) into data blocks and
// reads the file back with GRUB's squash4 driver. A deflate encoder whose
// Huffman tables GRUB rejects fails it.
func TestGRUBReadsVariedData(t *testing.T) {
	needTool(t, "grub-fstest")
	t.Parallel()
	var data []byte
	for i := range 60 {
		data = append(data, variedData(i)...)
	}
	// A random period repeated: every match of a block is at the same
	// distance, so encoders emit the one-code distance table GRUB refuses
	// (the standard library at level 6 as much as klauspost/compress).
	for i, p := range []int{3, 1000, 250, 7} {
		period := randomBytes(p, uint64(100+i))
		data = append(data, bytes.Repeat(period, 150_000/p)...)
	}
	es := []testEntry{file("varied", 0o644, data)}
	local := filepath.Join(t.TempDir(), "varied")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts squashfs.Options
	}{
		{name: "gzip 64K", opts: squashfs.Options{Compression: squashfs.Gzip, BlockSize: 64 << 10}},
		{name: "xz 64K", opts: squashfs.Options{Compression: squashfs.XZ, BlockSize: 64 << 10}},
		{name: "xz 1M", opts: squashfs.Options{Compression: squashfs.XZ, BlockSize: 1 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, _ := build(t, es, tc.opts)
			if out, err := exec.Command("grub-fstest", img, "cmp", "/varied", local).CombinedOutput(); err != nil {
				t.Errorf("grub-fstest cmp /varied: %v: %s", err, out)
			}
		})
	}
}
