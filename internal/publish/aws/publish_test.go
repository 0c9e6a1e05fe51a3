package aws_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

var provenance = map[string]string{
	"elemental:source":        "registry.example.com/derivative:1.0",
	"elemental:source-digest": "sha256:0123456789abcdef",
	"elemental:suite-version": "0.1.0-test",
	"elemental:generation":    "v2",
}

func fullSpec(name string) publish.Spec {
	return publish.Spec{
		Name: name, Description: "test derivative", Architecture: "x86_64", BootMode: "uefi",
		SriovSupport: aws.Bool(true), IMDSSupport: "v2.0", TPMSupport: "v2.0", UEFIData: "QUJD",
		VolumeSizeGiB: 2, DeleteOnTermination: true,
		Regions:     []string{"us-west-2", "eu-west-1"},
		LaunchUsers: []string{"111122223333"}, LaunchGroups: []string{"all"},
		OrgARNs:       []string{"arn:aws:organizations::111122223333:organization/o-abc123"},
		OUARNs:        []string{"arn:aws:organizations::111122223333:ou/o-abc123/ou-ab12-cd34"},
		SnapshotUsers: []string{"444455556666"},
		Tags:          map[string]string{"os": "elemental"}, SnapshotTags: map[string]string{"kind": "root"},
		DeprecateAt:              time.Now().Add(48 * time.Hour).Truncate(time.Minute),
		DeregistrationProtection: true,
		Source:                   provenance[publish.TagSource],
		SourceDigest:             provenance[publish.TagSourceDigest],
		SuiteVersion:             provenance[publish.TagSuiteVersion],
		Provenance:               map[string]string{"elemental:generation": provenance["elemental:generation"]},
		UploadConcurrency:        8,
	}
}

func TestPublishEBSDirect(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	path, disk := makeDisk(t, 200*mib, defaultChunks(200*mib), 1)
	spec := fullSpec("elemental-test-1")
	var stages []string
	res, err := publish.Publish(context.Background(), cfg, path, spec, func(e publish.Event) {
		if len(stages) == 0 || stages[len(stages)-1] != e.Stage {
			stages = append(stages, e.Stage)
		}
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	wantStages := []string{"snapshot", "upload", "register", "copy", "share", "tag", "deprecate", "protect"}
	if d := cmp.Diff(wantStages, dedupe(stages)); d != "" {
		t.Errorf("stages (-want +got):\n%s", d)
	}
	regions := []string{"eu-west-1", "us-east-1", "us-west-2"}
	if got := slices.Sorted(maps.Keys(res.AMIs)); !slices.Equal(got, regions) {
		t.Fatalf("AMIs in %v, want %v", got, regions)
	}
	if alloc := allocated(t, path); res.BytesUploaded > alloc*105/100 || res.BytesUploaded == 0 {
		t.Errorf("uploaded %d bytes for %d allocated", res.BytesUploaded, alloc)
	}
	if res.BlocksUploaded*awsemu.BlockSize != res.BytesUploaded {
		t.Errorf("blocks %d and bytes %d disagree", res.BlocksUploaded, res.BytesUploaded)
	}
	for _, r := range regions {
		checkVolume(t, readSnapshot(t, cfg, r, res.Snapshots[r], 0), disk)
		checkImage(t, cfg, r, res.AMIs[r], res.Snapshots[r], spec)
	}
	for _, r := range regions {
		ok, err := publish.Exists(context.Background(), cfg, r, res.AMIs[r])
		if err != nil || !ok {
			t.Fatalf("Exists(%s, %s) = %v, %v", r, res.AMIs[r], ok, err)
		}
	}
	if err := publish.Delete(context.Background(), cfg, res, true); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustEmpty(t, emu)
	if ok, err := publish.Exists(context.Background(), cfg, "us-east-1", res.AMIs["us-east-1"]); err != nil || ok {
		t.Fatalf("Exists after Delete = %v, %v", ok, err)
	}
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// checkImage verifies the attributes of a published AMI and its snapshot
// through the SDK.
func checkImage(t *testing.T, cfg aws.Config, region, ami, snap string, spec publish.Spec) {
	t.Helper()
	ctx := context.Background()
	c := ec2c(cfg, region)
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil || len(out.Images) != 1 {
		t.Fatalf("DescribeImages %s in %s: %v", ami, region, err)
	}
	im := out.Images[0]
	got := map[string]string{
		"name": aws.ToString(im.Name), "desc": aws.ToString(im.Description), "state": string(im.State), "arch": string(im.Architecture),
		"boot": string(im.BootMode), "imds": string(im.ImdsSupport), "tpm": string(im.TpmSupport),
		"sriov": aws.ToString(im.SriovNetSupport), "virt": string(im.VirtualizationType),
		"root": aws.ToString(im.RootDeviceName), "protection": aws.ToString(im.DeregistrationProtection),
		"deprecation": aws.ToString(im.DeprecationTime),
	}
	want := map[string]string{
		"name": spec.Name, "desc": spec.Description, "state": "available", "arch": "x86_64", "boot": "uefi", "imds": "v2.0", "tpm": "v2.0",
		"sriov": "simple", "virt": "hvm", "root": "/dev/xvda", "protection": "enabled",
		"deprecation": spec.DeprecateAt.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s in %s (-want +got):\n%s", ami, region, d)
	}
	if !aws.ToBool(im.EnaSupport) {
		t.Errorf("%s: ENA support off", ami)
	}
	if len(im.BlockDeviceMappings) != 1 || aws.ToString(im.BlockDeviceMappings[0].Ebs.SnapshotId) != snap ||
		aws.ToInt32(im.BlockDeviceMappings[0].Ebs.VolumeSize) != spec.VolumeSizeGiB ||
		im.BlockDeviceMappings[0].Ebs.VolumeType != types.VolumeTypeGp3 || !aws.ToBool(im.BlockDeviceMappings[0].Ebs.DeleteOnTermination) {
		t.Errorf("%s: block device mappings %+v", ami, im.BlockDeviceMappings)
	}
	wantTags := mergeMaps(spec.Tags, provenance)
	checkTags(t, ami, im.Tags, wantTags)
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
	if err != nil || len(snaps.Snapshots) != 1 {
		t.Fatalf("DescribeSnapshots %s: %v", snap, err)
	}
	checkTags(t, snap, snaps.Snapshots[0].Tags, mergeMaps(spec.SnapshotTags, provenance))
	checkAttributes(t, c, ami, snap, spec)
}

func checkAttributes(t *testing.T, c *ec2.Client, ami, snap string, spec publish.Spec) {
	t.Helper()
	ctx := context.Background()
	lp, err := c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: &ami, Attribute: types.ImageAttributeNameLaunchPermission})
	if err != nil {
		t.Fatal(err)
	}
	var perms []string
	for _, p := range lp.LaunchPermissions {
		perms = append(perms, aws.ToString(p.UserId)+string(p.Group)+aws.ToString(p.OrganizationArn)+aws.ToString(p.OrganizationalUnitArn))
	}
	wantPerms := slices.Concat(spec.LaunchUsers, spec.LaunchGroups, spec.OrgARNs, spec.OUARNs)
	if d := cmp.Diff(wantPerms, perms); d != "" {
		t.Errorf("%s launch permissions (-want +got):\n%s", ami, d)
	}
	for attr, want := range map[types.ImageAttributeName]string{
		types.ImageAttributeNameBootMode: spec.BootMode, types.ImageAttributeNameTpmSupport: spec.TPMSupport,
		types.ImageAttributeNameImdsSupport: spec.IMDSSupport, types.ImageAttributeNameUefiData: spec.UEFIData,
		types.ImageAttributeNameDeregistrationProtection: "enabled",
	} {
		out, err := c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: &ami, Attribute: attr})
		if err != nil {
			t.Fatal(err)
		}
		var got *types.AttributeValue
		switch attr {
		case types.ImageAttributeNameBootMode:
			got = out.BootMode
		case types.ImageAttributeNameTpmSupport:
			got = out.TpmSupport
		case types.ImageAttributeNameImdsSupport:
			got = out.ImdsSupport
		case types.ImageAttributeNameUefiData:
			got = out.UefiData
		default:
			got = out.DeregistrationProtection
		}
		if got == nil || aws.ToString(got.Value) != want {
			t.Errorf("%s attribute %s = %v, want %q", ami, attr, got, want)
		}
	}
	sa, err := c.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: &snap, Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.CreateVolumePermissions) != 1 || aws.ToString(sa.CreateVolumePermissions[0].UserId) != spec.SnapshotUsers[0] {
		t.Errorf("%s create-volume permissions %+v", snap, sa.CreateVolumePermissions)
	}
}

func mergeMaps(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// checkTags wants every tag of want plus a run tag.
func checkTags(t *testing.T, id string, tags []types.Tag, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, tg := range tags {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if got[publish.RunTag] == "" {
		t.Errorf("%s has no %s tag", id, publish.RunTag)
	}
	delete(got, publish.RunTag)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s tags (-want +got):\n%s", id, d)
	}
}
