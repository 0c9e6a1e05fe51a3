package aws_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// TestAcceptanceRealAWS publishes a small non-bootable disk to real AWS
// through the EBS direct APIs, checks the registration attributes and the
// snapshot contents, and deletes everything. It runs only with
// ELEMENTAL_AWS_ACC=1, AWS credentials and a region; optional
// ELEMENTAL_AWS_ACC_COPY_REGION adds a region copy. It costs a few cents.
func TestAcceptanceRealAWS(t *testing.T) {
	if os.Getenv("ELEMENTAL_AWS_ACC") != "1" {
		t.Skip("real-AWS acceptance test: set ELEMENTAL_AWS_ACC=1 (plus AWS credentials and AWS_REGION) to run it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	cfg, err := publish.LoadConfig(ctx, publish.ConfigOptions{RoleARN: os.Getenv("ELEMENTAL_AWS_ACC_ROLE_ARN")})
	if err != nil {
		t.Skipf("real-AWS acceptance test: loading AWS config failed (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): %v", err)
	}
	if cfg.Region == "" {
		t.Skip("real-AWS acceptance test: AWS_REGION is not set")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		t.Skipf("real-AWS acceptance test: no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): %v", err)
	}
	acceptance(ctx, t, cfg, os.Getenv("ELEMENTAL_AWS_ACC_COPY_REGION"))
}

// TestAcceptanceOnEmulator runs the body of the real-AWS acceptance test
// against the emulator, so the test that only runs with credentials is
// known to work (and cannot rot) before anyone spends money on it. Its
// cleanup must leave the emulator empty.
func TestAcceptanceOnEmulator(t *testing.T) {
	emu, cfg := newEmulator(t, awsemu.Options{})
	t.Cleanup(func() { // runs after the cleanup acceptance registers
		if left := emu.Resources(); !left.Empty() {
			t.Errorf("left after the acceptance test's cleanup: %+v", left)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acceptance(ctx, t, cfg, "us-west-2")
}

// acceptance publishes a small disk with cfg (optionally copying it to
// copyRegion), checks the registration attributes, tags and snapshot
// contents, and deletes everything when the test ends.
func acceptance(ctx context.Context, t *testing.T, cfg aws.Config, copyRegion string) {
	path, disk := makeDisk(t, 64*mib, defaultChunks(64*mib), 30)
	spec := publish.Spec{
		Name:        "elemental-acc-" + time.Now().UTC().Format("20060102-150405"),
		Description: "elemental publish acceptance test (safe to delete)",
		BootMode:    "uefi", IMDSSupport: "v2.0", TPMSupport: "v2.0", SriovSupport: aws.Bool(true),
		Tags:        map[string]string{"elemental:acceptance": "true"},
		DeprecateAt: time.Now().Add(24 * time.Hour).Truncate(time.Minute),
		Provenance:  provenance,
	}
	if copyRegion != "" {
		spec.Regions = []string{copyRegion}
	}
	res, err := publish.Publish(ctx, cfg, path, spec, func(e publish.Event) {
		if e.Stage != "upload" {
			t.Logf("%s %s %s", e.Stage, e.Region, e.ID)
		}
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	t.Cleanup(func() {
		if err := publish.Delete(context.WithoutCancel(ctx), cfg, res, true); err != nil {
			t.Errorf("cleaning up %v: %v", res.AMIs, err)
		}
	})
	for r, ami := range res.AMIs {
		out, err := ec2c(cfg, r).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		if err != nil || len(out.Images) != 1 {
			t.Fatalf("DescribeImages %s in %s: %v", ami, r, err)
		}
		im := out.Images[0]
		if im.BootMode != "uefi" || im.ImdsSupport != "v2.0" || im.TpmSupport != "v2.0" || !aws.ToBool(im.EnaSupport) ||
			aws.ToString(im.SriovNetSupport) != "simple" || aws.ToString(im.DeprecationTime) == "" {
			t.Errorf("%s in %s: attributes %+v", ami, r, im)
		}
		checkTags(t, ami, im.Tags, mergeMaps(spec.Tags, provenance))
	}
	checkVolume(t, readSnapshot(t, cfg, cfg.Region, res.Snapshots[cfg.Region], int64(len(disk))), disk)
}
