package awsemu_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elemental-suite/elemental/acctest/awsemu"
)

// TestParentSnapshot: a child starts with its parent's blocks, written
// blocks replace them, ChangedBlocksCount counts only the written ones,
// and encryption follows the EBS direct encryption outcomes.
func TestParentSnapshot(t *testing.T) {
	c := newClients(t, awsemu.Options{})
	ctx := context.Background()
	e := c.ebs()
	data := bytes.Repeat([]byte("parent"), awsemu.BlockSize/6+1)[:awsemu.BlockSize]
	parent := snapshotWith(t, c, data) // data at block 3
	time.Sleep(50 * time.Millisecond)
	refused := []struct {
		name, code string
		in         ebs.StartSnapshotInput
	}{
		{"encrypted with a parent", "ValidationException", ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ParentSnapshotId: &parent, Encrypted: aws.Bool(true)}},
		{"key for a plain parent", "ValidationException", ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ParentSnapshotId: &parent, KmsKeyArn: aws.String("arn:aws:kms:us-east-1:123456789012:key/k")}},
		{"unknown parent", "ValidationException", ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ParentSnapshotId: aws.String("snap-00000000000000fff")}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.StartSnapshot(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
	out, err := e.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ParentSnapshotId: &parent})
	if err != nil {
		t.Fatal(err)
	}
	child := *out.SnapshotId
	other := bytes.Repeat([]byte("child!"), awsemu.BlockSize/6+1)[:awsemu.BlockSize]
	if err := putBlock(ctx, e, child, 5, other, sum(other)); err != nil {
		t.Fatal(err)
	}
	_, err = e.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: &child, ChangedBlocksCount: aws.Int32(2)})
	wantCode(t, err, "ValidationException") // block 3 was inherited, not written
	if _, err := e.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: &child, ChangedBlocksCount: aws.Int32(1), Checksum: sum(sumBytes(other)),
		ChecksumAlgorithm: "SHA256", ChecksumAggregationMethod: "LINEAR"}); err != nil {
		t.Fatalf("CompleteSnapshot with the written block's aggregate: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	list, err := e.ListSnapshotBlocks(ctx, &ebs.ListSnapshotBlocksInput{SnapshotId: &child})
	if err != nil || len(list.Blocks) != 2 {
		t.Fatalf("child lists %+v, %v; want blocks 3 (inherited) and 5", list, err)
	}
	for i, want := range map[int32][]byte{3: data, 5: other} {
		g, err := e.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: &child, BlockIndex: aws.Int32(i), BlockToken: list.Blocks[map[int32]int{3: 0, 5: 1}[i]].BlockToken})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(g.BlockData)
		if !bytes.Equal(got, want) {
			t.Errorf("child block %d differs", i)
		}
	}
	encParent, err := e.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), Encrypted: aws.Bool(true), KmsKeyArn: aws.String("arn:aws:kms:us-east-1:123456789012:key/p")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: encParent.SnapshotId, ChangedBlocksCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	encChild, err := e.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ParentSnapshotId: encParent.SnapshotId})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.ec2("us-east-1").DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{*encChild.SnapshotId}})
	if err != nil || len(d.Snapshots) != 1 {
		t.Fatal(err)
	}
	if s := d.Snapshots[0]; !aws.ToBool(s.Encrypted) || aws.ToString(s.KmsKeyId) != "arn:aws:kms:us-east-1:123456789012:key/p" {
		t.Errorf("child of an encrypted parent: encrypted %v key %q, want the parent's key", aws.ToBool(s.Encrypted), aws.ToString(s.KmsKeyId))
	}
}

// sumBytes is the raw SHA256 of b, for aggregate checksums.
func sumBytes(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
