package aws

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// register makes the AMI from the root snapshot in the build region
// (after force-deregistering a namesake when asked) and waits until it is
// available.
func (p *publisher) register(ctx context.Context, snap string) (string, error) {
	region := p.spec.Region
	if err := p.forceDeregister(ctx, region); err != nil {
		return "", err
	}
	s := p.spec
	in := &ec2.RegisterImageInput{
		Name:               aws.String(s.Name),
		Architecture:       types.ArchitectureValues(s.Architecture),
		BootMode:           types.BootModeValues(s.BootMode),
		EnaSupport:         s.ENASupport,
		RootDeviceName:     aws.String(s.RootDeviceName),
		VirtualizationType: aws.String("hvm"),
		BlockDeviceMappings: []types.BlockDeviceMapping{{
			DeviceName: aws.String(s.RootDeviceName),
			Ebs: &types.EbsBlockDevice{
				SnapshotId:          aws.String(snap),
				VolumeSize:          aws.Int32(s.VolumeSizeGiB),
				VolumeType:          types.VolumeType(s.VolumeType),
				DeleteOnTermination: aws.Bool(s.DeleteOnTermination),
			},
		}},
		// RegisterImage only takes image tags; the snapshot got its tags
		// when it was started (or right after its import).
		TagSpecifications: p.tagSpecs(types.ResourceTypeImage),
	}
	if s.Description != "" {
		in.Description = aws.String(s.Description)
	}
	if s.SriovSupport != nil && *s.SriovSupport {
		in.SriovNetSupport = aws.String("simple")
	}
	if s.IMDSSupport != "" {
		in.ImdsSupport = types.ImdsSupportValues(s.IMDSSupport)
	}
	if s.TPMSupport != "" {
		in.TpmSupport = types.TpmSupportValues(s.TPMSupport)
	}
	if s.UEFIData != "" {
		in.UefiData = aws.String(s.UEFIData)
	}
	p.emit(Event{Stage: "register", Region: region, ID: snap})
	out, err := p.ec2(region).RegisterImage(ctx, in)
	var ami string
	switch {
	case errorCode(err) == "InvalidAMIName.Duplicate":
		// A retried RegisterImage whose first attempt went through: adopt
		// the image only if it carries this run's tag.
		if ami, _ = p.ownImage(ctx, region, s.Name); ami == "" {
			return "", fmt.Errorf("registering AMI %q in %s: %w", s.Name, region, err)
		}
	case err != nil:
		return "", fmt.Errorf("registering AMI %q in %s: %w", s.Name, region, err)
	default:
		ami = aws.ToString(out.ImageId)
	}
	p.rememberImage(region, ami)
	return ami, p.waitImage(ctx, region, ami)
}

// tagSpecs builds TagSpecifications for images and snapshots.
func (p *publisher) tagSpecs(kinds ...types.ResourceType) []types.TagSpecification {
	var out []types.TagSpecification
	for _, k := range kinds {
		tags := p.spec.imageTags(p.run)
		if k != types.ResourceTypeImage {
			tags = p.spec.snapshotTags(p.run)
		}
		out = append(out, types.TagSpecification{ResourceType: k, Tags: ec2Tags(tags)})
	}
	return out
}

func ec2Tags(m map[string]string) []types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// ownImage finds the image named name that carries this run's tag.
func (p *publisher) ownImage(ctx context.Context, region, name string) (string, error) {
	out, err := p.ec2(region).DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners: []string{"self"},
		Filters: []types.Filter{
			{Name: aws.String("name"), Values: []string{name}},
			{Name: aws.String("tag:" + RunTag), Values: []string{p.run}},
		},
	})
	if err != nil || len(out.Images) == 0 {
		return "", err
	}
	return aws.ToString(out.Images[0].ImageId), nil
}

// forceDeregister removes an existing AMI named like ours (and its
// snapshots when asked) from region.
func (p *publisher) forceDeregister(ctx context.Context, region string) error {
	if !p.spec.ForceDeregister {
		return nil
	}
	c := p.ec2(region)
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []types.Filter{{Name: aws.String("name"), Values: []string{p.spec.Name}}},
	})
	if err != nil {
		return fmt.Errorf("looking for AMIs named %q in %s: %w", p.spec.Name, region, err)
	}
	for _, im := range out.Images {
		if err := deleteImage(ctx, c, im, p.spec.ForceDeleteSnapshot); err != nil {
			return fmt.Errorf("force-deregistering %s in %s: %w", aws.ToString(im.ImageId), region, err)
		}
	}
	return nil
}

// waitImage polls DescribeImages until the image is available.
func (p *publisher) waitImage(ctx context.Context, region, ami string) error {
	return poll(ctx, 3*time.Hour, "AMI "+ami+" in "+region, func(ctx context.Context) (bool, error) {
		out, err := p.ec2(region).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		if err != nil {
			return false, err
		}
		if len(out.Images) != 1 {
			return false, fmt.Errorf("AMI %s not listed", ami)
		}
		switch im := out.Images[0]; im.State {
		case types.ImageStateAvailable:
			return true, nil
		case types.ImageStatePending:
			return false, nil
		default:
			reason := ""
			if im.StateReason != nil {
				reason = aws.ToString(im.StateReason.Message)
			}
			return false, fmt.Errorf("AMI %s is %s: %s", ami, im.State, reason)
		}
	})
}

// rootSnapshot returns the snapshot of an image's root device.
func rootSnapshot(im types.Image) string {
	for _, m := range im.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.DeviceName) == aws.ToString(im.RootDeviceName) {
			return aws.ToString(m.Ebs.SnapshotId)
		}
	}
	return ""
}
