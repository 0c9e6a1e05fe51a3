package diskformat_test

import (
	"context"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// benchRaw is a 1 GiB sparse disk holding 64 MiB of compressible data in
// four runs.
func benchRaw(b *testing.B) (string, int64) {
	b.Helper()
	var spans []span
	for i := range int64(4) {
		spans = append(spans, span{off: i * 256 * mib, n: 16 * mib, text: true})
	}
	return makeRaw(b, b.TempDir(), gib, spans, 14), 64 * mib
}

// BenchmarkBlocks streams EBS-sized blocks and hashes each, as the EBS
// direct uploader does.
func BenchmarkBlocks(b *testing.B) {
	path, data := benchRaw(b)
	f := openFile(b, path)
	b.SetBytes(data)
	for b.Loop() {
		err := diskformat.Blocks(context.Background(), f, 512*kib, func(blk diskformat.Block) error {
			_ = sha256.Sum256(blk.Data)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvert measures each format's throughput over the data bytes.
func BenchmarkConvert(b *testing.B) {
	path, data := benchRaw(b)
	f := openFile(b, path)
	for _, tt := range []struct {
		name   string
		format diskformat.Format
	}{
		{name: "gce", format: diskformat.GCE},
		{name: "vmdk", format: diskformat.VMDK},
		{name: "qcow2", format: diskformat.QCOW2},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(data)
			for b.Loop() {
				if err := diskformat.Convert(context.Background(), f, tt.format, io.Discard, diskformat.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
