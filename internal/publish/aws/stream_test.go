package aws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/installer/installertest"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// streamSource writes a small v2 derivative with a few MiB of random
// files (so blocks complete while the layers stream) as an OCI layout.
func streamSource(t *testing.T) string {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	var big imagetest.Layer
	for i := range 4 {
		data := make([]byte, (3<<20)+i*12345)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		big = append(big, imagetest.File{Path: fmt.Sprintf("usr/share/blob%d", i), Type: rootfs.TypeReg, Mode: 0o644, Data: data})
	}
	return imagetest.WriteLayoutRef(t, append(imagetest.Derivative(2, "A"), big)...)
}

// streamSpec is the build both the streamed and the file disk use.
func streamSpec(src, out string) installer.Spec {
	return installer.Spec{Source: src, SourceDateEpoch: 1700000000, OutputDir: out}
}

// fileDisk builds the same disk as a file with installer.Run, for
// comparison.
func fileDisk(t *testing.T, src string) string {
	t.Helper()
	_, path := installertest.Reference(t, streamSpec(src, t.TempDir()))
	return path
}

// spillRE matches the layer spill a build keeps between its passes
// (internal/oci): layer data, never the disk.
var spillRE = regexp.MustCompile(`/elemental-spill-[0-9]+/layer-[0-9]+\.s2$`)

// noFiles fails if dir holds any regular file but, when spill is true,
// the build's layer spill.
func noFiles(t *testing.T, dir string, spill bool) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !(spill && spillRE.MatchString(p)) {
			t.Errorf("streaming left or wrote %s", p)
		}
		return nil
	})
}

// TestPublishStreamed builds a derivative straight into a snapshot, with
// 5% injected faults, and reads the snapshot back: it is the disk
// installer.Run writes as a file, byte for byte, and the upload sent
// exactly its non-zero blocks, each once.
func TestPublishStreamed(t *testing.T) {
	src := streamSource(t)
	path := fileDisk(t, src)
	disk, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	size, err := disk.Seek(0, io.SeekEnd)
	if err != nil {
		t.Fatal(err)
	}
	emu, cfg := newEmulator(t, awsemu.Options{Faults: awsemu.Faults{
		Rate:  map[string]float64{"*": 0.05},
		Kinds: []awsemu.FaultKind{awsemu.Fault500, awsemu.Fault503, awsemu.FaultThrottle, awsemu.FaultReset},
		Seed:  4,
	}})
	out := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	p, err := installer.Prepare(context.Background(), streamSpec(src, filepath.Join(out, "disk")))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	spec := faultSpec("elemental-streamed")
	res, err := publish.PublishSource(context.Background(), cfg, p, spec, nil)
	if err != nil {
		t.Fatalf("PublishSource of a streamed build: %v", err)
	}
	emu.SetFaults(awsemu.Faults{})
	noFiles(t, out, false)
	noFiles(t, tmp, true)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	noFiles(t, tmp, false)
	if p.Result() == nil || p.Result().Streamed == nil {
		t.Fatalf("no stream result: %+v", p.Result())
	}
	for r := range res.AMIs {
		if err := readSnapshot(t, cfg, r, res.Snapshots[r], 0).CompareFile(path); err != nil {
			t.Fatal(err)
		}
		checkImage(t, cfg, r, res.AMIs[r], res.Snapshots[r], spec)
	}
	// Exactly the blocks of the disk that hold a non-zero byte went up:
	// no more than the file path, which sends every block its data
	// extents touch.
	var nonZero int64
	blk := make([]byte, publish.BlockSize)
	for off := int64(0); off < size; off += publish.BlockSize {
		n, err := disk.ReadAt(blk, off)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if !allZero(blk[:n]) {
			nonZero++
		}
	}
	alloc := allocated(t, path)
	if res.BlocksUploaded != nonZero || res.BytesUploaded != nonZero*publish.BlockSize {
		t.Errorf("uploaded %d blocks (%d bytes), the disk has %d non-zero blocks", res.BlocksUploaded, res.BytesUploaded, nonZero)
	}
	t.Logf("disk %d MiB, allocated %d KiB, uploaded %d KiB in %d blocks; stream %+v",
		size>>20, alloc>>10, res.BytesUploaded>>10, res.BlocksUploaded, *p.Result().Streamed)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestPublishStreamedStops fails the upload for good, or cancels it, while
// the disk is still being written: the build stops, the error comes back
// and the emulator holds nothing.
func TestPublishStreamedStops(t *testing.T) {
	src := streamSource(t)
	for _, tc := range []struct {
		name   string
		faults awsemu.Faults
		cancel bool
		want   error
	}{
		{name: "fatal PutSnapshotBlock", faults: awsemu.Faults{Rate: map[string]float64{"PutSnapshotBlock": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultFatal}}},
		{name: "cancel mid upload", cancel: true, want: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, cfg := newEmulator(t, awsemu.Options{Delay: 200 * time.Millisecond, Faults: tc.faults})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p, err := installer.Prepare(ctx, streamSpec(src, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			spec := faultSpec("elemental-stream-stop")
			spec.UploadConcurrency = 2
			seen := 0
			_, err = publish.PublishSource(ctx, cfg, p, spec, func(e publish.Event) {
				if e.Stage == "upload" && tc.cancel {
					if seen++; seen == 2 {
						cancel()
					}
				}
			})
			if err == nil {
				t.Fatal("PublishSource succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if p.Result() != nil {
				t.Error("a stopped stream has a result")
			}
			mustEmpty(t, emu)
		})
	}
}
