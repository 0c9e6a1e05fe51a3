package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Kinds of created resources.
const (
	kindSnapshot = "snapshot"
	kindImage    = "image"
	kindTask     = "import-task"
	kindUpload   = "multipart-upload"
	kindObject   = "object"
)

// resource is one thing Publish created and must delete on failure.
type resource struct {
	kind, region, id string
	bucket, key      string // for S3 kinds; id is the key
	uploadID         string // kindUpload: the upload id, when known
	unknown          bool   // kindUpload: uploads of the key may exist that only a listing finds
}

// record is what a publish created, in creation order.
type record []resource

func (p *publisher) track(r resource) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec = append(p.rec, r)
}

func (p *publisher) forget(kind, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec = slices.DeleteFunc(p.rec, func(r resource) bool { return r.kind == kind && r.id == id })
}

func (p *publisher) remember(region, snap string) {
	if snap != "" {
		p.track(resource{kind: kindSnapshot, region: region, id: snap})
	}
}

func (p *publisher) rememberImage(region, ami string) {
	p.track(resource{kind: kindImage, region: region, id: ami})
}

// cleanup deletes everything the publish created: what it recorded, plus
// anything tagged with its run id in the target regions (an image whose
// RegisterImage reply was lost, a copy's snapshot). It runs on a context
// detached from ctx's cancellation, with its own timeout.
func (p *publisher) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	p.mu.Lock()
	rec := slices.Clone(p.rec)
	p.mu.Unlock()
	p.emit(Event{Stage: "cleanup", Region: p.spec.Region})
	var errs []error
	s3c := p.s3()
	for _, r := range slices.Backward(rec) {
		var err error
		switch r.kind {
		case kindTask:
			var snap string
			snap, err = p.cancelTask(ctx, r)
			if snap != "" {
				rec = append(rec, resource{kind: kindSnapshot, region: r.region, id: snap})
			}
		case kindUpload:
			err = abortUpload(ctx, s3c, r)
		case kindObject:
			_, err = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &r.bucket, Key: &r.key})
		}
		if err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s: %w", r.kind, r.id, err))
		}
	}
	for _, region := range p.spec.targetRegions() {
		if err := p.sweep(ctx, region, rec); err != nil {
			errs = append(errs, fmt.Errorf("in %s: %w", region, err))
		}
	}
	return errors.Join(errs...)
}

// abortUpload aborts the multipart upload of r and, when other uploads
// of its key may exist, every upload of the key.
func abortUpload(ctx context.Context, c *s3.Client, r resource) error {
	if r.uploadID != "" {
		_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &r.bucket, Key: &r.key, UploadId: &r.uploadID})
		if err != nil && !notFound(err) {
			return err
		}
	}
	if r.unknown {
		return abortUploads(ctx, c, r.bucket, r.key)
	}
	return nil
}

// cancelTask cancels an import task; when it already finished it returns
// the snapshot the task made (untagged, so the sweep would miss it).
func (p *publisher) cancelTask(ctx context.Context, r resource) (string, error) {
	c := p.ec2(r.region)
	_, err := c.CancelImportTask(ctx, &ec2.CancelImportTaskInput{ImportTaskId: aws.String(r.id)})
	if err == nil || errorCode(err) != "IncorrectState" {
		return "", err
	}
	out, err := c.DescribeImportSnapshotTasks(ctx, &ec2.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{r.id}})
	if err == nil {
		for _, t := range out.ImportSnapshotTasks {
			if t.SnapshotTaskDetail != nil {
				return aws.ToString(t.SnapshotTaskDetail.SnapshotId), nil
			}
		}
		return "", nil
	}
	// VM Import describes its snapshots as "Created by AWS-VMImport
	// service for <task id>".
	snaps, serr := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []types.Filter{{Name: aws.String("description"), Values: []string{"*" + r.id + "*"}}}})
	if serr != nil {
		return "", errors.Join(err, serr)
	}
	if len(snaps.Snapshots) > 0 {
		return aws.ToString(snaps.Snapshots[0].SnapshotId), nil
	}
	return "", nil
}

// sweep deletes the recorded and run-tagged images, then snapshots, of a
// region.
func (p *publisher) sweep(ctx context.Context, region string, rec record) error {
	c := p.ec2(region)
	runFilter := []types.Filter{{Name: aws.String("tag:" + RunTag), Values: []string{p.run}}}
	ims, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: runFilter})
	if err != nil {
		return fmt.Errorf("listing AMIs of run %s: %w", p.run, err)
	}
	images := ims.Images
	for _, r := range rec {
		if r.kind == kindImage && r.region == region && !slices.ContainsFunc(images, func(im types.Image) bool { return aws.ToString(im.ImageId) == r.id }) {
			out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{r.id}})
			if err != nil && !notFound(err) {
				return fmt.Errorf("describing AMI %s: %w", r.id, err)
			}
			if out != nil {
				images = append(images, out.Images...)
			}
		}
	}
	var errs []error
	for _, im := range images {
		if err := deleteImage(ctx, c, im, true); err != nil {
			errs = append(errs, err)
		}
	}
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: runFilter})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing snapshots of run %s: %w", p.run, err))...)
	}
	ids := map[string]bool{}
	for _, s := range snaps.Snapshots {
		ids[aws.ToString(s.SnapshotId)] = true
	}
	for _, r := range rec {
		if r.kind == kindSnapshot && r.region == region {
			ids[r.id] = true
		}
	}
	for id := range ids {
		if err := deleteSnapshot(ctx, c, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteImage lifts deregistration protection, deregisters the image and,
// when asked, deletes its snapshots. Missing resources are not errors.
func deleteImage(ctx context.Context, c *ec2.Client, im types.Image, snapshots bool) error {
	id := aws.ToString(im.ImageId)
	if p := aws.ToString(im.DeregistrationProtection); p != "" && p != "disabled" {
		if _, err := c.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: &id}); err != nil && !notFound(err) {
			return fmt.Errorf("lifting deregistration protection of %s: %w", id, err)
		}
	}
	if _, err := c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: &id}); err != nil && !notFound(err) {
		return fmt.Errorf("deregistering %s: %w", id, err)
	}
	if !snapshots {
		return nil
	}
	var errs []error
	for _, m := range im.BlockDeviceMappings {
		if m.Ebs != nil && m.Ebs.SnapshotId != nil {
			if err := deleteSnapshot(ctx, c, *m.Ebs.SnapshotId); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// deleteSnapshot deletes a snapshot, waiting out a brief InUse right after
// its image was deregistered.
func deleteSnapshot(ctx context.Context, c *ec2.Client, id string) error {
	err := poll(ctx, 2*time.Minute, "deletion of snapshot "+id, func(ctx context.Context) (bool, error) {
		_, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: &id})
		switch {
		case err == nil || notFound(err):
			return true, nil
		case errorCode(err) == "InvalidSnapshot.InUse":
			return false, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("deleting snapshot %s: %w", id, err)
	}
	return nil
}

// Delete removes the AMIs of res (lifting deregistration protection) and,
// when deleteSnapshots, their snapshots and the snapshots res names. It is
// what an artifact's Destroy and a Terraform delete call; resources that
// are already gone are not errors.
func Delete(ctx context.Context, cfg aws.Config, res *Result, deleteSnapshots bool) error {
	if res == nil {
		return nil
	}
	cfg = withRetryer(cfg)
	var errs []error
	for region, ami := range res.AMIs {
		c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Region = region })
		out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		switch {
		case notFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("describing %s in %s: %w", ami, region, err))
			continue
		default:
			failed := false
			for _, im := range out.Images {
				if err := deleteImage(ctx, c, im, deleteSnapshots); err != nil {
					errs = append(errs, fmt.Errorf("in %s: %w", region, err))
					failed = true
				}
			}
			if failed {
				continue // its snapshot is still in use: no point waiting for it
			}
		}
		if snap := res.Snapshots[region]; deleteSnapshots && snap != "" {
			if err := deleteSnapshot(ctx, c, snap); err != nil {
				errs = append(errs, fmt.Errorf("in %s: %w", region, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deleting published AMIs: %w", err)
	}
	return nil
}

// Exists reports whether the AMI is registered (pending or available) in
// region, for Terraform's drift detection.
func Exists(ctx context.Context, cfg aws.Config, region, amiID string) (bool, error) {
	c := ec2.NewFromConfig(withRetryer(cfg), func(o *ec2.Options) { o.Region = region })
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{amiID}})
	switch {
	case notFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describing %s in %s: %w", amiID, region, err)
	}
	for _, im := range out.Images {
		if im.State == types.ImageStateAvailable || im.State == types.ImageStatePending {
			return true, nil
		}
	}
	return false, nil
}
