package ext4_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// BenchmarkWrite streams ~200 MiB of files (random data, a mix of sizes)
// into a fresh image file per iteration.
func BenchmarkWrite(b *testing.B) {
	const total = 200 << 20
	data := randBytes(11, 8<<20)
	var its []item
	var sum int64
	for i := 0; sum < total; i++ {
		n := int64([]int{8 << 20, 1 << 20, 300 << 10, 20 << 10, 3000}[i%5])
		n = min(n, total-sum)
		its = append(its, reg(fmt.Sprintf("d%d/f%d", i%17, i), 0o644, 0, 0, data[:n]))
		sum += n
	}
	dir := b.TempDir()
	b.SetBytes(sum)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := filepath.Join(dir, "fs.img")
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		w, err := ext4.New(f, 300<<20, testOptions(ext4.KindExt4, true))
		if err != nil {
			b.Fatal(err)
		}
		feed(b, rootfs.Sink(w), its)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		os.Remove(p)
	}
}
