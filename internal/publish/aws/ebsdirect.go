package aws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// BlockSize is the EBS direct API block size.
const BlockSize = 512 << 10

const (
	blockAttempts = 8
	blockTimeout  = 2 * time.Minute
)

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
func (p *publisher) uploadDirect(ctx context.Context, f *os.File) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stating raw disk %s: %w", f.Name(), err)
	}
	c := p.ebs()
	var par *parent
	if p.spec.ParentSnapshotID != "" {
		if par, err = p.loadParent(ctx, c); err != nil {
			return "", err
		}
	}
	volGiB, err := p.volumeGiB((fi.Size()+gib-1)/gib, par)
	if err != nil {
		return "", err
	}
	id, err := p.startSnapshot(ctx, c, volGiB)
	if err != nil {
		return "", err
	}
	total, err := p.uploadTotal(f, volGiB, par)
	if err != nil {
		return "", err
	}
	u := &uploader{p: p, c: c, snap: id, total: total, parent: par, sums: map[int32][sha256.Size]byte{}}
	if err := u.run(ctx, f, volGiB*gib/BlockSize); err != nil {
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
		Description: aws.String(p.spec.Description),
		Tags:        ebsTags(p.spec.snapshotTags(p.run)),
		Timeout:     aws.Int32(120),
		ClientToken: aws.String(p.run + "-snapshot"),
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
// block of the volume when encrypted, else every block overlapping a data
// extent plus the parent's blocks (an upper bound: all-zero blocks are
// skipped, and blocks may be counted twice).
func (p *publisher) uploadTotal(f *os.File, volGiB int64, par *parent) (int64, error) {
	if p.spec.Encrypted {
		return volGiB * gib, nil
	}
	exts, err := diskformat.Extents(f)
	if err != nil {
		return 0, err
	}
	var n, last int64 = 0, -1
	for _, e := range exts {
		if !e.Data {
			continue
		}
		first, end := e.Offset/BlockSize, (e.End()+BlockSize-1)/BlockSize
		if first <= last {
			first = last + 1
		}
		if end > first {
			n += end - first
			last = end - 1
		}
	}
	if par != nil {
		n = min(n+int64(len(par.sorted)), volGiB*gib/BlockSize)
	}
	return n * BlockSize, nil
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

// run streams the disk's blocks to the workers. With encryption every
// block of the volume (volBlocks) is written, zero blocks included,
// because absent blocks of an encrypted snapshot do not read as zeros;
// with a parent, zero blocks are also written where the parent has data.
func (u *uploader) run(ctx context.Context, f *os.File, volBlocks int64) error {
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
	fill := &fillers{all: u.p.spec.Encrypted}
	if u.parent != nil {
		fill.parent = u.parent.sorted
	}
	zero := func(i int64) error { return send(block{int32(i), zeroBlock}) }
	next := int64(0)
	err := diskformat.Blocks(ctx, f, BlockSize, func(b diskformat.Block) error {
		idx := b.Offset / BlockSize
		if err := fill.each(next, idx, zero); err != nil {
			return err
		}
		buf := pool.Get().([]byte)
		copy(buf, b.Data)
		next = idx + 1
		return send(block{int32(idx), buf})
	})
	if err == nil {
		err = fill.each(next, volBlocks, zero)
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
	err := withRetries(ctx, blockAttempts, 250*time.Millisecond, blockTimeout, func(ctx context.Context) error {
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
