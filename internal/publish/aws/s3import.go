package aws

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const minPartSize = 16 << 20

// importS3 uploads the raw disk to S3, imports it as a snapshot, tags the
// snapshot and deletes the object.
func (p *publisher) importS3(ctx context.Context, f io.ReaderAt, size int64) (string, error) {
	bucket := p.spec.S3Bucket
	key := fmt.Sprintf("elemental-import/%s-%s.raw", objectName(p.spec.Name), p.run)
	if err := p.uploadObject(ctx, f, size, bucket, key); err != nil {
		return "", err
	}
	snap, err := p.importSnapshot(ctx, bucket, key)
	if err != nil {
		return "", err
	}
	c := p.ec2(p.spec.Region)
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{snap}, Tags: ec2Tags(p.spec.snapshotTags(p.run))}); err != nil {
		return "", fmt.Errorf("tagging imported snapshot %s: %w", snap, err)
	}
	if _, err := p.s3().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		return "", fmt.Errorf("deleting s3://%s/%s: %w", bucket, key, err)
	}
	p.forget(kindObject, key)
	return snap, nil
}

// objectName keeps the characters of name that are safe in an S3 key.
func objectName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, name)
}

// uploadObject streams the file to S3 as a multipart upload, parts read
// straight from the file with bounded concurrency.
func (p *publisher) uploadObject(ctx context.Context, f io.ReaderAt, size int64, bucket, key string) error {
	c := p.s3()
	tags := url.Values{}
	for k, v := range p.spec.objectTags(p.run) {
		tags.Set(k, v)
	}
	// Tracked by key before it exists: a CreateMultipartUpload whose reply
	// was lost (and the SDK's retries of it) leaves uploads whose ids
	// only ListMultipartUploads can tell; cleanup lists them.
	p.track(resource{kind: kindUpload, region: p.spec.Region, id: key, bucket: bucket, key: key, unknown: true})
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &bucket, Key: &key, Tagging: aws.String(tags.Encode()),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return fmt.Errorf("starting upload to s3://%s/%s: %w", bucket, key, err)
	}
	id := aws.ToString(cr.UploadId)
	// Only a retried CreateMultipartUpload can have left other uploads of
	// the key; then (and only then) listing is needed, which takes
	// s3:ListBucketMultipartUploads.
	attempts, ok := retry.GetAttemptResults(cr.ResultMetadata)
	retried := !ok || len(attempts.Results) > 1
	p.forget(kindUpload, key)
	p.track(resource{kind: kindUpload, region: p.spec.Region, id: key, bucket: bucket, key: key, uploadID: id, unknown: retried})
	parts, err := p.uploadParts(ctx, c, f, size, bucket, key, id)
	if err != nil {
		return err
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: &id, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		return fmt.Errorf("completing upload to s3://%s/%s: %w", bucket, key, err)
	}
	if retried {
		if err := abortUploads(ctx, c, bucket, key); err != nil {
			return err
		}
	}
	p.forget(kindUpload, key)
	p.track(resource{kind: kindObject, region: p.spec.Region, id: key, bucket: bucket, key: key})
	p.mu.Lock()
	p.res.BytesUploaded += size
	p.mu.Unlock()
	return nil
}

func (p *publisher) uploadParts(ctx context.Context, c *s3.Client, f io.ReaderAt, size int64, bucket, key, id string) ([]s3types.CompletedPart, error) {
	partSize := max(int64(minPartSize), (size+9999)/10000)
	n := int((size + partSize - 1) / partSize)
	parts := make([]s3types.CompletedPart, n)
	errs := make([]error, n)
	sem := make(chan struct{}, p.spec.UploadConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done int64
	for i := range n {
		off := int64(i) * partSize
		length := min(partSize, size-off)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
		if errs[i] != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			num := int32(i + 1)
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: &bucket, Key: &key, UploadId: &id, PartNumber: &num, ContentLength: &length,
				Body: io.NewSectionReader(f, off, length), ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				errs[i] = fmt.Errorf("uploading part %d of s3://%s/%s: %w", num, bucket, key, err)
				return
			}
			parts[i] = s3types.CompletedPart{PartNumber: &num, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			mu.Lock()
			done += length
			d := done
			mu.Unlock()
			p.emit(Event{Stage: "upload", Region: p.spec.Region, ID: "s3://" + bucket + "/" + key, Done: d, Total: size})
		}()
	}
	wg.Wait()
	if err := joinErrs(errs); err != nil {
		return nil, err
	}
	sort.Slice(parts, func(a, b int) bool { return *parts[a].PartNumber < *parts[b].PartNumber })
	return parts, nil
}

// abortUploads aborts every unfinished multipart upload of key. The key
// holds the run id, so no other publish shares it.
func abortUploads(ctx context.Context, c *s3.Client, bucket, key string) error {
	in := &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &key}
	for {
		out, err := c.ListMultipartUploads(ctx, in)
		if err != nil {
			return fmt.Errorf("listing multipart uploads of s3://%s/%s: %w", bucket, key, err)
		}
		for _, u := range out.Uploads {
			if aws.ToString(u.Key) != key {
				continue
			}
			if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: u.UploadId}); err != nil && !notFound(err) {
				return fmt.Errorf("aborting multipart upload %s of s3://%s/%s: %w", aws.ToString(u.UploadId), bucket, key, err)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// importSnapshot runs ImportSnapshot on the object and waits for the
// snapshot.
func (p *publisher) importSnapshot(ctx context.Context, bucket, key string) (string, error) {
	region := p.spec.Region
	c := p.ec2(region)
	in := &ec2.ImportSnapshotInput{
		ClientToken: aws.String(p.run + "-import"),
		DiskContainer: &types.SnapshotDiskContainer{
			Format:     aws.String("RAW"),
			UserBucket: &types.UserBucket{S3Bucket: &bucket, S3Key: &key},
		},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImportSnapshotTask, Tags: ec2Tags(p.spec.snapshotTags(p.run))}},
	}
	if p.spec.Description != "" {
		in.Description = aws.String(p.spec.Description)
	}
	if p.spec.Encrypted {
		in.Encrypted = aws.Bool(true)
		if p.spec.KMSKeyID != "" {
			in.KmsKeyId = aws.String(p.spec.KMSKeyID)
		}
	}
	out, err := c.ImportSnapshot(ctx, in)
	if err != nil {
		return "", fmt.Errorf("importing s3://%s/%s as a snapshot: %w", bucket, key, err)
	}
	task := aws.ToString(out.ImportTaskId)
	p.track(resource{kind: kindTask, region: region, id: task})
	p.emit(Event{Stage: "import", Region: region, ID: task})
	var snap string
	err = poll(ctx, 6*time.Hour, "import task "+task, func(ctx context.Context) (bool, error) {
		d, err := c.DescribeImportSnapshotTasks(ctx, &ec2.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{task}})
		if err != nil {
			return false, err
		}
		if len(d.ImportSnapshotTasks) != 1 || d.ImportSnapshotTasks[0].SnapshotTaskDetail == nil {
			return false, fmt.Errorf("import task %s not listed", task)
		}
		det := d.ImportSnapshotTasks[0].SnapshotTaskDetail
		switch st := aws.ToString(det.Status); st {
		case "completed":
			snap = aws.ToString(det.SnapshotId)
			p.remember(region, snap)
			return true, nil
		case "deleted", "deleting":
			return false, fmt.Errorf("import task %s %s: %s", task, st, aws.ToString(det.StatusMessage))
		}
		return false, nil
	})
	if err != nil {
		return "", err
	}
	p.forget(kindTask, task)
	return snap, p.waitSnapshot(ctx, region, snap)
}
