package ami

import (
	"errors"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

func TestPrepareValidatesAMIFields(t *testing.T) {
	tests := []struct {
		name string
		raw  []any
		want []string // error prefixes; none means valid
	}{
		{name: "name characters", raw: []any{"ami_name", "os:1.2*"}, want: []string{`ami_name "os:1.2*": only letters`}},
		{name: "name allowed characters", raw: []any{"ami_name", "Elemental (v1.2) [x] a/b-c'd@e_f"}},
		{name: "unknown name from a data source", raw: []any{"ami_name", "os-<unknown>"}},
		{name: "uefi_data not base64 with legacy-bios", raw: []any{"uefi_data", "!!", "boot_mode", "legacy-bios"},
			want: []string{"uefi_data: not base64", "uefi_data: needs boot_mode uefi or uefi-preferred"}},
		{name: "uefi_data base64", raw: []any{"uefi_data", "QU1aTlVFRkk="}},
		{name: "parent snapshot", raw: []any{"parent_snapshot_id", "snap-0123456789abcdef0"}},
		{name: "parent snapshot not a snapshot, with s3-import", raw: []any{"parent_snapshot_id", "ami-1", "import_method", "s3-import", "s3_bucket", "b"},
			want: []string{`parent_snapshot_id "ami-1": want a snapshot id`, "parent_snapshot_id: needs import_method ebs-direct"}},
		{name: "account ids", raw: []any{"ami_users", []string{"123456789012", "12345"}, "snapshot_users", []string{"me"}},
			want: []string{`ami_users[1] "12345": want a 12-digit`, `snapshot_users[0] "me": want a 12-digit`}},
		{name: "groups", raw: []any{"ami_groups", []string{"all", "everyone"}, "snapshot_groups", []string{"public"}},
			want: []string{`ami_groups[1] "everyone": the only group is all`, `snapshot_groups[0] "public": the only group is all`}},
		{name: "key formats", raw: []any{"encrypt_boot", true, "kms_key_id", regionKey, "ami_regions", []string{"eu-west-1", "us-west-2"},
			"region_kms_key_ids", map[string]string{"eu-west-1": "mrk-1234abcd12ab34cd56ef1234567890ab",
				"us-west-2": "arn:aws:kms:us-west-2:111122223333:alias/os"}}},
		{name: "bad key", raw: []any{"encrypt_boot", true, "kms_key_id", "my key"}, want: []string{`kms_key_id "my key": want a key ID`}},
		{name: "region key needs encryption", raw: []any{"ami_regions", []string{"eu-west-1"}, "region_kms_key_ids", map[string]string{"eu-west-1": "alias/os"}},
			want: []string{`region_kms_key_ids["eu-west-1"]: needs encrypt_boot = true`}},
		{name: "sharing with the default key", raw: []any{"region", "us-east-1", "encrypt_boot", true, "ami_org_arns", []string{"arn:aws:organizations::111122223333:organization/o-abc"},
			"ami_regions", []string{"eu-west-1", "us-west-2"}, "region_kms_key_ids", map[string]string{"us-west-2": "alias/os"}},
			want: []string{"ami_org_arns: an AMI encrypted with the account's default KMS key cannot be shared",
				"ami_org_arns: the copy in eu-west-1 would be encrypted with the default KMS key"}},
		{name: "sharing with customer keys", raw: []any{"region", "us-east-1", "encrypt_boot", true, "snapshot_users", []string{"111122223333"},
			"ami_regions", []string{"eu-west-1"}, "region_kms_key_ids", map[string]string{"us-east-1": regionKey, "eu-west-1": "alias/b"}}},
		{name: "sharing unencrypted", raw: []any{"ami_users", []string{"111122223333"}, "ami_regions", []string{"eu-west-1"}}},
		{name: "encrypted and public", raw: []any{"encrypt_boot", true, "ami_groups", []string{"all"}, "snapshot_groups", []string{"all"}},
			want: []string{"ami_groups: an encrypted AMI cannot be public", "snapshot_groups: an encrypted snapshot cannot be public"}},
		{name: "ebs-direct needs key ARNs in the build region", raw: []any{"region", "us-east-1", "encrypt_boot", true, "kms_key_id", "alias/os"},
			want: []string{`kms_key_id "alias/os": the ebs-direct import (StartSnapshot) needs a key ARN`}},
		{name: "region key of the build region", raw: []any{"region", "us-east-1", "encrypt_boot", true, "ami_regions", []string{"eu-west-1"},
			"region_kms_key_ids", map[string]string{"us-east-1": "1234abcd-12ab-34cd-56ef-1234567890ab", "eu-west-1": "alias/copies-may-use-aliases"}},
			want: []string{`region_kms_key_ids["us-east-1"] "1234abcd-12ab-34cd-56ef-1234567890ab": the ebs-direct import`}},
		{name: "s3-import takes aliases", raw: []any{"encrypt_boot", true, "kms_key_id", "alias/os", "import_method", "s3-import", "s3_bucket", "b"}},
		{name: "region names", raw: []any{"region", "US East", "ami_regions", []string{"eu-west-1", "mars"}},
			want: []string{`region "US East": not an AWS region name`, `ami_regions[1] "mars": not an AWS region name`}},
		{name: "skip_region_validation", raw: []any{"region", "local", "ami_regions", []string{"other"}, "skip_region_validation", true}},
		{name: "description length", raw: []any{"ami_description", strings.Repeat("é", 256)},
			want: []string{"ami_description: 256 characters, at most 255"}},
		{name: "root device", raw: []any{"ami_root_device", map[string]any{"device_name": "xvda", "volume_type": "gp4", "volume_size": -1}},
			want: []string{`ami_root_device.device_name "xvda": want a device`, `ami_root_device.volume_type "gp4": want one of`,
				"ami_root_device.volume_size: -1 GiB is not between 1 and 65536"}},
		{name: "root device valid", raw: []any{"ami_root_device", map[string]any{"device_name": "/dev/xvda", "volume_type": "gp3", "volume_size": 8}}},
		{name: "timeouts at the bounds", raw: []any{"request_timeout", "1ms", "snapshot_timeout", "10m"}},
		{name: "snapshot timeout at 72h", raw: []any{"snapshot_timeout", "72h"}},
		{name: "unknown timeouts from a data source", raw: []any{"request_timeout", "<unknown>", "snapshot_timeout", "<unknown>"}},
		{name: "request timeout not positive", raw: []any{"request_timeout", "0s"},
			want: []string{`request_timeout "0s": want a positive duration`}},
		{name: "request timeout negative", raw: []any{"request_timeout", "-5m"},
			want: []string{`request_timeout "-5m": want a positive duration`}},
		{name: "request timeout not a duration", raw: []any{"request_timeout", "5"},
			want: []string{`request_timeout "5": want a duration such as 5m`}},
		{name: "snapshot timeout under 10m", raw: []any{"snapshot_timeout", "9m"},
			want: []string{`snapshot_timeout "9m": want whole minutes from 10m to 72h`}},
		{name: "snapshot timeout over 72h", raw: []any{"snapshot_timeout", "72h1m"},
			want: []string{`snapshot_timeout "72h1m": want whole minutes from 10m to 72h`}},
		{name: "snapshot timeout not whole minutes", raw: []any{"snapshot_timeout", "10m30s"},
			want: []string{`snapshot_timeout "10m30s": want whole minutes from 10m to 72h`}},
		{name: "snapshot timeout not a duration", raw: []any{"snapshot_timeout", "2 hours"},
			want: []string{`snapshot_timeout "2 hours": want a duration such as 3h`}},
		{name: "-force allows force_delete_snapshot", raw: []any{"force_delete_snapshot", true, "packer_force", true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Builder
			_, _, err := b.Prepare(raw(tc.raw...))
			var got []string
			var m *packersdk.MultiError
			if errors.As(err, &m) {
				for _, e := range m.Errors {
					got = append(got, e.Error())
				}
			} else if err != nil {
				t.Fatalf("err = %v, want nil or a MultiError", err)
			}
			checkErrorPrefixes(t, got, tc.want)
		})
	}
}

func TestRegionKeyWinsInTheBuildRegion(t *testing.T) {
	var b Builder
	if _, _, err := b.Prepare(raw("region", "us-east-1", "encrypt_boot", true, "kms_key_id", "alias/a",
		"region_kms_key_ids", map[string]string{"us-east-1": regionKey})); err != nil {
		t.Fatal(err)
	}
	if got := b.specs.ami.KMSKeyID; got != regionKey {
		t.Errorf("build-region key %q, want region_kms_key_ids' %s (as packer-plugin-amazon)", got, regionKey)
	}
}

func TestPreparePublicAMI(t *testing.T) {
	var b Builder
	_, warns, err := b.Prepare(raw("ami_groups", []string{"all"}, "snapshot_groups", []string{"all"}))
	if err != nil {
		t.Fatal(err)
	}
	s := b.specs.ami
	if len(s.LaunchGroups) != 1 || s.LaunchGroups[0] != "all" || len(s.SnapshotGroups) != 1 || s.SnapshotGroups[0] != "all" {
		t.Errorf("groups: launch %v, snapshot %v; want all", s.LaunchGroups, s.SnapshotGroups)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "the AMI will be public") {
		t.Errorf("warnings %q, want one saying the AMI is public", warns)
	}
}
