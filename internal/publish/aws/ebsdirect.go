package aws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// BlockSize is the EBS direct API block size.
const BlockSize = 512 << 10

// blockAttempts bounds the tries of one block request (each of which the
// SDK retryer may retry too).
const blockAttempts = 8

var (
	zeroBlock = make([]byte, BlockSize)
	zeroSum   = sha256.Sum256(zeroBlock)
)

// block is one PutSnapshotBlock to do.
type block struct {
	index int32
	data  []byte // BlockSize bytes; zeroBlock for an explicit zero block
}

// uploadDirect writes the disk into a new snapshot with the EBS direct
// APIs (incrementally over Spec.ParentSnapshotID when set) and waits until
// the snapshot is completed.
func (p *publisher) uploadDirect(ctx context.Context, src Source) (string, error) {
	c := p.ebs()
	var par *parent
	if p.spec.ParentSnapshotID != "" {
		var err error
		if par, err = p.loadParent(ctx, c); err != nil {
			return "", err
		}
	}
	volGiB, err := p.volumeGiB((src.Size()+gib-1)/gib, par)
	if err != nil {
		return "", err
	}
	id, err := p.startSnapshot(ctx, c, volGiB)
	if err != nil {
		return "", err
	}
	total, err := p.uploadTotal(src, volGiB, par)
	if err != nil {
		return "", err
	}
	u := &uploader{p: p, c: c, snap: id, total: total, parent: par, sums: map[int32][sha256.Size]byte{}}
	if err := u.run(ctx, src, volGiB*gib/BlockSize); err != nil {
		return "", err
	}
	if err := u.complete(ctx); err != nil {
		return "", err
	}
	return id, p.waitSnapshot(ctx, p.spec.Region, id)
}

// startSnapshot starts the snapshot. With a parent, Encrypted is not sent
// (the EBS direct APIs reject it; the child takes the parent's
// encryption) and KmsKeyArn only re-keys an encrypted parent's child.
func (p *publisher) startSnapshot(ctx context.Context, c *ebs.Client, volGiB int64) (string, error) {
	in := &ebs.StartSnapshotInput{
		VolumeSize:  aws.Int64(volGiB),
		Tags:        ebsTags(p.spec.snapshotTags(p.run)),
		Timeout:     aws.Int32(int32(p.spec.SnapshotTimeout / time.Minute)),
		ClientToken: aws.String(p.run + "-snapshot"),
	}
	if p.spec.Description != "" { // the API refuses an empty one
		in.Description = aws.String(p.spec.Description)
	}
	if p.spec.ParentSnapshotID != "" {
		in.ParentSnapshotId = aws.String(p.spec.ParentSnapshotID)
	} else if p.spec.Encrypted {
		in.Encrypted = aws.Bool(true)
	}
	if p.spec.Encrypted && p.spec.KMSKeyID != "" {
		in.KmsKeyArn = aws.String(p.spec.KMSKeyID)
	}
	out, err := c.StartSnapshot(ctx, in)
	if err != nil {
		return "", fmt.Errorf("starting snapshot in %s: %w", p.spec.Region, err)
	}
	id := aws.ToString(out.SnapshotId)
	p.remember(p.spec.Region, id)
	p.emit(Event{Stage: "snapshot", Region: p.spec.Region, ID: id})
	return id, nil
}

// uploadTotal is the number of bytes the upload will go through: every
// block of the volume when encrypted, else the source's data size (or its
// size) plus the parent's blocks (an upper bound: all-zero blocks are
// skipped, and blocks may be counted twice).
func (p *publisher) uploadTotal(src Source, volGiB int64, par *parent) (int64, error) {
	vol := volGiB * gib
	if p.spec.Encrypted {
		return vol, nil
	}
	n := src.Size()
	if ds, ok := src.(dataSizer); ok {
		var err error
		if n, err = ds.DataSize(); err != nil {
			return 0, fmt.Errorf("sizing the data of %s: %w", src.Name(), err)
		}
	}
	if par != nil {
		n = min(n+int64(len(par.sorted))*BlockSize, vol)
	}
	return n, nil
}

func ebsTags(m map[string]string) []ebstypes.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ebstypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ebstypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// uploader runs the PutSnapshotBlock worker pool of one snapshot.
type uploader struct {
	p      *publisher
	c      *ebs.Client
	snap   string
	total  int64
	parent *parent // nil without a parent snapshot

	mu        sync.Mutex
	sums      map[int32][sha256.Size]byte
	bytes     int64
	blocks    int64
	inherited int64 // blocks found unchanged in the parent
	done      int64 // bytes written or inherited, for progress
}

// run streams the disk's blocks to the workers, then the zero blocks
// that fill requires.
func (u *uploader) run(ctx context.Context, src Source, volBlocks int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan block, 2*u.p.spec.UploadConcurrency)
	pool := sync.Pool{New: func() any { return make([]byte, BlockSize) }}
	var wg sync.WaitGroup
	for range u.p.spec.UploadConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				if ctx.Err() == nil {
					if err := u.put(ctx, b); err != nil {
						cancel(err)
					}
				}
				if len(b.data) > 0 && &b.data[0] != &zeroBlock[0] {
					pool.Put(b.data) //nolint:staticcheck // slices are fine in this pool
				}
			}
		}()
	}
	send := func(b block) error {
		select {
		case jobs <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	seen := newBitmap(volBlocks)
	err := src.Blocks(ctx, BlockSize, func(off int64, data []byte) error {
		if err := u.accept(seen, volBlocks, src, off, data); err != nil {
			return err
		}
		idx := off / BlockSize
		seen.set(idx)
		buf := pool.Get().([]byte)
		copy(buf, data)
		return send(block{int32(idx), buf})
	})
	if err == nil && needsBIOSCode(u.p.spec.BootMode) && !seen.has(0) {
		err = errNoBIOSCode(u.p.spec.BootMode, src.Name()) // an all-zero first block
	}
	if err == nil {
		err = u.fill(seen, volBlocks, func(i int64) error { return send(block{int32(i), zeroBlock}) })
	}
	close(jobs)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		err = cause
	}
	if err != nil {
		return fmt.Errorf("uploading blocks to snapshot %s: %w", u.snap, err)
	}
	return nil
}

// accept checks a block the source yielded: aligned, inside the volume,
// new, and (for legacy-bios and uefi-preferred) a first block with MBR
// boot code.
func (u *uploader) accept(seen bitmap, volBlocks int64, src Source, off int64, data []byte) error {
	idx := off / BlockSize
	switch {
	case off%BlockSize != 0 || len(data) != BlockSize || idx < 0 || idx >= volBlocks:
		return fmt.Errorf("block of %d bytes at offset %d is not a block of the %d-block volume", len(data), off, volBlocks)
	case seen.has(idx):
		return fmt.Errorf("block %d came twice", idx)
	case idx == 0 && needsBIOSCode(u.p.spec.BootMode) && !hasBIOSCode(data):
		return errNoBIOSCode(u.p.spec.BootMode, src.Name())
	}
	return nil
}

// put writes one block with its checksum, retrying transient failures
// beyond what the SDK retryer already did. A block the parent holds with
// the same checksum is left out.
func (u *uploader) put(ctx context.Context, b block) error {
	sum := zeroSum
	if &b.data[0] != &zeroBlock[0] {
		sum = sha256.Sum256(b.data)
	}
	if u.parent != nil {
		same, err := u.unchanged(ctx, b.index, sum)
		if err != nil {
			return err
		}
		if same {
			u.count(func() { u.inherited++ })
			return nil
		}
	}
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	pct := int32(0)
	if u.total > 0 {
		pct = int32(min(100, (int64(b.index)*BlockSize)*100/u.total))
	}
	err := withRetries(ctx, blockAttempts, 250*time.Millisecond, u.p.spec.RequestTimeout, func(ctx context.Context) error {
		_, err := u.c.PutSnapshotBlock(ctx, &ebs.PutSnapshotBlockInput{
			SnapshotId:        aws.String(u.snap),
			BlockIndex:        aws.Int32(b.index),
			BlockData:         bytes.NewReader(b.data),
			DataLength:        aws.Int32(BlockSize),
			Checksum:          aws.String(b64),
			ChecksumAlgorithm: ebstypes.ChecksumAlgorithmChecksumAlgorithmSha256,
			Progress:          aws.Int32(pct),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("putting block %d: %w", b.index, err)
	}
	u.count(func() {
		u.sums[b.index] = sum
		u.bytes += BlockSize
		u.blocks++
	})
	return nil
}

// count updates the counters under the lock and reports progress.
func (u *uploader) count(update func()) {
	u.mu.Lock()
	update()
	u.done += BlockSize
	done := u.done
	u.mu.Unlock()
	u.p.emit(Event{Stage: "upload", Region: u.p.spec.Region, ID: u.snap, Done: done, Total: u.total})
}

// complete seals the snapshot with the changed-block count and the
// LINEAR aggregate of the block checksums (SHA256 of the per-block SHA256
// sums in block order).
func (u *uploader) complete(ctx context.Context) error {
	idx := make([]int32, 0, len(u.sums))
	for i := range u.sums {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	h := sha256.New()
	for _, i := range idx {
		s := u.sums[i]
		h.Write(s[:])
	}
	_, err := u.c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{
		SnapshotId:                aws.String(u.snap),
		ChangedBlocksCount:        aws.Int32(int32(len(idx))),
		Checksum:                  aws.String(base64.StdEncoding.EncodeToString(h.Sum(nil))),
		ChecksumAlgorithm:         ebstypes.ChecksumAlgorithmChecksumAlgorithmSha256,
		ChecksumAggregationMethod: ebstypes.ChecksumAggregationMethodChecksumAggregationLinear,
	})
	if err != nil {
		return fmt.Errorf("completing snapshot %s: %w", u.snap, err)
	}
	u.p.mu.Lock()
	u.p.res.BytesUploaded += u.bytes
	u.p.res.BlocksUploaded += u.blocks
	u.p.res.BlocksInherited += u.inherited
	u.p.res.BytesSaved += u.inherited * BlockSize
	u.p.mu.Unlock()
	return nil
}

// waitSnapshot polls DescribeSnapshots until the snapshot is completed.
func (p *publisher) waitSnapshot(ctx context.Context, region, id string) error {
	return poll(ctx, 2*time.Hour, "snapshot "+id, func(ctx context.Context) (bool, error) {
		out, err := p.ec2(region).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			return false, err
		}
		if len(out.Snapshots) != 1 {
			return false, fmt.Errorf("snapshot %s not listed", id)
		}
		switch s := out.Snapshots[0]; s.State {
		case "completed":
			return true, nil
		case "error":
			return false, fmt.Errorf("snapshot %s failed: %s", id, aws.ToString(s.StateMessage))
		}
		return false, nil
	})
}
