package aws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// parent is the parent snapshot of an incremental upload: its size,
// encryption and block list. A child snapshot inherits every block it
// does not write, so the upload must write zeros where the parent has a
// block and the disk has none, and may skip a block whose checksum equals
// the parent's.
type parent struct {
	id        string
	volGiB    int64
	encrypted bool
	kmsKey    string
	tokens    map[int32]string // block index → block token
	sorted    []int32
}

// loadParent describes the parent snapshot and lists its blocks. The
// parent must be completed and its encryption must match the spec: the
// EBS direct APIs give a child the parent's encryption (Encrypted may not
// be sent with a parent), so an encrypted parent cannot have a plain
// child and a plain parent cannot have an encrypted one.
func (p *publisher) loadParent(ctx context.Context, c *ebs.Client) (*parent, error) {
	id := p.spec.ParentSnapshotID
	d, err := p.ec2(p.spec.Region).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	switch {
	case notFound(err):
		return nil, fmt.Errorf("parent snapshot %s does not exist in %s: %w: %w", id, p.spec.Region, ErrInvalidSpec, err)
	case err != nil:
		return nil, fmt.Errorf("describing parent snapshot %s in %s: %w", id, p.spec.Region, err)
	}
	if len(d.Snapshots) != 1 || d.Snapshots[0].State != "completed" {
		return nil, fmt.Errorf("parent snapshot %s is not a completed snapshot of %s: %w", id, p.spec.Region, ErrInvalidSpec)
	}
	par := &parent{id: id, encrypted: aws.ToBool(d.Snapshots[0].Encrypted), kmsKey: aws.ToString(d.Snapshots[0].KmsKeyId), tokens: map[int32]string{}}
	switch {
	case par.encrypted && !p.spec.Encrypted:
		return nil, fmt.Errorf("parent snapshot %s is encrypted, so its child would be too; set Encrypted: %w", id, ErrInvalidSpec)
	case !par.encrypted && p.spec.Encrypted:
		return nil, fmt.Errorf("parent snapshot %s is not encrypted and a child cannot be (copy the parent encrypted first): %w", id, ErrInvalidSpec)
	}
	var token *string
	for {
		out, err := c.ListSnapshotBlocks(ctx, &ebs.ListSnapshotBlocksInput{SnapshotId: &id, NextToken: token, MaxResults: aws.Int32(10000)})
		if err != nil {
			return nil, fmt.Errorf("listing blocks of parent snapshot %s: %w", id, err)
		}
		par.volGiB = aws.ToInt64(out.VolumeSize)
		for _, b := range out.Blocks {
			par.tokens[aws.ToInt32(b.BlockIndex)] = aws.ToString(b.BlockToken)
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	for i := range par.tokens {
		par.sorted = append(par.sorted, i)
	}
	slices.Sort(par.sorted)
	return par, nil
}

// volumeGiB is the size of the new snapshot: the disk's, or the parent's
// when larger (a child is never smaller than its parent). It raises a
// defaulted AMI volume size to match.
func (p *publisher) volumeGiB(diskGiB int64, par *parent) (int64, error) {
	vol := diskGiB
	if par != nil {
		vol = max(vol, par.volGiB)
	}
	if int64(p.spec.VolumeSizeGiB) < vol {
		if !p.volumeDefaulted {
			return 0, fmt.Errorf("volume size %d GiB is smaller than the %d GiB of parent snapshot %s: %w", p.spec.VolumeSizeGiB, vol, par.id, ErrInvalidSpec)
		}
		p.spec.VolumeSizeGiB = int32(vol)
	}
	return vol, nil
}

// fill calls zero for every block of the volume the source did not yield
// (seen) that still needs a zero block: every one when encrypted (absent
// blocks of an encrypted snapshot do not read back as zeros), and
// otherwise those the parent holds (they would be inherited).
func (u *uploader) fill(seen bitmap, volBlocks int64, zero func(int64) error) error {
	if u.p.spec.Encrypted {
		for i := range volBlocks {
			if !seen.has(i) {
				if err := zero(i); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if u.parent == nil {
		return nil
	}
	for _, i := range u.parent.sorted {
		if !seen.has(int64(i)) {
			if err := zero(int64(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// bitmap is a set of block indices.
type bitmap []uint64

func newBitmap(n int64) bitmap    { return make(bitmap, (n+63)/64) }
func (b bitmap) set(i int64)      { b[i/64] |= 1 << (i % 64) }
func (b bitmap) has(i int64) bool { return b[i/64]&(1<<(i%64)) != 0 }

// unchanged reports whether the parent holds block b with checksum sum,
// so the child can leave it out. The parent's checksum comes from
// GetSnapshotBlock (its x-amz-Checksum header); the body is drained so
// the connection is reused. A lookup that keeps failing is not an error:
// the block is then written, which is always correct.
func (u *uploader) unchanged(ctx context.Context, index int32, sum [sha256.Size]byte) (bool, error) {
	token, ok := u.parent.tokens[index]
	if !ok {
		return false, nil
	}
	want := base64.StdEncoding.EncodeToString(sum[:])
	var same bool
	err := withRetries(ctx, blockAttempts, 250*time.Millisecond, u.p.spec.RequestTimeout, func(ctx context.Context) error {
		out, err := u.c.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{
			SnapshotId: aws.String(u.parent.id), BlockIndex: aws.Int32(index), BlockToken: aws.String(token),
		})
		if err != nil {
			return err
		}
		defer out.BlockData.Close()
		if _, err := io.Copy(io.Discard, out.BlockData); err != nil {
			return err
		}
		same = aws.ToString(out.Checksum) == want && out.ChecksumAlgorithm == "SHA256"
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return false, fmt.Errorf("reading checksum of block %d of parent snapshot %s: %w", index, u.parent.id, err)
	}
	return err == nil && same, nil
}
