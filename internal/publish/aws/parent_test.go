package aws_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// piece is a run of a layered test disk: random data from its own seed
// (so two disks can share it), or explicit zeros.
type piece struct {
	off, len int64
	seed     uint64
	zeros    bool
}

// makeLayered writes a sparse disk of size bytes holding pieces and
// returns its path and contents.
func makeLayered(t testing.TB, size int64, pieces []piece) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, p := range pieces {
		buf := make([]byte, p.len)
		if !p.zeros {
			rng := rand.New(rand.NewPCG(p.seed, 7))
			for i := 0; i+8 <= len(buf); i += 8 {
				binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
			}
		}
		if _, err := f.WriteAt(buf, p.off); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// dataBlocks counts the EBS blocks of disk that are not all zero.
func dataBlocks(disk []byte) int64 {
	var n int64
	zero := make([]byte, awsemu.BlockSize)
	for off := 0; off < len(disk); off += awsemu.BlockSize {
		b := disk[off:min(len(disk), off+awsemu.BlockSize)]
		if !bytes.Equal(b, zero[:len(b)]) {
			n++
		}
	}
	return n
}

// TestPublishIncremental publishes version A, then version B with A's
// snapshot as parent, and reads B back block by block. B shares some data
// with A, changes some, adds some, and has holes and explicit zeros where
// A has data: those must be written as zeros, or B would inherit A's data.
func TestPublishIncremental(t *testing.T) {
	t.Parallel()
	const size = 64 * mib
	shared := []piece{{0, 1 * mib, 1, false}, {4 * mib, 3 * mib, 2, false}, {size - 1*mib, 1 * mib, 8, false}}
	pathA, diskA := makeLayered(t, size, append(shared,
		piece{10 * mib, 1 * mib, 3, false}, // B: hole
		piece{16 * mib, 1 * mib, 4, false}, // B: other data
		piece{20 * mib, 1 * mib, 6, false}, // B: explicit zeros
	))
	pathB, diskB := makeLayered(t, size, append(shared,
		piece{16 * mib, 1 * mib, 5, false},
		piece{20 * mib, 1 * mib, 0, true},
		piece{30 * mib, 256 << 10, 7, false}, // new in B
	))
	tests := []struct {
		name                    string
		faults                  awsemu.Faults
		wantPut, wantUnchanged  int64
		wantPutWithoutInherited bool
	}{
		// 10 shared blocks are inherited; 2 changed + 1 new data blocks
		// and 2+2 zero blocks over A's data are written.
		{name: "checksums compared", wantPut: 7, wantUnchanged: 10},
		// The parent's checksums cannot be read: every block is written
		// (correct, just not incremental).
		{name: "parent unreadable", faults: awsemu.Faults{Rate: map[string]float64{"GetSnapshotBlock": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultFatal}},
			wantPut: 17, wantUnchanged: 0},
		// Transient faults on the checksum reads are retried.
		{name: "parent flaky", faults: awsemu.Faults{Rate: map[string]float64{"GetSnapshotBlock": 0.3}, Seed: 5},
			wantPut: 7, wantUnchanged: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, cfg := newEmulator(t, awsemu.Options{})
			ctx := context.Background()
			specA := publish.Spec{Name: "elemental-a", Source: "registry.example.com/derivative:a", SourceDigest: "sha256:aaaa"}
			resA, err := publish.Publish(ctx, cfg, pathA, specA, nil)
			if err != nil {
				t.Fatalf("Publish A: %v", err)
			}
			snapA := resA.Snapshots["us-east-1"]
			checkSnapshotTags(t, cfg, snapA, map[string]string{publish.TagSource: specA.Source,
				publish.TagSourceDigest: specA.SourceDigest, publish.TagSuiteVersion: publish.BuildVersion()})
			specB := publish.Spec{Name: "elemental-b", ParentSnapshotID: snapA, UploadConcurrency: 4, Provenance: provenance}
			emu.SetFaults(tc.faults)
			resB, err := publish.Publish(ctx, cfg, pathB, specB, nil)
			emu.SetFaults(awsemu.Faults{})
			if err != nil {
				t.Fatalf("Publish B over %s: %v", snapA, err)
			}
			snapB := resB.Snapshots["us-east-1"]
			checkVolume(t, readSnapshot(t, cfg, "us-east-1", snapB, 0), diskB)
			checkVolume(t, readSnapshot(t, cfg, "us-east-1", snapA, 0), diskA)
			if n := dataBlocks(diskB); resB.BlocksUploaded >= n && tc.wantUnchanged > 0 {
				t.Errorf("put %d blocks, not fewer than B's %d data blocks", resB.BlocksUploaded, n)
			}
			if resB.BlocksUploaded != tc.wantPut || resB.BlocksInherited != tc.wantUnchanged {
				t.Errorf("put %d blocks and kept %d from the parent, want %d and %d",
					resB.BlocksUploaded, resB.BlocksInherited, tc.wantPut, tc.wantUnchanged)
			}
			if resB.BytesSaved != resB.BlocksInherited*awsemu.BlockSize || resB.BytesUploaded != resB.BlocksUploaded*awsemu.BlockSize {
				t.Errorf("bytes saved %d, uploaded %d do not match the block counts", resB.BytesSaved, resB.BytesUploaded)
			}
			if err := publish.Delete(ctx, cfg, resB, true); err != nil {
				t.Fatal(err)
			}
			if err := publish.Delete(ctx, cfg, resA, true); err != nil {
				t.Fatal(err)
			}
			mustEmpty(t, emu)
		})
	}
}

// TestPublishIncrementalEncryption: a child takes its parent's encryption
// (the EBS direct APIs refuse Encrypted with a parent), so a spec whose
// encryption differs from the parent's is refused before anything is
// created.
func TestPublishIncrementalEncryption(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	ctx := context.Background()
	plain, encrypted := emptySnapshot(t, cfg, false), emptySnapshot(t, cfg, true)
	path, _ := makeDisk(t, 64*mib, defaultChunks(64*mib), 4)
	tests := []struct {
		name      string
		parent    string
		encrypted bool
	}{
		{"encrypted child of a plain parent", plain, true},
		{"plain child of an encrypted parent", encrypted, false},
		{"missing parent", "snap-00000000000000fff", false},
	}
	before := emu.Resources()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := publish.Spec{Name: "elemental-child", ParentSnapshotID: tc.parent, Encrypted: tc.encrypted}
			_, err := publish.Publish(ctx, cfg, path, spec, nil)
			if !errors.Is(err, publish.ErrInvalidSpec) {
				t.Fatalf("Publish = %v, want ErrInvalidSpec", err)
			}
			if after := emu.Resources(); !equalResources(before, after) {
				t.Fatalf("refused Publish left resources: %+v", after)
			}
		})
	}
	_, err := publish.Publish(ctx, cfg, path, publish.Spec{Name: "elemental-s3", ParentSnapshotID: plain, ImportMethod: publish.ImportS3, S3Bucket: "b"}, nil)
	if !errors.Is(err, publish.ErrInvalidSpec) {
		t.Fatalf("S3 import with a parent = %v, want ErrInvalidSpec", err)
	}
}

// emptySnapshot makes a completed 1 GiB snapshot with no blocks.
func emptySnapshot(t *testing.T, cfg aws.Config, encrypted bool) string {
	t.Helper()
	ctx := context.Background()
	c := ebs.NewFromConfig(cfg)
	out, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), Encrypted: aws.Bool(encrypted)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: out.SnapshotId, ChangedBlocksCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, cfg, aws.ToString(out.SnapshotId))
	return aws.ToString(out.SnapshotId)
}

// waitCompleted polls until the snapshot is completed.
func waitCompleted(t *testing.T, cfg aws.Config, id string) {
	t.Helper()
	for range 200 {
		out, err := ec2c(cfg, cfg.Region).DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Snapshots) == 1 && out.Snapshots[0].State == "completed" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("snapshot %s did not complete", id)
}

// checkSnapshotTags wants the snapshot's tags to be want plus a run tag.
func checkSnapshotTags(t *testing.T, cfg aws.Config, id string, want map[string]string) {
	t.Helper()
	out, err := ec2c(cfg, cfg.Region).DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if err != nil || len(out.Snapshots) != 1 {
		t.Fatalf("DescribeSnapshots %s: %v", id, err)
	}
	checkTags(t, id, out.Snapshots[0].Tags, want)
}
