package provider_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
	gcppub "github.com/elemental-suite/elemental/internal/publish/gcp"
)

const gcpProject = "elemental-test"

// providerConfig is the provider block the acceptance tests use: AWS (in
// us-east-1, with the emulator's credentials) at the emulator at awsURL
// and, when gcpURL is not empty, Google Cloud at the emulator at gcpURL.
func providerConfig(awsURL, gcpURL string) string {
	gcp := ""
	if gcpURL != "" {
		gcp = fmt.Sprintf(`
  gcp {
    project                = %q
    without_authentication = true
    endpoints {
      compute = %[2]q
      storage = %[2]q
    }
  }`, gcpProject, gcpURL)
	}
	return fmt.Sprintf(`
provider "elemental" {
  aws {
    region     = "us-east-1"
    access_key = "AKIAEMULATOR"
    secret_key = "emulator"
    endpoints {
      ec2 = %[1]q
      ebs = %[1]q
      s3  = %[1]q
    }
  }%[2]s
}
`, awsURL, gcp)
}

func cloudConfig(awsURL, gcpURL, ref, dir string) string {
	return providerConfig(awsURL, gcpURL) + fmt.Sprintf(`
resource "elemental_image" "cloud" {
  source = %[1]q
  disk {
    directory = %[2]q
  }
  aws {
    regions                   = ["us-east-1", "eu-west-1"]
    name                      = "elemental-test"
    tags                      = { team = "os" }
    snapshot_tags             = { kind = "root" }
    imds_support              = "v2.0"
    tpm_support               = "v2.0"
    ena_support               = false
    sriov_net_support         = "simple"
    root_device_name          = "/dev/sda1"
    volume_type               = "gp2"
    volume_size               = 3
    delete_on_termination     = false
    organization_arns         = ["arn:aws:organizations::111122223333:organization/o-test"]
    deregistration_protection = { enabled = true }
  }
  gcp {
    bucket            = "uploads"
    image_name        = "elemental-test"
    family            = "elemental"
    storage_locations = ["eu"]
    obsolete_at       = "2099-01-01T00:00:00Z"
  }
}
`, ref, dir)
}

// TestAccImageCloud publishes to the AWS and Google Cloud emulators:
// create, drift after an out-of-band deregistration, destroy with
// nothing left.
func TestAccImageCloud(t *testing.T) {
	testAccPreCheck(t)
	awsEmu := awsemu.New(awsemu.Options{Delay: 10 * time.Millisecond})
	awsSrv := awsemu.NewServer(awsEmu)
	t.Cleanup(awsSrv.Close)
	gcpEmu, err := gcpemu.Start(gcpemu.Options{Buckets: []string{"uploads"}, OpDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gcpEmu.Close() })
	host := imagetest.Registry(t)
	ref := host + "/elemental/cloud:stable"
	pushDerivative(t, ref, 2, "A")
	dir := t.TempDir()
	cfg := cloudConfig(awsSrv.URL, gcpEmu.URL(), ref, dir)
	addr := "elemental_image.cloud"
	var firstAMI, firstSnap, gcpImage string
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if res := awsEmu.Resources(); len(res.Images)+len(res.Snapshots) > 0 {
				return fmt.Errorf("AWS resources left: %+v", res)
			}
			if imgs := gcpEmu.Images(gcpProject); len(imgs) > 0 {
				return fmt.Errorf("%d Compute Engine images left", len(imgs))
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: func(s *terraform.State) error {
					a := s.RootModule().Resources[addr].Primary.Attributes
					for _, region := range []string{"us-east-1", "eu-west-1"} {
						if !strings.HasPrefix(a["aws_amis."+region], "ami-") || !strings.HasPrefix(a["aws_snapshot_ids."+region], "snap-") {
							return fmt.Errorf("region %s: ami %q snapshot %q", region, a["aws_amis."+region], a["aws_snapshot_ids."+region])
						}
					}
					firstAMI, firstSnap = a["aws_amis.eu-west-1"], a["aws_snapshot_ids.eu-west-1"]
					if res := awsEmu.Resources(); len(res.Images) != 2 {
						return fmt.Errorf("emulator holds images %v, want 2", res.Images)
					}
					if err := checkAMI(awsSrv.URL, a["aws_amis.us-east-1"], a["aws_snapshot_ids.us-east-1"]); err != nil {
						return err
					}
					img, _, err := gcpEmu.Image(gcpProject, "elemental-test-"+a["id"])
					if err != nil {
						return err
					}
					if len(img.StorageLocations) != 1 || img.StorageLocations[0] != "eu" || img.Deprecated == nil ||
						img.Deprecated.Obsolete != "2099-01-01T00:00:00Z" {
						return fmt.Errorf("gcp image storage locations %v, deprecation %+v", img.StorageLocations, img.Deprecated)
					}
					if img.SelfLink != a["gcp_image_self_link"] || img.Family != "elemental" {
						return fmt.Errorf("gcp image %s family %s, state %s", img.SelfLink, img.Family, a["gcp_image_self_link"])
					}
					if v := img.Labels["elemental-suite-version"]; !strings.HasPrefix(v, "terraform-provider-elemental") ||
						img.Labels["elemental-source-digest"] == "" || img.Labels["elemental-build"] != a["id"] {
						return fmt.Errorf("gcp image provenance labels %v", img.Labels)
					}
					return nil
				},
			},
			{ // the eu-west-1 AMI is deregistered out of band, its snapshot kept:
				// the rebuild deletes that snapshot (recorded in state) too
				PreConfig: func() {
					deregister(t, awsSrv.URL, "eu-west-1", firstAMI, false)
					if !slices.Contains(awsEmu.Resources().Snapshots, firstSnap) {
						t.Fatalf("snapshot %s gone with its AMI; the test needs it kept", firstSnap)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(s *terraform.State) error {
					a := s.RootModule().Resources[addr].Primary.Attributes
					if a["aws_amis.eu-west-1"] == firstAMI || a["aws_amis.eu-west-1"] == "" {
						return fmt.Errorf("eu-west-1 AMI %q not re-created", a["aws_amis.eu-west-1"])
					}
					if err := onlyRecorded(awsEmu.Resources(), a); err != nil {
						return err
					}
					gcpImage = "elemental-test-" + a["id"]
					return nil
				},
			},
			{ // the Compute Engine image is deleted out of band: re-create
				PreConfig: func() {
					cl, err := gcppub.NewClients(context.Background(), gcppub.ClientOptions{
						ComputeEndpoint: gcpEmu.URL(), StorageEndpoint: gcpEmu.URL(), WithoutAuthentication: true})
					if err != nil {
						t.Fatal(err)
					}
					defer cl.Close()
					if err := gcppub.Delete(context.Background(), cl, gcpProject, gcpImage); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(s *terraform.State) error {
					if _, _, err := gcpEmu.Image(gcpProject, gcpImage); err != nil {
						return err
					}
					a := s.RootModule().Resources[addr].Primary.Attributes
					firstAMI = a["aws_amis.us-east-1"]
					return onlyRecorded(awsEmu.Resources(), a)
				},
			},
			{ // deregistered again, snapshot kept, then destroyed without an apply:
				// CheckDestroy finds nothing left
				PreConfig:          func() { deregister(t, awsSrv.URL, "us-east-1", firstAMI, false) },
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// checkAMI reads the AMI and its snapshot back from the emulator through
// the EC2 API and checks the aws block's attributes on them.
func checkAMI(url, ami, snap string) error {
	cfg := awsemu.Config(url)
	cfg.Region = "us-east-1"
	c := ec2.NewFromConfig(cfg)
	ctx := context.Background()
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil || len(out.Images) != 1 {
		return fmt.Errorf("describing %s: %v (%d images)", ami, err, len(out.Images))
	}
	img := out.Images[0]
	if string(img.TpmSupport) != "v2.0" || aws.ToBool(img.EnaSupport) ||
		aws.ToString(img.SriovNetSupport) != "simple" || aws.ToString(img.RootDeviceName) != "/dev/sda1" ||
		!strings.HasPrefix(aws.ToString(img.DeregistrationProtection), "enabled") {
		return fmt.Errorf("AMI %s: tpm %q ena %v sriov %q root %q protection %q", ami, img.TpmSupport,
			aws.ToBool(img.EnaSupport), aws.ToString(img.SriovNetSupport), aws.ToString(img.RootDeviceName),
			aws.ToString(img.DeregistrationProtection))
	}
	if len(img.BlockDeviceMappings) != 1 || img.BlockDeviceMappings[0].Ebs == nil {
		return fmt.Errorf("AMI %s block device mappings %+v", ami, img.BlockDeviceMappings)
	}
	if e := img.BlockDeviceMappings[0].Ebs; e.VolumeType != "gp2" || aws.ToInt32(e.VolumeSize) != 3 || aws.ToBool(e.DeleteOnTermination) {
		return fmt.Errorf("AMI %s root volume type %s size %d delete on termination %v", ami, e.VolumeType,
			aws.ToInt32(e.VolumeSize), aws.ToBool(e.DeleteOnTermination))
	}
	perms, err := c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: &ami, Attribute: "launchPermission"})
	if err != nil || len(perms.LaunchPermissions) != 1 ||
		aws.ToString(perms.LaunchPermissions[0].OrganizationArn) != "arn:aws:organizations::111122223333:organization/o-test" {
		return fmt.Errorf("AMI %s launch permissions %+v (%v)", ami, perms, err)
	}
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
	if err != nil || len(snaps.Snapshots) != 1 {
		return fmt.Errorf("describing %s: %v", snap, err)
	}
	tags := map[string]string{}
	for _, t := range snaps.Snapshots[0].Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if tags["kind"] != "root" || tags["team"] != "" {
		return fmt.Errorf("snapshot %s tags %v, want snapshot_tags (kind=root), not tags", snap, tags)
	}
	return nil
}

// onlyRecorded checks that the emulator holds exactly the AMIs and
// snapshots recorded in state: nothing leaked, nothing missing.
func onlyRecorded(res awsemu.Resources, a map[string]string) error {
	var amis, snaps []string
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		amis, snaps = append(amis, a["aws_amis."+region]), append(snaps, a["aws_snapshot_ids."+region])
	}
	for _, l := range [][]string{amis, snaps, res.Images, res.Snapshots} {
		slices.Sort(l)
	}
	if !slices.Equal(amis, res.Images) || !slices.Equal(snaps, res.Snapshots) {
		return fmt.Errorf("emulator holds images %v and snapshots %v, state records %v and %v",
			res.Images, res.Snapshots, amis, snaps)
	}
	return nil
}

// deregister deregisters an AMI out of band, with or without its snapshot.
func deregister(t *testing.T, url, region, ami string, withSnapshot bool) {
	t.Helper()
	cfg := awsemu.Config(url)
	cfg.Region = region
	if err := awspub.Delete(context.Background(), cfg, &awspub.Result{AMIs: map[string]string{region: ami}}, withSnapshot); err != nil {
		t.Fatal(err)
	}
	if ok, err := awspub.Exists(context.Background(), cfg, region, ami); err != nil || ok {
		t.Fatalf("AMI %s still exists (%v)", ami, err)
	}
}
