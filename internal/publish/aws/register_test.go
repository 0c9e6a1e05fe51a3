package aws_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// registered is what DescribeImages and DescribeImageAttribute say about
// an AMI and its root snapshot.
type registered struct {
	Desc, Arch, Boot, SRIOV, IMDS, TPM, Root, Protection string
	ENA, DeleteOnTermination                             bool
	Device, VolumeType                                   string
	VolumeSize                                           int32
	SnapshotGroups                                       []string
}

func describeRegistered(t *testing.T, cfg aws.Config, ami, snap string) registered {
	t.Helper()
	ctx := context.Background()
	c := ec2c(cfg, "us-east-1")
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil || len(out.Images) != 1 || len(out.Images[0].BlockDeviceMappings) != 1 {
		t.Fatalf("DescribeImages %s: %v, %+v", ami, err, out)
	}
	im := out.Images[0]
	m := im.BlockDeviceMappings[0]
	got := registered{
		Desc: aws.ToString(im.Description), Arch: string(im.Architecture), Boot: string(im.BootMode),
		SRIOV: aws.ToString(im.SriovNetSupport), IMDS: string(im.ImdsSupport), TPM: string(im.TpmSupport),
		Root: aws.ToString(im.RootDeviceName), Protection: aws.ToString(im.DeregistrationProtection),
		ENA: aws.ToBool(im.EnaSupport), DeleteOnTermination: aws.ToBool(m.Ebs.DeleteOnTermination),
		Device: aws.ToString(m.DeviceName), VolumeType: string(m.Ebs.VolumeType), VolumeSize: aws.ToInt32(m.Ebs.VolumeSize),
	}
	if aws.ToString(m.Ebs.SnapshotId) != snap {
		t.Errorf("%s maps snapshot %s, want %s", ami, aws.ToString(m.Ebs.SnapshotId), snap)
	}
	sa, err := c.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: &snap, Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sa.CreateVolumePermissions {
		got.SnapshotGroups = append(got.SnapshotGroups, string(p.Group))
	}
	return got
}

// TestPublishRegistrationVariants registers AMIs with the settings the
// full-spec tests leave at one value: the defaults (uefi, ENA on, gp3,
// /dev/xvda, the disk size rounded up to GiB), uefi-preferred and
// legacy-bios boot, ENA off, another root device, volume type and size,
// snapshot groups and deregistration protection with cooldown.
func TestPublishRegistrationVariants(t *testing.T) {
	t.Parallel()
	path, _ := makeDisk(t, 64*mib, defaultChunks(64*mib), 50)
	tests := []struct {
		name string
		spec publish.Spec
		want registered
	}{
		{"defaults", publish.Spec{},
			registered{Arch: "x86_64", Boot: "uefi", Root: "/dev/xvda", Protection: "disabled", ENA: true,
				Device: "/dev/xvda", VolumeType: "gp3", VolumeSize: 1}},
		{"uefi-preferred without ENA", publish.Spec{Description: "arm", Architecture: "arm64", BootMode: "uefi-preferred",
			ENASupport: aws.Bool(false), SriovSupport: aws.Bool(false), IMDSSupport: "v2.0", RootDeviceName: "/dev/sda1",
			VolumeType: "gp2", VolumeSizeGiB: 3, DeleteOnTermination: true},
			registered{Desc: "arm", Arch: "arm64", Boot: "uefi-preferred", IMDS: "v2.0", Root: "/dev/sda1", Protection: "disabled",
				DeleteOnTermination: true, Device: "/dev/sda1", VolumeType: "gp2", VolumeSize: 3}},
		{"legacy-bios", publish.Spec{BootMode: "legacy-bios", SriovSupport: aws.Bool(true), VolumeType: "io2"},
			registered{Arch: "x86_64", Boot: "legacy-bios", SRIOV: "simple", Root: "/dev/xvda", Protection: "disabled", ENA: true,
				Device: "/dev/xvda", VolumeType: "io2", VolumeSize: 1}},
		{"protected with cooldown, shared snapshot", publish.Spec{DeregistrationProtection: true, ProtectionCooldown: true,
			SnapshotGroups: []string{"all"}},
			registered{Arch: "x86_64", Boot: "uefi", Root: "/dev/xvda", Protection: "enabled-with-cooldown", ENA: true,
				Device: "/dev/xvda", VolumeType: "gp3", VolumeSize: 1, SnapshotGroups: []string{"all"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, cfg := newEmulator(t, awsemu.Options{})
			tc.spec.Name = "elemental-variant"
			res, err := publish.Publish(context.Background(), cfg, path, tc.spec, nil)
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			got := describeRegistered(t, cfg, res.AMIs["us-east-1"], res.Snapshots["us-east-1"])
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("registered AMI (-want +got):\n%s", d)
			}
			err = publish.Delete(context.Background(), cfg, res, true)
			if tc.spec.ProtectionCooldown {
				// As in AWS: protection with a cooldown holds for 24
				// hours after it is lifted, so Delete cannot deregister.
				if err == nil || !strings.Contains(err.Error(), "OperationNotPermitted") {
					t.Fatalf("Delete of an AMI protected with a cooldown: err = %v, want OperationNotPermitted", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mustEmpty(t, emu)
		})
	}
}

// TestPublishForceDeregisterKeepsSnapshots: without ForceDeleteSnapshot
// the AMI of the same name goes, its snapshot stays.
func TestPublishForceDeregisterKeepsSnapshots(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	ctx := context.Background()
	path, _ := makeDisk(t, 64*mib, defaultChunks(64*mib), 51)
	spec := publish.Spec{Name: "elemental-force-keep"}
	first, err := publish.Publish(ctx, cfg, path, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec.ForceDeregister = true
	second, err := publish.Publish(ctx, cfg, path, spec, nil)
	if err != nil {
		t.Fatalf("forced Publish: %v", err)
	}
	if ok, err := publish.Exists(ctx, cfg, "us-east-1", first.AMIs["us-east-1"]); err != nil || ok {
		t.Fatalf("old AMI still exists (%v)", err)
	}
	if _, ok := emu.SnapshotBlocks(first.Snapshots["us-east-1"]); !ok {
		t.Fatalf("old snapshot %s was deleted without ForceDeleteSnapshot", first.Snapshots["us-east-1"])
	}
	if got := emu.Resources(); len(got.Images) != 1 || got.Images[0] != second.AMIs["us-east-1"] || len(got.Snapshots) != 2 {
		t.Fatalf("emulator holds %+v, want the new AMI and both snapshots", got)
	}
}
