package squashfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/elemental-suite/elemental/internal/squashfs"
)

// BenchmarkWrite builds a ~200 MiB image of mixed data (compressible
// files, random files, small files, a sparse region) with gzip.
func BenchmarkWrite(b *testing.B) {
	var es []testEntry
	var total int64
	addFile := func(e testEntry) { es = append(es, e); total += e.Size }
	for i := range 40 {
		addFile(file(fmt.Sprintf("text/f%d", i), 0o644, pattern(2<<20+i*1000, byte(i))))
		addFile(file(fmt.Sprintf("rand/f%d", i), 0o644, randomBytes(2<<20+i*777, uint64(i))))
	}
	for i := range 4000 {
		addFile(file(fmt.Sprintf("small/d%d/f%d", i%40, i), 0o644, pattern(i*5%9000, byte(i))))
	}
	addFile(file("zeros", 0o644, make([]byte, 16<<20)))
	path := filepath.Join(b.TempDir(), "bench.sqfs")
	b.SetBytes(total)
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := write(f, es, squashfs.Options{}); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
