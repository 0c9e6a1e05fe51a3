package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// copyRegions copies the build-region AMI to every other target region in
// parallel (encrypted with the region's KMS key when asked) and waits for
// the copies.
func (p *publisher) copyRegions(ctx context.Context) error {
	src, _ := p.ami(p.spec.Region)
	var wg sync.WaitGroup
	errs := make([]error, len(p.spec.Regions))
	for i, r := range p.spec.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.copyTo(ctx, src, r)
		}()
	}
	wg.Wait()
	return joinErrs(errs)
}

func (p *publisher) copyTo(ctx context.Context, src, region string) error {
	if err := p.forceDeregister(ctx, region); err != nil {
		return err
	}
	c := p.ec2(region)
	in := &ec2.CopyImageInput{
		Name:              aws.String(p.spec.Name),
		SourceImageId:     aws.String(src),
		SourceRegion:      aws.String(p.spec.Region),
		ClientToken:       aws.String(p.run + "-" + region),
		TagSpecifications: p.tagSpecs(types.ResourceTypeImage, types.ResourceTypeSnapshot),
	}
	if p.spec.Description != "" {
		in.Description = aws.String(p.spec.Description)
	}
	if p.spec.Encrypted {
		in.Encrypted = aws.Bool(true)
		if k := p.spec.RegionKMSKeyIDs[region]; k != "" {
			in.KmsKeyId = aws.String(k)
		}
	}
	p.emit(Event{Stage: "copy", Region: region, ID: src})
	out, err := c.CopyImage(ctx, in)
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, region, err)
	}
	ami := aws.ToString(out.ImageId)
	p.rememberImage(region, ami)
	if err := p.waitImage(ctx, region, ami); err != nil {
		return err
	}
	d, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil || len(d.Images) != 1 {
		return fmt.Errorf("describing copy %s in %s: %w", ami, region, err)
	}
	snap := rootSnapshot(d.Images[0])
	p.remember(region, snap)
	p.setResult(region, ami, snap)
	return nil
}

// dropBuildRegion deregisters the build-region AMI and its snapshot once
// copies exist, for skip_save_build_region.
func (p *publisher) dropBuildRegion(ctx context.Context) error {
	if !p.spec.SkipSaveBuildRegion {
		return nil
	}
	r := p.spec.Region
	ami, _ := p.ami(r)
	c := p.ec2(r)
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil || len(out.Images) != 1 {
		return fmt.Errorf("describing build-region AMI %s: %w", ami, err)
	}
	if err := deleteImage(ctx, c, out.Images[0], true); err != nil {
		return fmt.Errorf("dropping build-region AMI %s: %w", ami, err)
	}
	p.mu.Lock()
	delete(p.res.AMIs, r)
	delete(p.res.Snapshots, r)
	p.mu.Unlock()
	return nil
}

// share grants launch permissions on every AMI and create-volume
// permissions on every snapshot.
func (p *publisher) share(ctx context.Context) error {
	s := p.spec
	var launch []types.LaunchPermission
	for _, u := range s.LaunchUsers {
		launch = append(launch, types.LaunchPermission{UserId: aws.String(u)})
	}
	for _, g := range s.LaunchGroups {
		launch = append(launch, types.LaunchPermission{Group: types.PermissionGroup(g)})
	}
	for _, o := range s.OrgARNs {
		launch = append(launch, types.LaunchPermission{OrganizationArn: aws.String(o)})
	}
	for _, o := range s.OUARNs {
		launch = append(launch, types.LaunchPermission{OrganizationalUnitArn: aws.String(o)})
	}
	var vol []types.CreateVolumePermission
	for _, u := range s.SnapshotUsers {
		vol = append(vol, types.CreateVolumePermission{UserId: aws.String(u)})
	}
	for _, g := range s.SnapshotGroups {
		vol = append(vol, types.CreateVolumePermission{Group: types.PermissionGroup(g)})
	}
	return p.eachRegion(ctx, "share", func(ctx context.Context, c *ec2.Client, ami, snap string) error {
		if len(launch) > 0 {
			if _, err := c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{
				ImageId:          aws.String(ami),
				LaunchPermission: &types.LaunchPermissionModifications{Add: launch},
			}); err != nil {
				return fmt.Errorf("granting launch permissions on %s: %w", ami, err)
			}
		}
		if len(vol) > 0 {
			if _, err := c.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{
				SnapshotId:             aws.String(snap),
				Attribute:              types.SnapshotAttributeNameCreateVolumePermission,
				CreateVolumePermission: &types.CreateVolumePermissionModifications{Add: vol},
			}); err != nil {
				return fmt.Errorf("granting create-volume permissions on %s: %w", snap, err)
			}
		}
		return nil
	})
}

// tagAll tags every AMI and snapshot (tags were also given at creation;
// this makes sure copies and imported snapshots carry them too).
func (p *publisher) tagAll(ctx context.Context) error {
	return p.eachRegion(ctx, "tag", func(ctx context.Context, c *ec2.Client, ami, snap string) error {
		if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ami}, Tags: ec2Tags(p.spec.imageTags(p.run))}); err != nil {
			return fmt.Errorf("tagging %s: %w", ami, err)
		}
		if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{snap}, Tags: ec2Tags(p.spec.snapshotTags(p.run))}); err != nil {
			return fmt.Errorf("tagging %s: %w", snap, err)
		}
		return nil
	})
}

func (p *publisher) deprecate(ctx context.Context) error {
	if p.spec.DeprecateAt.IsZero() {
		return nil
	}
	return p.eachRegion(ctx, "deprecate", func(ctx context.Context, c *ec2.Client, ami, _ string) error {
		at := p.spec.DeprecateAt.UTC()
		if _, err := c.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(ami), DeprecateAt: &at}); err != nil {
			return fmt.Errorf("deprecating %s at %s: %w", ami, at, err)
		}
		return nil
	})
}

func (p *publisher) protect(ctx context.Context) error {
	if !p.spec.DeregistrationProtection {
		return nil
	}
	return p.eachRegion(ctx, "protect", func(ctx context.Context, c *ec2.Client, ami, _ string) error {
		if _, err := c.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{
			ImageId: aws.String(ami), WithCooldown: aws.Bool(p.spec.ProtectionCooldown),
		}); err != nil {
			return fmt.Errorf("protecting %s from deregistration: %w", ami, err)
		}
		return nil
	})
}

// eachRegion runs fn for the AMI and snapshot of every result region, in
// parallel.
func (p *publisher) eachRegion(ctx context.Context, stage string, fn func(context.Context, *ec2.Client, string, string) error) error {
	regions := p.regions()
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		ami, snap := p.ami(r)
		p.emit(Event{Stage: stage, Region: r, ID: ami})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, p.ec2(r), ami, snap); err != nil {
				errs[i] = fmt.Errorf("in %s: %w", r, err)
			}
		}()
	}
	wg.Wait()
	return joinErrs(errs)
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
