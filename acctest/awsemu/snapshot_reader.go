package awsemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
)

// Config returns an aws.Config that points every service at an emulator
// served at url, in us-east-1, with the credentials Env sets.
func Config(url string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAEMULATOR", "emulator", ""),
	}
}

// SnapshotData is a snapshot read back through the EBS direct read API.
// Blocks absent from Blocks read as zeros.
type SnapshotData struct {
	ID         string
	VolumeSize int64            // bytes: the listed volume size in GiB, times 1 GiB
	Blocks     map[int64][]byte // fetched blocks by index
	Unread     int              // blocks listed but not fetched (see ReadSnapshotUpTo)
}

// ReadSnapshot reads every block of snapshot id in region back with the
// real SDK client (ListSnapshotBlocks, paged, then GetSnapshotBlock for
// each listed block), checking each block's SHA-256 checksum. It works
// against the emulator and against AWS alike.
func ReadSnapshot(ctx context.Context, cfg aws.Config, region, id string) (*SnapshotData, error) {
	return ReadSnapshotUpTo(ctx, cfg, region, id, 0)
}

// ReadSnapshotUpTo is ReadSnapshot that, when upTo > 0, only fetches the
// blocks that start below byte upTo; it counts the others in Unread.
func ReadSnapshotUpTo(ctx context.Context, cfg aws.Config, region, id string, upTo int64) (*SnapshotData, error) {
	c := ebs.NewFromConfig(cfg, func(o *ebs.Options) { o.Region = region })
	out := &SnapshotData{ID: id, Blocks: map[int64][]byte{}}
	var token *string
	for {
		page, err := c.ListSnapshotBlocks(ctx, &ebs.ListSnapshotBlocksInput{SnapshotId: &id, NextToken: token, MaxResults: aws.Int32(1000)})
		if err != nil {
			return nil, fmt.Errorf("listing blocks of snapshot %s: %w", id, err)
		}
		out.VolumeSize = aws.ToInt64(page.VolumeSize) * gib
		for _, b := range page.Blocks {
			idx := int64(aws.ToInt32(b.BlockIndex))
			if upTo > 0 && idx*BlockSize >= upTo {
				out.Unread++
				continue
			}
			if out.Blocks[idx], err = getBlock(ctx, c, id, b.BlockIndex, b.BlockToken); err != nil {
				return nil, err
			}
		}
		if token = page.NextToken; token == nil {
			return out, nil
		}
	}
}

// getBlock fetches one block and checks it against the checksum the
// response carries.
func getBlock(ctx context.Context, c *ebs.Client, id string, idx *int32, token *string) ([]byte, error) {
	out, err := c.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: &id, BlockIndex: idx, BlockToken: token})
	if err != nil {
		return nil, fmt.Errorf("getting block %d of snapshot %s: %w", aws.ToInt32(idx), id, err)
	}
	defer out.BlockData.Close()
	data, err := io.ReadAll(out.BlockData)
	if err != nil {
		return nil, fmt.Errorf("reading block %d of snapshot %s: %w", aws.ToInt32(idx), id, err)
	}
	sum := sha256.Sum256(data)
	if got, want := base64.StdEncoding.EncodeToString(sum[:]), aws.ToString(out.Checksum); got != want {
		return nil, fmt.Errorf("block %d of snapshot %s: checksum %s, response says %q", aws.ToInt32(idx), id, got, want)
	}
	return data, nil
}

// Compare says how the snapshot differs from disk, or returns nil when the
// volume is exactly the disk: every fetched block is BlockSize bytes, the
// blocks over the disk hold its bytes (absent ones: zeros in the disk;
// zeros past its end), blocks past the disk hold only zeros, and the
// volume is the disk rounded up to whole GiB.
func (s *SnapshotData) Compare(disk []byte) error {
	return s.CompareReaderAt(bytes.NewReader(disk), int64(len(disk)))
}

// CompareFile is Compare for the raw disk file at path, read one block at
// a time (a default-sized disk is GiBs, mostly holes).
func (s *SnapshotData) CompareFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return s.CompareReaderAt(f, fi.Size())
}

// CompareReaderAt is Compare for a disk of size bytes read from r (a raw
// disk file, say), one block at a time.
func (s *SnapshotData) CompareReaderAt(r io.ReaderAt, size int64) error {
	if want := (size + gib - 1) / gib * gib; s.VolumeSize != want {
		return fmt.Errorf("snapshot %s: volume of %d bytes, want %d for a %d-byte disk", s.ID, s.VolumeSize, want, size)
	}
	zero := make([]byte, BlockSize)
	want := make([]byte, BlockSize)
	for i, b := range s.Blocks {
		if len(b) != BlockSize {
			return fmt.Errorf("snapshot %s: block %d holds %d bytes, want %d", s.ID, i, len(b), BlockSize)
		}
		if i*BlockSize >= size && !bytes.Equal(b, zero) {
			return fmt.Errorf("snapshot %s: block %d lies past the end of the %d-byte disk and holds data", s.ID, i, size)
		}
	}
	for i := int64(0); i*BlockSize < size; i++ {
		clear(want)
		if _, err := r.ReadAt(want[:min(BlockSize, size-i*BlockSize)], i*BlockSize); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading block %d of the disk: %w", i, err)
		}
		got, ok := s.Blocks[i]
		if !ok {
			got = zero
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("snapshot %s: block %d (held: %v) differs from the disk", s.ID, i, ok)
		}
	}
	return nil
}
