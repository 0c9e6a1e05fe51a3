package ami

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/elemental-suite/elemental/internal/installer"
	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

func raw(kv ...any) map[string]any {
	m := map[string]any{"packer_build_name": "ami", "source_image": "registry.example.com/os:1", "ami_name": "elemental-os"}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// regionKey is a well-formed KMS key ARN.
const regionKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestPrepareMapsAmazonNames(t *testing.T) {
	var b Builder
	gen, _, err := b.Prepare(raw("region", "eu-west-1", "platform", "linux/arm64", "ami_description", "d",
		"ami_regions", []string{"us-east-1"}, "ami_users", []string{"111122223333"}, "ami_org_arns", []string{"arn:aws:organizations::111122223333:organization/o-abc"},
		"ami_ou_arns", []string{"arn:aws:organizations::111122223333:ou/o-abc/ou-1"},
		"snapshot_users", []string{"444455556666"}, "tags", map[string]string{"a": "b"}, "snapshot_tags", map[string]string{"s": "t"},
		"encrypt_boot", true, "kms_key_id", "alias/os",
		"region_kms_key_ids", map[string]string{"us-east-1": regionKey}, "boot_mode", "uefi", "ena_support", false,
		"sriov_support", true, "imds_support", "v2.0", "tpm_support", "v2.0", "uefi_data", "QU1aTlVFRkk=",
		"ami_root_device", map[string]any{"device_name": "/dev/sda1", "volume_type": "io2", "volume_size": 20, "delete_on_termination": false},
		"deprecate_at", "2030-01-02T03:04:05Z",
		"deregistration_protection", map[string]any{"enabled": true, "with_cooldown": true},
		"packer_force", true, "force_delete_snapshot", true, "skip_save_build_region", true,
		"import_method", "s3-import", "s3_bucket", "bkt", "upload_concurrency", 4,
		"request_timeout", "90s", "snapshot_timeout", "3h30m"))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if len(gen) != 4 {
		t.Errorf("generated data keys = %v", gen)
	}
	yes, no := true, false
	want := publishaws.Spec{Region: "eu-west-1", Name: "elemental-os", Description: "d", Architecture: "arm64",
		BootMode: "uefi", ENASupport: &no, SriovSupport: &yes, IMDSSupport: "v2.0", TPMSupport: "v2.0", UEFIData: "QU1aTlVFRkk=",
		RootDeviceName: "/dev/sda1", VolumeType: "io2", VolumeSizeGiB: 20, DeleteOnTermination: false,
		Encrypted: true, KMSKeyID: "alias/os", Regions: []string{"us-east-1"}, RegionKMSKeyIDs: map[string]string{"us-east-1": regionKey},
		SkipSaveBuildRegion: true, LaunchUsers: []string{"111122223333"},
		OrgARNs:       []string{"arn:aws:organizations::111122223333:organization/o-abc"},
		OUARNs:        []string{"arn:aws:organizations::111122223333:ou/o-abc/ou-1"},
		SnapshotUsers: []string{"444455556666"}, Tags: map[string]string{"a": "b"}, SnapshotTags: map[string]string{"s": "t"},
		DeprecateAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), DeregistrationProtection: true, ProtectionCooldown: true,
		ForceDeregister: true, ForceDeleteSnapshot: true, ImportMethod: "s3-import", S3Bucket: "bkt", UploadConcurrency: 4,
		RequestTimeout: 90 * time.Second, SnapshotTimeout: 210 * time.Minute}
	if diff := cmp.Diff(want, b.specs.ami); diff != "" {
		t.Errorf("AMI spec (-want +got):\n%s", diff)
	}
	if b.specs.disk.OutputDir != "" || len(b.specs.disk.Formats) != 1 || b.specs.disk.Formats[0].String() != "raw" {
		t.Errorf("disk spec: dir %q formats %v, want a work directory and raw", b.specs.disk.OutputDir, b.specs.disk.Formats)
	}
}

func TestPrepareDefaults(t *testing.T) {
	var b Builder
	_, warns, err := b.Prepare(raw())
	if err != nil {
		t.Fatal(err)
	}
	s := b.specs.ami
	if s.ENASupport != nil || s.ForceDeregister || s.Architecture != "x86_64" || len(warns) != 0 {
		t.Errorf("defaults: ena %v, force %v, arch %s, warnings %q", s.ENASupport, s.ForceDeregister, s.Architecture, warns)
	}
	if s.RequestTimeout != 0 || s.SnapshotTimeout != 0 {
		t.Errorf("timeouts %v and %v, want zero (the publisher's defaults)", s.RequestTimeout, s.SnapshotTimeout)
	}
	if !s.DeleteOnTermination || s.RootDeviceName != "" || s.VolumeType != "" || s.VolumeSizeGiB != 0 {
		t.Errorf("root device defaults: delete on termination %v (want true), name %q, type %q, size %d",
			s.DeleteOnTermination, s.RootDeviceName, s.VolumeType, s.VolumeSizeGiB)
	}
}

func TestPrepareErrorsAtOnce(t *testing.T) {
	var b Builder
	_, _, err := b.Prepare(raw("source_image", nil, "ami_name", "x", "boot_mode", "bios", "imds_support", "v1",
		"tpm_support", "v2.0", "kms_key_id", "k", "skip_save_build_region", true, "import_method", "s3-import",
		"deprecate_at", "tomorrow", "region_kms_key_ids", map[string]string{"ap-south-1": "k"},
		"access_key", "AKIA", "upload_concurrency", -1, "force_delete_snapshot", true, "disk_size", "8X",
		"tag", kv("", "v"), "request_timeout", "soon", "snapshot_timeout", "90s"))
	var m *packersdk.MultiError
	if !errors.As(err, &m) {
		t.Fatalf("err = %v, want a MultiError", err)
	}
	var got []string
	for _, e := range m.Errors {
		got = append(got, e.Error())
	}
	want := []string{"source_image: required", "ami_name: required, 3 to 128 characters (got 1)",
		`boot_mode "bios"`, `imds_support "v1"`, "tpm_support: needs boot_mode uefi, not bios", "kms_key_id: needs encrypt_boot",
		`kms_key_id "k": want a key ID`, "skip_save_build_region: needs ami_regions", `s3_bucket: required with import_method = "s3-import"`,
		`deprecate_at "tomorrow"`, "region_kms_key_ids: ap-south-1 is neither region nor in ami_regions",
		`region_kms_key_ids["ap-south-1"]: needs encrypt_boot`, `region_kms_key_ids["ap-south-1"] "k": want a key ID`,
		"access_key and secret_key: set both or neither", "upload_concurrency: -1 is negative",
		"force_delete_snapshot: needs force_deregister", `disk_size: size "8X"`, "tag[0]: key is empty",
		`request_timeout "soon": want a duration`, `snapshot_timeout "90s": want whole minutes from 10m to 72h`}
	checkErrorPrefixes(t, got, want)
}

// checkErrorPrefixes checks that got has one error per entry of want, each
// starting with it, in any order.
func checkErrorPrefixes(t *testing.T, got, want []string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no error starts with %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

func TestPrepareFiltersSecrets(t *testing.T) {
	var b Builder
	if _, _, err := b.Prepare(raw("access_key", "AKIASECRETID", "secret_key", "s3cr3tkeyvalue", "token", "sessiontokenvalue")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"AKIASECRETID", "s3cr3tkeyvalue", "sessiontokenvalue"} {
		if got := packersdk.LogSecretFilter.FilterString("x " + s); strings.Contains(got, s) {
			t.Errorf("log filter let %q through", s)
		}
	}
}

func newState() *multistep.BasicStateBag {
	state := new(multistep.BasicStateBag)
	state.Put(diskbuild.StateUI, &packersdk.MockUi{})
	state.Put(diskbuild.StateResult, &installer.Result{Digest: "sha256:abc", Source: "reg/os:1",
		Outputs: []installer.Output{{Path: "/work/disk.raw"}}})
	return state
}

func TestStepPublishAMICleanup(t *testing.T) {
	res := &publishaws.Result{AMIs: map[string]string{"us-east-1": "ami-1", "eu-west-1": "ami-2"}, Snapshots: map[string]string{"us-east-1": "snap-1"}}
	tests := []struct {
		name       string
		halt       bool
		wantDelete bool
	}{
		{name: "success keeps the AMIs", halt: false, wantDelete: false},
		{name: "a later failure deletes them", halt: true, wantDelete: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotDisk string
			var gotSpec publishaws.Spec
			deleted := false
			step := &stepPublishAMI{Spec: publishaws.Spec{Name: "n"},
				Publish: func(_ context.Context, _ awssdk.Config, disk string, spec publishaws.Spec, p func(publishaws.Event)) (*publishaws.Result, error) {
					gotDisk, gotSpec = disk, spec
					p(publishaws.Event{Stage: "upload", Done: 5, Total: 10})
					p(publishaws.Event{Stage: "register", Region: "us-east-1"})
					return res, nil
				},
				Delete: func(_ context.Context, _ awssdk.Config, r *publishaws.Result, snaps bool) error {
					deleted = r == res && snaps
					return nil
				}}
			state := newState()
			if a := step.Run(context.Background(), state); a != multistep.ActionContinue {
				t.Fatalf("Run = %v", a)
			}
			if gotDisk != "/work/disk.raw" || gotSpec.Provenance["elemental:source-digest"] != "sha256:abc" {
				t.Errorf("published %s with provenance %v", gotDisk, gotSpec.Provenance)
			}
			if tc.halt {
				state.Put(multistep.StateHalted, true)
			}
			step.Cleanup(state)
			if deleted != tc.wantDelete {
				t.Errorf("deleted = %v, want %v", deleted, tc.wantDelete)
			}
		})
	}
}

func TestArtifact(t *testing.T) {
	var destroyed *publishaws.Result
	a := newArtifact(&publishaws.Result{AMIs: map[string]string{"us-west-2": "ami-b", "eu-west-1": "ami-a"},
		Snapshots: map[string]string{"us-west-2": "snap-b"}}, awssdk.Config{},
		&installer.Result{Digest: "sha256:abc", Source: "reg/os:1", OSRelease: map[string]string{"VERSION_ID": "1.2"}}, nil)
	a.delete = func(_ context.Context, _ awssdk.Config, r *publishaws.Result, _ bool) error {
		destroyed = r
		return nil
	}
	if got := a.Id(); got != "eu-west-1:ami-a,us-west-2:ami-b" {
		t.Errorf("Id = %q", got)
	}
	imgs, ok := a.State(registryimage.ArtifactStateURI).([]*registryimage.Image)
	if !ok || len(imgs) != 2 {
		t.Fatalf("HCP metadata = %#v", a.State(registryimage.ArtifactStateURI))
	}
	for _, img := range imgs {
		if img.ProviderName != "aws" || img.SourceImageID != "sha256:abc" || a.Amis[img.ProviderRegion] != img.ImageID || img.Labels["os_version"] != "1.2" {
			t.Errorf("HCP image = %+v", img)
		}
	}
	if err := a.Destroy(); err != nil || destroyed == nil || destroyed.AMIs["us-west-2"] != "ami-b" || destroyed.Snapshots["us-west-2"] != "snap-b" {
		t.Errorf("Destroy: %v, deleted %+v", err, destroyed)
	}
}

func TestPrepareMapsParentSnapshot(t *testing.T) {
	var b Builder
	if _, _, err := b.Prepare(raw("parent_snapshot_id", "snap-0123456789abcdef0")); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := b.specs.ami.ParentSnapshotID; got != "snap-0123456789abcdef0" {
		t.Errorf("ParentSnapshotID = %q", got)
	}
}

// The EBS direct method (the default) streams a prepared disk; only the
// S3 import builds a raw file first.
func TestDiskStepFollowsImportMethod(t *testing.T) {
	tests := []struct {
		name       string
		raw        []any
		wantStream bool
	}{
		{name: "default streams", wantStream: true},
		{name: "ebs-direct streams", raw: []any{"import_method", "ebs-direct"}, wantStream: true},
		{name: "s3-import builds a file", raw: []any{"import_method", "s3-import", "s3_bucket", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Builder
			if _, _, err := b.Prepare(raw(tc.raw...)); err != nil {
				t.Fatal(err)
			}
			switch step := b.diskStep(nil).(type) {
			case *diskbuild.StepPrepareDisk:
				if !tc.wantStream {
					t.Errorf("disk step %T, want StepBuildDisk", step)
				}
			case *diskbuild.StepBuildDisk:
				if tc.wantStream {
					t.Errorf("disk step %T, want StepPrepareDisk", step)
				}
			default:
				t.Errorf("disk step %T", step)
			}
		})
	}
}
