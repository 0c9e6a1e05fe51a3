package provider_test

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestImageCloudValidation runs terraform plan on aws and gcp blocks
// with one mistake each: validation fails before anything is resolved
// or published, with an error naming the attribute.
func TestImageCloudValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the terraform CLI")
	}
	tests := []struct {
		name, block, want string
	}{
		{name: "tpm needs uefi", block: `aws {
    regions     = ["us-east-1"]
    boot_mode   = "legacy-bios"
    tpm_support = "v2.0"
  }`, want: `aws.tpm_support: needs boot_mode\s+uefi`},
		{name: "account id", block: `aws {
    regions                 = ["us-east-1"]
    snapshot_share_accounts = ["12345"]
  }`, want: `aws.snapshot_share_accounts\[0\][\s\S]*12-digit`},
		{name: "deprecate_at", block: `aws {
    regions      = ["us-east-1"]
    deprecate_at = "tomorrow"
  }`, want: `aws.deprecate_at: want an RFC 3339 time`},
		{name: "uefi_data", block: `aws {
    regions   = ["us-east-1"]
    uefi_data = "!!"
  }`, want: `aws.uefi_data: not base64`},
		{name: "region key outside regions", block: `aws {
    regions            = ["us-east-1"]
    encrypted          = true
    region_kms_key_ids = { "ap-south-1" = "alias/k" }
  }`, want: `aws.region_kms_key_ids: ap-south-1 is not one of\s+regions`},
		{name: "s3 import without bucket", block: `aws {
    regions       = ["us-east-1"]
    import_method = "s3-import"
  }`, want: `aws.s3_bucket: required with import_method`},
		{name: "volume size", block: `aws {
    regions     = ["us-east-1"]
    volume_size = 0
  }`, want: `aws.volume_size[\s\S]*between 1 and 65536`},
		{name: "region name", block: `aws {
    regions = ["us-east-1", "Frankfurt"]
  }`, want: `aws.regions\[1\][\s\S]*AWS region name`},
		{name: "ebs-direct key", block: `aws {
    regions    = ["us-east-1"]
    encrypted  = true
    kms_key_id = "alias/os"
  }`, want: `aws.kms_key_id: "alias/os": the ebs-direct import`},
		{name: "request timeout", block: `aws {
    regions         = ["us-east-1"]
    request_timeout = "0s"
  }`, want: `aws.request_timeout: "0s": want a positive duration`},
		{name: "snapshot timeout", block: `aws {
    regions          = ["us-east-1"]
    snapshot_timeout = "90s"
  }`, want: `aws.snapshot_timeout: "90s": want whole minutes from 10m to\s+72h`},
		{name: "gcp license", block: `gcp {
    bucket   = "b"
    licenses = ["my-license"]
  }`, want: `gcp.licenses\[0\][\s\S]*projects/PROJECT/global/licenses/NAME`},
		{name: "gcp chunk size", block: `gcp {
    bucket            = "b"
    upload_chunk_size = "100KiB"
  }`, want: `gcp.upload_chunk_size: "100KiB": want a multiple of 256KiB`},
		{name: "ami name", block: `aws {
    regions = ["us-east-1"]
    name    = "os:1.2*"
  }`, want: `aws.name[\s\S]*may hold only letters`},
		{name: "gcp family", block: `gcp {
    bucket = "b"
    family = "My_Family"
  }`, want: `gcp.family: image family "My_Family"`},
		{name: "gcp schedule", block: `gcp {
    bucket       = "b"
    deprecate_at = "2030-02-01T00:00:00Z"
    obsolete_at  = "2030-01-01T00:00:00Z"
  }`, want: `gcp.obsolete_at: 2030-01-01T00:00:00Z is before deprecate_at`},
		{name: "gcp shielded key", block: `gcp {
    bucket = "b"
    shielded_instance_initial_state = { pk = "not base64!" }
  }`, want: `gcp.shielded_instance_initial_state.pk: want a PEM certificate or base64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				TerraformVersionChecks:   versionChecks,
				Steps: []resource.TestStep{{
					Config: `resource "elemental_image" "x" {
  source = "oci-layout:/nonexistent"
  ` + tt.block + `
}`,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tt.want),
				}},
			})
		})
	}
}
