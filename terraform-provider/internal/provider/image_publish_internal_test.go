package provider

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
	gcppub "github.com/elemental-suite/elemental/internal/publish/gcp"
)

func strList(vs ...string) types.List {
	l, _ := types.ListValueFrom(context.Background(), types.StringType, vs)
	return l
}

func strMap(m map[string]string) types.Map {
	v, _ := types.MapValueFrom(context.Background(), types.StringType, m)
	return v
}

// nullAWS is an aws block with every attribute null but regions.
func nullAWS(regions ...string) *awsImageModel {
	return &awsImageModel{Regions: strList(regions...), Name: types.StringNull(), Description: types.StringNull(),
		ShareAccounts: types.ListNull(types.StringType), Public: types.BoolNull(), OrgARNs: types.ListNull(types.StringType),
		OUARNs: types.ListNull(types.StringType), SnapshotAccounts: types.ListNull(types.StringType), SnapshotPublic: types.BoolNull(),
		Tags: types.MapNull(types.StringType), SnapshotTags: types.MapNull(types.StringType), BootMode: types.StringNull(),
		ENASupport: types.BoolNull(), SriovNetSupport: types.StringNull(), IMDSSupport: types.StringNull(),
		TPMSupport: types.StringNull(), UEFIData: types.StringNull(), RootDeviceName: types.StringNull(),
		VolumeType: types.StringNull(), VolumeSize: types.Int64Null(), DeleteOnTerm: types.BoolNull(),
		DeprecateAt: types.StringNull(), DeregProtection: types.ObjectNull(deregProtectionTypes), Encrypted: types.BoolNull(),
		KMSKeyID: types.StringNull(), RegionKMSKeyIDs: types.MapNull(types.StringType), SkipBuildRegion: types.BoolNull(),
		ParentSnap: types.StringNull(), ImportMethod: types.StringNull(), S3Bucket: types.StringNull(), Concurrency: types.Int64Null(),
		RequestTimeout: types.StringNull(), SnapshotTimeout: types.StringNull()}
}

func imageWith(a *awsImageModel, g *gcpImageModel) imageModel {
	return imageModel{ID: types.StringValue("abc"), Source: types.StringValue("reg/os:1"), Digest: types.StringValue("sha256:d"),
		Platform: types.StringValue("linux/arm64"), AWS: a, GCP: g}
}

// TestToAWSSpec checks that every attribute of the aws block reaches the
// publisher's spec, provenance included.
func TestToAWSSpec(t *testing.T) {
	ctx := context.Background()
	const key1, key2 = "alias/build", "arn:aws:kms:eu-west-1:111122223333:alias/copy"
	a := &awsImageModel{Regions: strList("us-east-1", "eu-west-1"), Name: types.StringValue("os"),
		Description: types.StringValue("desc"), ShareAccounts: strList("111122223333"), Public: types.BoolValue(false),
		OrgARNs: strList("arn:aws:organizations::111122223333:organization/o-1"),
		OUARNs:  strList("arn:aws:organizations::111122223333:ou/o-1/ou-1"), SnapshotAccounts: strList("444455556666"),
		SnapshotPublic: types.BoolValue(false), Tags: strMap(map[string]string{"team": "os"}),
		SnapshotTags: strMap(map[string]string{"kind": "snap"}), BootMode: types.StringValue("uefi"),
		ENASupport: types.BoolValue(false), SriovNetSupport: types.StringValue("simple"), IMDSSupport: types.StringValue("v2.0"),
		TPMSupport: types.StringValue("v2.0"), UEFIData: types.StringValue("QU1aTlVFRkk="),
		RootDeviceName: types.StringValue("/dev/sda1"), VolumeType: types.StringValue("io2"), VolumeSize: types.Int64Value(20),
		DeleteOnTerm: types.BoolValue(false), DeprecateAt: types.StringValue("2030-01-02T03:04:05Z"),
		DeregProtection: types.ObjectValueMust(deregProtectionTypes, map[string]attr.Value{
			"enabled": types.BoolValue(true), "with_cooldown": types.BoolValue(true)}),
		Encrypted: types.BoolValue(true), KMSKeyID: types.StringValue("alias/ignored"),
		RegionKMSKeyIDs: strMap(map[string]string{"us-east-1": key1, "eu-west-1": key2}), SkipBuildRegion: types.BoolValue(true),
		ParentSnap: types.StringValue("snap-0123"), ImportMethod: types.StringValue("ebs-direct"), S3Bucket: types.StringValue("bkt"),
		Concurrency: types.Int64Value(4), RequestTimeout: types.StringValue("90s"), SnapshotTimeout: types.StringValue("3h30m")}
	got, err := toAWSSpec(ctx, imageWith(a, nil), "terraform-provider-elemental test")
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	want := awspub.Spec{Region: "us-east-1", Regions: []string{"eu-west-1"}, Name: "os-abc", Description: "desc",
		Architecture: "arm64", BootMode: "uefi", ENASupport: &no, SriovSupport: &yes, IMDSSupport: "v2.0", TPMSupport: "v2.0",
		UEFIData: "QU1aTlVFRkk=", RootDeviceName: "/dev/sda1", VolumeType: "io2", VolumeSizeGiB: 20, DeleteOnTermination: false,
		Encrypted: true, KMSKeyID: key1, RegionKMSKeyIDs: map[string]string{"us-east-1": key1, "eu-west-1": key2},
		SkipSaveBuildRegion: true, LaunchUsers: []string{"111122223333"},
		OrgARNs: []string{"arn:aws:organizations::111122223333:organization/o-1"},
		OUARNs:  []string{"arn:aws:organizations::111122223333:ou/o-1/ou-1"}, SnapshotUsers: []string{"444455556666"},
		Tags: map[string]string{"team": "os"}, SnapshotTags: map[string]string{"kind": "snap"},
		DeprecateAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), DeregistrationProtection: true, ProtectionCooldown: true,
		ForceDeregister: true, ForceDeleteSnapshot: true, ImportMethod: "ebs-direct", ParentSnapshotID: "snap-0123",
		S3Bucket: "bkt", UploadConcurrency: 4, RequestTimeout: 90 * time.Second, SnapshotTimeout: 210 * time.Minute, Source: "reg/os:1", SourceDigest: "sha256:d",
		SuiteVersion: "terraform-provider-elemental test", Provenance: map[string]string{"elemental:build": "abc"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
}

// TestToAWSSpecDefaults: null attributes leave the publisher's defaults,
// except delete_on_termination (true) and snapshot_tags (tags).
func TestToAWSSpecDefaults(t *testing.T) {
	a := nullAWS("eu-west-1")
	a.Tags = strMap(map[string]string{"team": "os"})
	a.Public, a.SnapshotPublic = types.BoolValue(true), types.BoolValue(true)
	s, err := toAWSSpec(context.Background(), imageWith(a, nil), "v")
	if err != nil {
		t.Fatal(err)
	}
	if s.ENASupport != nil || s.SriovSupport != nil || !s.DeleteOnTermination || s.SnapshotTags["team"] != "os" ||
		s.Name != "elemental-abc" || s.RegionKMSKeyIDs != nil || s.LaunchUsers != nil ||
		!cmp.Equal(s.LaunchGroups, []string{"all"}) || !cmp.Equal(s.SnapshotGroups, []string{"all"}) ||
		s.RequestTimeout != 0 || s.SnapshotTimeout != 0 {
		t.Errorf("spec %+v", s)
	}
}

func TestToGCPSpec(t *testing.T) {
	ctx := context.Background()
	const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	sh := types.ObjectValueMust(shieldedTypes, map[string]attr.Value{"pk": types.StringValue(pem),
		"keks": strList(base64.StdEncoding.EncodeToString([]byte("kek"))), "dbs": strList(base64.StdEncoding.EncodeToString([]byte("db"))),
		"dbxs": strList(base64.StdEncoding.EncodeToString([]byte("dbx")))})
	g := &gcpImageModel{Project: types.StringNull(), Bucket: types.StringValue("b"), ObjectName: types.StringValue("o.tar.gz"),
		SkipClean: types.BoolValue(true), ImageName: types.StringValue("os"), Family: types.StringValue("fam"),
		Description: types.StringValue("d"), Labels: strMap(map[string]string{"team": "os"}), GuestOSFeatures: strList("GVNIC"),
		StorageLocations: strList("eu"), Licenses: strList("projects/p/global/licenses/l"), Shielded: sh,
		DeprecateAt: types.StringValue("2030-01-01T00:00:00Z"), ObsoleteAt: types.StringValue("2030-02-01T00:00:00Z"),
		DeleteAt: types.StringValue("2030-03-01T00:00:00Z"), CompressionLevel: types.Int64Value(1),
		UploadChunkSize: types.StringValue("8MiB")}
	got, err := toGCPSpec(ctx, imageWith(nil, g), "proj", "v")
	if err != nil {
		t.Fatal(err)
	}
	want := gcppub.Spec{ProjectID: "proj", Bucket: "b", ObjectName: "o.tar.gz", SkipClean: true, ImageName: "os-abc",
		Family: "fam", Description: "d", Labels: map[string]string{"team": "os"}, GuestOSFeatures: []string{"GVNIC"},
		StorageLocations: []string{"eu"}, Licenses: []string{"projects/p/global/licenses/l"}, Architecture: gcppub.ArchARM64,
		ShieldedInitialState: &gcppub.ShieldedState{PK: []byte(pem), KEKs: [][]byte{[]byte("kek")},
			DBs: [][]byte{[]byte("db")}, DBXs: [][]byte{[]byte("dbx")}},
		DeprecateAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), ObsoleteAt: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC),
		DeleteAt: time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC), GzipLevel: 1, ChunkSize: 8 << 20, Source: "reg/os:1", SourceDigest: "sha256:d", SuiteVersion: "v",
		Provenance: map[string]string{"elemental-build": "abc"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	g.GuestOSFeatures = types.ListValueMust(types.StringType, []attr.Value{})
	if got, _ := toGCPSpec(ctx, imageWith(nil, g), "proj", "v"); got.GuestOSFeatures == nil || len(got.GuestOSFeatures) != 0 {
		t.Errorf("an empty guest_os_features gave %v, want an empty non-nil list (no features)", got.GuestOSFeatures)
	}
}

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestCheckAWS(t *testing.T) {
	tests := []struct {
		name string
		set  func(a *awsImageModel)
		want []string // "attr: message prefix"
	}{
		{name: "valid", set: func(a *awsImageModel) {
			a.Encrypted, a.KMSKeyID = types.BoolValue(true), types.StringValue(keyARN)
			a.RegionKMSKeyIDs = strMap(map[string]string{"eu-west-1": "alias/k"})
		}},
		{name: "ebs-direct needs a key ARN", set: func(a *awsImageModel) {
			a.Encrypted, a.KMSKeyID = types.BoolValue(true), types.StringValue("alias/k")
		}, want: []string{`kms_key_id: "alias/k": the ebs-direct import (StartSnapshot) needs a key ARN in us-east-1`}},
		{name: "the first region's key wins and needs an ARN", set: func(a *awsImageModel) {
			a.Encrypted, a.KMSKeyID = types.BoolValue(true), types.StringValue(keyARN)
			a.RegionKMSKeyIDs = strMap(map[string]string{"us-east-1": "alias/k"})
		}, want: []string{`region_kms_key_ids: "alias/k": the ebs-direct import`}},
		{name: "s3-import takes aliases", set: func(a *awsImageModel) {
			a.Encrypted, a.KMSKeyID = types.BoolValue(true), types.StringValue("alias/k")
			a.ImportMethod, a.S3Bucket = types.StringValue("s3-import"), types.StringValue("b")
		}},
		{name: "tpm and uefi_data with legacy-bios", set: func(a *awsImageModel) {
			a.BootMode, a.TPMSupport, a.UEFIData = types.StringValue("legacy-bios"), types.StringValue("v2.0"), types.StringValue("AA==")
		}, want: []string{"tpm_support: needs boot_mode uefi", "uefi_data: needs boot_mode uefi or uefi-preferred"}},
		{name: "keys without encryption", set: func(a *awsImageModel) {
			a.KMSKeyID = types.StringValue("alias/k")
			a.Encrypted = types.BoolValue(false)
			a.RegionKMSKeyIDs = strMap(map[string]string{"ap-south-1": "alias/k"})
		}, want: []string{"kms_key_id: needs encrypted", `kms_key_id: "alias/k": the ebs-direct import`,
			"region_kms_key_ids: ap-south-1 is not one of regions",
			"region_kms_key_ids: ap-south-1: needs encrypted"}},
		{name: "encrypted and public", set: func(a *awsImageModel) {
			a.Encrypted, a.Public, a.SnapshotPublic = types.BoolValue(true), types.BoolValue(true), types.BoolValue(true)
		}, want: []string{"public: an encrypted AMI cannot be public", "snapshot_public: an encrypted snapshot cannot be public"}},
		{name: "s3-import without a bucket, with a parent", set: func(a *awsImageModel) {
			a.ImportMethod, a.ParentSnap = types.StringValue("s3-import"), types.StringValue("snap-1")
		}, want: []string{"s3_bucket: required with import_method", "parent_snapshot_id: needs import_method ebs-direct"}},
		{name: "skip the only region", set: func(a *awsImageModel) {
			a.Regions, a.SkipBuildRegion = strList("us-east-1"), types.BoolValue(true)
		}, want: []string{"skip_save_build_region: needs a second region"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := nullAWS("us-east-1", "eu-west-1")
			tt.set(a)
			var got []string
			for _, p := range checkAWS(context.Background(), a) {
				got = append(got, p.attr+": "+p.msg)
			}
			checkPrefixes(t, got, tt.want)
		})
	}
}

func TestCheckGCP(t *testing.T) {
	tests := []struct {
		name string
		g    gcpImageModel
		want []string
	}{
		{name: "valid", g: gcpImageModel{ImageName: types.StringValue("os"), Family: types.StringValue("os"),
			Labels: strMap(map[string]string{"team": "os"})}},
		{name: "schedule", g: gcpImageModel{DeprecateAt: types.StringValue("2030-02-01T00:00:00Z"),
			ObsoleteAt: types.StringValue("2030-01-01T00:00:00Z")},
			want: []string{"obsolete_at: 2030-01-01T00:00:00Z is before deprecate_at"}},
		{name: "names and labels", g: gcpImageModel{ImageName: types.StringValue("OS"), Family: types.StringValue("My_Family"),
			Labels: strMap(map[string]string{"Bad Key": "v"})},
			want: []string{`image_name: image name "OS-<id>"`, `family: image family "My_Family"`, `labels: label key "Bad Key"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g // zero values are null
			var got []string
			for _, p := range checkGCP(context.Background(), &g) {
				got = append(got, p.attr+": "+p.msg)
			}
			checkPrefixes(t, got, tt.want)
		})
	}
}

// checkPrefixes wants one entry of got per want, starting with it.
func checkPrefixes(t *testing.T, got, want []string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no problem starts with %q; got %q", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d: %q", len(got), len(want), got)
	}
}
