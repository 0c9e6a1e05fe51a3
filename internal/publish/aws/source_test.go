package aws_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// memSource is a disk held in memory that yields its data blocks in a
// shuffled order, as a stream from the installer would: no file at all.
type memSource struct {
	disk  []byte
	seed  uint64
	twice bool // yield the first block again at the end
}

func (m memSource) Name() string { return "memory disk" }
func (m memSource) Size() int64  { return int64(len(m.disk)) }

func (m memSource) Blocks(ctx context.Context, blockSize int64, fn func(int64, []byte) error) error {
	var offs []int64
	zero := make([]byte, blockSize)
	for off := int64(0); off < int64(len(m.disk)); off += blockSize {
		if !bytes.Equal(m.block(off, blockSize), zero) {
			offs = append(offs, off)
		}
	}
	rand.New(rand.NewPCG(m.seed, 1)).Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	if m.twice {
		offs = append(offs, offs[0])
	}
	for _, off := range offs {
		if err := fn(off, m.block(off, blockSize)); err != nil {
			return err
		}
	}
	return nil
}

func (m memSource) block(off, size int64) []byte {
	b := make([]byte, size)
	copy(b, m.disk[off:min(int64(len(m.disk)), off+size)])
	return b
}

// TestPublishSource publishes from a source that is not a file and yields
// blocks out of order, on its own and as the child of a parent snapshot;
// the snapshots read back equal the disks.
func TestPublishSource(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	ctx := context.Background()
	_, diskA := makeDisk(t, 48*mib+12345, defaultChunks(48*mib), 31) // not a whole number of blocks
	resA, err := publish.PublishSource(ctx, cfg, memSource{disk: diskA, seed: 1}, publish.Spec{Name: "elemental-mem-a"}, nil)
	if err != nil {
		t.Fatalf("PublishSource A: %v", err)
	}
	checkVolume(t, readSnapshot(t, cfg, "us-east-1", resA.Snapshots["us-east-1"], 0), diskA)

	diskB := bytes.Clone(diskA)
	clear(diskB[:1*mib])                                     // A's data, now zeros: must be written as zeros
	copy(diskB[30*mib:], bytes.Repeat([]byte("B"), 700<<10)) // new data
	spec := publish.Spec{Name: "elemental-mem-b", ParentSnapshotID: resA.Snapshots["us-east-1"]}
	resB, err := publish.PublishSource(ctx, cfg, memSource{disk: diskB, seed: 2}, spec, nil)
	if err != nil {
		t.Fatalf("PublishSource B: %v", err)
	}
	checkVolume(t, readSnapshot(t, cfg, "us-east-1", resB.Snapshots["us-east-1"], 0), diskB)
	if resB.BlocksInherited == 0 || resB.BlocksUploaded >= dataBlocks(diskB) {
		t.Errorf("B put %d blocks and inherited %d, for %d data blocks", resB.BlocksUploaded, resB.BlocksInherited, dataBlocks(diskB))
	}
	for _, res := range []*publish.Result{resB, resA} {
		if err := publish.Delete(ctx, cfg, res, true); err != nil {
			t.Fatal(err)
		}
	}
	mustEmpty(t, emu)

	tests := []struct {
		name string
		src  memSource
		spec publish.Spec
		want string
	}{
		{"block twice", memSource{disk: diskA, twice: true}, publish.Spec{Name: "elemental-twice"}, "came twice"},
		{"s3 import needs random access", memSource{disk: diskA}, publish.Spec{Name: "elemental-s3", ImportMethod: publish.ImportS3, S3Bucket: "b"}, "random-access"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := publish.PublishSource(ctx, cfg, tc.src, tc.spec, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PublishSource = %v, want an error saying %q", err, tc.want)
			}
			if tc.spec.ImportMethod == publish.ImportS3 && !errors.Is(err, publish.ErrInvalidSpec) {
				t.Errorf("err %v is not ErrInvalidSpec", err)
			}
			mustEmpty(t, emu)
		})
	}
}
