package installer_test

import (
	"context"
	"testing"

	"github.com/elemental-suite/elemental/bench/synth"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

// BenchmarkRun builds a raw disk from a 64 MiB synthetic derivative
// (bench/synth) per iteration: both passes over the layers, every
// filesystem written, GPT, fsync. Bytes are the file data of the layers.
func BenchmarkRun(b *testing.B) {
	im, err := synth.Ensure(b.TempDir(), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	b.SetBytes(im.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		_, err := installer.Run(context.Background(), installer.Spec{
			Source: im.Ref(), OutputDir: out, Formats: []diskformat.Format{diskformat.Raw},
			Overwrite: true, SourceDateEpoch: 1700000000,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
