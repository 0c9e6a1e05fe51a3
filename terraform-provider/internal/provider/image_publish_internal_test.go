package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

// TestToAWSSpec checks the aws block's mapping onto the publisher's spec,
// provenance included.
func TestToAWSSpec(t *testing.T) {
	ctx := context.Background()
	regions, _ := types.ListValueFrom(ctx, types.StringType, []string{"eu-west-1", "us-east-1"})
	m := imageModel{ID: types.StringValue("abc"), Source: types.StringValue("reg/os:1"), Digest: types.StringValue("sha256:d"),
		AWS: &awsImageModel{Regions: regions, ParentSnap: types.StringValue("snap-0123"), Encrypted: types.BoolValue(true)}}
	s, err := toAWSSpec(ctx, m, "terraform-provider-elemental test")
	if err != nil {
		t.Fatal(err)
	}
	if s.Region != "eu-west-1" || len(s.Regions) != 1 || s.ParentSnapshotID != "snap-0123" || !s.Encrypted ||
		s.Source != "reg/os:1" || s.SourceDigest != "sha256:d" || s.SuiteVersion != "terraform-provider-elemental test" ||
		s.Name != "elemental-abc" {
		t.Errorf("spec %+v", s)
	}
}
