package installer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// blockSink keeps streamed blocks in a sparse file and records what came.
type blockSink struct {
	f      *os.File
	seen   map[int64]bool
	twice  int
	blocks int
}

func newBlockSink(t *testing.T, size int64) *blockSink {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "streamed.raw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return &blockSink{f: f, seen: map[int64]bool{}}
}

func (s *blockSink) put(off int64, data []byte) error {
	if s.seen[off] {
		s.twice++
	}
	s.seen[off] = true
	s.blocks++
	_, err := s.f.WriteAt(data, off)
	return err
}

// A streamed disk is the file Run writes, byte for byte, for both
// generations and both recovery file systems, with a bounded number of
// blocks buffered.
func TestStreamMatchesFile(t *testing.T) {
	const bs = 512 << 10
	for _, tc := range []struct {
		name       string
		gen        int
		recoveryFS string
	}{{"v2 squashfs", 2, ""}, {"v1 squashfs xz", 1, ""}, {"v2 ext2 recovery", 2, "ext2"}} {
		t.Run(tc.name, func(t *testing.T) {
			// No output directory: a stream writes no file.
			spec := installer.Spec{Source: derivative(t, tc.gen, bigFiles()), SourceDateEpoch: 1700000000, RecoveryFS: tc.recoveryFS}
			p, err := installer.Prepare(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			sink := newBlockSink(t, p.Size())
			if err := p.Blocks(context.Background(), bs, sink.put); err != nil {
				t.Fatalf("Blocks: %v", err)
			}
			res := p.Result()
			if res == nil || res.Streamed == nil || len(res.Outputs) != 0 {
				t.Fatalf("result %+v: want stream stats and no outputs", res)
			}
			if res.Generation != inspect.Generation(tc.gen) {
				t.Errorf("generation %v", res.Generation)
			}
			if sink.twice != 0 {
				t.Errorf("%d blocks came twice", sink.twice)
			}
			st := res.Streamed
			if int64(sink.blocks) != st.Emitted {
				t.Errorf("sink got %d blocks, stats say %d", sink.blocks, st.Emitted)
			}
			// Data blocks go out as they complete: only a handful wait for
			// Close (tables, GPT headers, partial tails).
			if st.PeakPartial > 64 || st.AtClose > 64 || st.Emitted-st.AtClose < 4 {
				t.Errorf("stream stats %+v: want blocks handed on while writing and few buffered", st)
			}
			t.Logf("%d blocks streamed, %d all-zero skipped, %d at close, at most %d buffered", st.Emitted, st.ZeroSkipped, st.AtClose, st.PeakPartial)

			spec.OutputDir = t.TempDir()
			file := build(t, spec)
			if file.DiskSize != p.Size() {
				t.Fatalf("file disk %d bytes, stream %d", file.DiskSize, p.Size())
			}
			if off := firstDifference(t, rawOf(t, file), sink.f.Name()); off >= 0 {
				t.Fatalf("streamed disk differs from the file Run wrote at byte %d", off)
			}
		})
	}
}

// firstDifference compares two files of equal size 1 MiB at a time
// (holes read as zeros) and returns the offset of the first differing
// MiB, or -1.
func firstDifference(t *testing.T, a, b string) int64 {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); ; off += int64(len(ba)) {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return off
		}
		if erra != nil || errb != nil {
			return -1
		}
	}
}

// bigFiles is a layer of 3 MiB of incompressible data, so whole
// blocks complete while the layers stream through.
func bigFiles() imagetest.Layer {
	r := rand.New(rand.NewPCG(1, 2))
	var l imagetest.Layer
	for i := range 3 {
		data := make([]byte, (1<<20)+i*4097+8)
		for j := 0; j+8 <= len(data); j += 8 {
			binary.LittleEndian.PutUint64(data[j:], r.Uint64())
		}
		l = append(l, imagetest.File{Path: fmt.Sprintf("usr/share/big%d", i), Type: rootfs.TypeReg, Mode: 0o644, Data: data[:len(data)-8]})
	}
	return l
}

// A stream needs no output directory; writing files does, and both Run
// and Prepared.Write say so before writing anything.
func TestOutputDirOnlyForFiles(t *testing.T) {
	src := derivative(t, 2)
	if _, err := installer.Run(context.Background(), installer.Spec{Source: src}); err == nil || !strings.Contains(err.Error(), "output directory: required") {
		t.Fatalf("Run without an output directory: %v", err)
	}
	p, err := installer.Prepare(context.Background(), installer.Spec{Source: src})
	if err != nil {
		t.Fatalf("Prepare without an output directory: %v", err)
	}
	defer p.Close()
	if _, err := p.Write(context.Background()); err == nil || !strings.Contains(err.Error(), "output directory: required") {
		t.Fatalf("Write without an output directory: %v", err)
	}
}

// A consumer's error stops the build and comes back; a cancel stops it too.
func TestStreamStops(t *testing.T) {
	boom := errors.New("upload refused")
	for _, tc := range []struct {
		name string
		put  func(cancel func()) func(int64, []byte) error
		want error
	}{
		{"consumer error", func(func()) func(int64, []byte) error {
			return func(int64, []byte) error { return boom }
		}, boom},
		{"cancel", func(cancel func()) func(int64, []byte) error {
			return func(int64, []byte) error { cancel(); return nil }
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p, err := installer.Prepare(ctx, installer.Spec{Source: derivative(t, 2, bigFiles()), OutputDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			_, err = p.Stream(ctx, 512<<10, tc.put(cancel))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Stream: %v, want %v", err, tc.want)
			}
			if _, err := p.Stream(ctx, 512<<10, tc.put(cancel)); err == nil {
				t.Error("a second Stream of one Prepared succeeded")
			}
		})
	}
}
