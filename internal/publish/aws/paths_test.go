package aws_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

func TestPublishForceDeregister(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	ctx := context.Background()
	path, disk := makeDisk(t, 64*mib, defaultChunks(64*mib), 2)
	spec := publish.Spec{Name: "elemental-force", Regions: []string{"us-west-2"}, DeregistrationProtection: true}
	first, err := publish.Publish(ctx, cfg, path, spec, nil)
	if err != nil {
		t.Fatalf("first Publish: %v", err)
	}
	before := emu.Resources()

	_, err = publish.Publish(ctx, cfg, path, spec, nil)
	if err == nil || !strings.Contains(err.Error(), "InvalidAMIName.Duplicate") {
		t.Fatalf("second Publish without force: err = %v, want InvalidAMIName.Duplicate", err)
	}
	if after := emu.Resources(); !equalResources(before, after) {
		t.Fatalf("failed Publish left resources: before %+v, after %+v", before, after)
	}

	spec.ForceDeregister, spec.ForceDeleteSnapshot = true, true
	second, err := publish.Publish(ctx, cfg, path, spec, nil)
	if err != nil {
		t.Fatalf("forced Publish: %v", err)
	}
	for r, ami := range first.AMIs {
		if ok, err := publish.Exists(ctx, cfg, r, ami); err != nil || ok {
			t.Errorf("old AMI %s in %s still exists (%v)", ami, r, err)
		}
		if _, ok := emu.SnapshotBlocks(first.Snapshots[r]); ok {
			t.Errorf("old snapshot %s in %s was not deleted", first.Snapshots[r], r)
		}
		if second.AMIs[r] == ami {
			t.Errorf("new AMI in %s has the old id %s", r, ami)
		}
		checkVolume(t, readSnapshot(t, cfg, r, second.Snapshots[r], 0), disk)
	}
	if err := publish.Delete(ctx, cfg, second, true); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, emu)
}

func equalResources(a, b awsemu.Resources) bool {
	return strings.Join(a.Snapshots, ",") == strings.Join(b.Snapshots, ",") &&
		strings.Join(a.Images, ",") == strings.Join(b.Images, ",") && a.Empty() == b.Empty() &&
		len(a.Objects) == len(b.Objects) && len(a.Uploads) == len(b.Uploads) && len(a.ImportTasks) == len(b.ImportTasks)
}

func TestPublishEncryptedUploadsEveryBlock(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	ctx := context.Background()
	path, disk := makeDisk(t, 64*mib, defaultChunks(64*mib), 3)
	spec := publish.Spec{
		Name: "elemental-encrypted", Encrypted: true, KMSKeyID: "arn:aws:kms:us-east-1:123456789012:key/build",
		Regions: []string{"eu-central-1"}, RegionKMSKeyIDs: map[string]string{"eu-central-1": "arn:aws:kms:eu-central-1:123456789012:key/copy"},
		UploadConcurrency: 32,
	}
	start := time.Now()
	res, err := publish.Publish(ctx, cfg, path, spec, nil)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	t.Logf("encrypted publish took %v", time.Since(start))
	// A 64 MiB disk makes a 1 GiB volume: 2048 blocks, all written.
	if res.BlocksUploaded != 2048 {
		t.Errorf("uploaded %d blocks, want every block of the 1 GiB volume (2048)", res.BlocksUploaded)
	}
	blocks, _ := emu.SnapshotBlocks(res.Snapshots["us-east-1"])
	if len(blocks) != 2048 {
		t.Errorf("snapshot holds %d blocks, want 2048", len(blocks))
	}
	for r, key := range map[string]string{"us-east-1": spec.KMSKeyID, "eu-central-1": spec.RegionKMSKeyIDs["eu-central-1"]} {
		out, err := ec2c(cfg, r).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{res.Snapshots[r]}})
		if err != nil || len(out.Snapshots) != 1 {
			t.Fatalf("DescribeSnapshots in %s: %v", r, err)
		}
		if s := out.Snapshots[0]; !aws.ToBool(s.Encrypted) || aws.ToString(s.KmsKeyId) != key {
			t.Errorf("snapshot in %s: encrypted %v key %q, want key %q", r, aws.ToBool(s.Encrypted), aws.ToString(s.KmsKeyId), key)
		}
	}
	// Read the build region back through the API; the copy must hold the
	// same blocks.
	back := readSnapshot(t, cfg, "us-east-1", res.Snapshots["us-east-1"], int64(len(disk)))
	if back.Unread+len(back.Blocks) != 2048 {
		t.Errorf("ListSnapshotBlocks lists %d blocks, want 2048", back.Unread+len(back.Blocks))
	}
	checkVolume(t, back, disk)
	for i, b := range blocks {
		if int64(i)*awsemu.BlockSize >= int64(len(disk)) && b != nil {
			t.Fatalf("block %d past the disk holds data", i)
		}
	}
	copied, _ := emu.SnapshotBlocks(res.Snapshots["eu-central-1"])
	if len(copied) != len(blocks) {
		t.Fatalf("copy holds %d blocks, source %d", len(copied), len(blocks))
	}
	for i, b := range blocks {
		if !bytes.Equal(copied[i], b) {
			t.Fatalf("copy differs from source at block %d", i)
		}
	}
	if err := publish.Delete(ctx, cfg, res, true); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, emu)
}

func TestPublishS3Import(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	emu.CreateBucket("import-bucket")
	ctx := context.Background()
	path, disk := makeDisk(t, 100*mib, defaultChunks(100*mib), 4)
	// 8 snapshot tags: with the provenance and the run tag more than the
	// 10 an S3 object takes, so the object carries only the provenance.
	snapTags := map[string]string{}
	for _, k := range strings.Split("a b c d e f g h", " ") {
		snapTags[k] = "v"
	}
	spec := publish.Spec{
		Name: "elemental-s3", ImportMethod: publish.ImportS3, S3Bucket: "import-bucket", SnapshotTags: snapTags,
		BootMode: "legacy-bios", Architecture: "arm64", Provenance: provenance, UploadConcurrency: 4,
	}
	var object string
	var objectTags, taskTags []types.Tag
	res, err := publish.Publish(ctx, cfg, path, spec, func(e publish.Event) {
		switch e.Stage {
		case "upload":
			object = strings.TrimPrefix(e.ID, "s3://import-bucket/")
		case "import": // the object and the task exist now
			ot, err := s3.NewFromConfig(cfg).GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("import-bucket"), Key: &object})
			if err != nil {
				t.Errorf("GetObjectTagging %s: %v", object, err)
				return
			}
			for _, tg := range ot.TagSet {
				objectTags = append(objectTags, types.Tag{Key: tg.Key, Value: tg.Value})
			}
			tasks, err := ec2c(cfg, "us-east-1").DescribeImportSnapshotTasks(ctx, &ec2.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{e.ID}})
			if err != nil || len(tasks.ImportSnapshotTasks) != 1 {
				t.Errorf("DescribeImportSnapshotTasks %s: %v", e.ID, err)
				return
			}
			taskTags = tasks.ImportSnapshotTasks[0].Tags
		}
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	checkTags(t, "object "+object, objectTags, provenance)
	checkTags(t, "import task", taskTags, mergeMaps(snapTags, provenance))
	if res.BytesUploaded != 100*mib {
		t.Errorf("uploaded %d bytes, want the whole %d-byte disk", res.BytesUploaded, 100*mib)
	}
	checkVolume(t, readSnapshot(t, cfg, "us-east-1", res.Snapshots["us-east-1"], 0), disk)
	snaps, err := ec2c(cfg, "us-east-1").DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{res.Snapshots["us-east-1"]}})
	if err != nil || len(snaps.Snapshots) != 1 {
		t.Fatalf("DescribeSnapshots: %v", err)
	}
	checkTags(t, res.Snapshots["us-east-1"], snaps.Snapshots[0].Tags, mergeMaps(snapTags, provenance))
	out, err := ec2c(cfg, "us-east-1").DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{res.AMIs["us-east-1"]}})
	if err != nil || len(out.Images) != 1 || out.Images[0].BootMode != "legacy-bios" || out.Images[0].Architecture != "arm64" {
		t.Fatalf("DescribeImages: %v %+v", err, out)
	}
	if calls := emu.Calls(); calls["ImportSnapshot"] != 1 || calls["UploadPart"] != 7 || calls["StartSnapshot"] != 0 {
		t.Errorf("calls %v: want 1 ImportSnapshot, 7 UploadPart (16 MiB parts), no StartSnapshot", calls)
	}
	objs, err := s3.NewFromConfig(cfg).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("import-bucket")})
	if err != nil || len(objs.Contents) != 0 {
		t.Fatalf("bucket after import: %v, %d objects", err, len(objs.Contents))
	}
	if err := publish.Delete(ctx, cfg, res, true); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, emu)
}

func TestPublishLoadConfigFromEnvironment(t *testing.T) {
	emu, cfg := newEmulator(t, awsemu.Options{})
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	for _, kv := range awsemu.Env(aws.ToString(cfg.BaseEndpoint)) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	envCfg, err := publish.LoadConfig(context.Background(), publish.ConfigOptions{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	path, _ := makeDisk(t, 64*mib, []chunk{{0, 1 * mib}}, 5)
	res, err := publish.Publish(context.Background(), envCfg, path, publish.Spec{Name: "elemental-env"}, nil)
	if err != nil {
		t.Fatalf("Publish with environment config: %v", err)
	}
	if _, ok := res.AMIs["eu-west-1"]; !ok {
		t.Fatalf("AMIs %v, want one in eu-west-1", res.AMIs)
	}
	if n := emu.Calls()["PutSnapshotBlock"]; n != 2 {
		t.Errorf("PutSnapshotBlock calls = %d, want 2 (1 MiB of data)", n)
	}
}

func TestPublishRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	_, cfg := newEmulator(t, awsemu.Options{})
	path, _ := makeDisk(t, 64*mib, []chunk{{0, 1 * mib}}, 6)
	tests := []struct {
		name string
		spec publish.Spec
	}{
		{"no name", publish.Spec{}},
		{"bad arch", publish.Spec{Name: "abc", Architecture: "mips"}},
		{"bad boot mode", publish.Spec{Name: "abc", BootMode: "bios"}},
		{"tpm needs uefi", publish.Spec{Name: "abc", BootMode: "uefi-preferred", TPMSupport: "v2.0"}},
		{"kms without encryption", publish.Spec{Name: "abc", KMSKeyID: "k"}},
		{"skip build region alone", publish.Spec{Name: "abc", SkipSaveBuildRegion: true}},
		{"s3 without bucket", publish.Spec{Name: "abc", ImportMethod: publish.ImportS3}},
		{"kms key for other region", publish.Spec{Name: "abc", Encrypted: true, RegionKMSKeyIDs: map[string]string{"ap-south-1": "k"}}},
		{"description too long", publish.Spec{Name: "abc", Description: strings.Repeat("d", 256)}},
		{"key alias for ebs direct", publish.Spec{Name: "abc", Encrypted: true, KMSKeyID: "alias/os"}},
		{"key id for ebs direct", publish.Spec{Name: "abc", Encrypted: true, KMSKeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{"uefi data with legacy bios", publish.Spec{Name: "abc", BootMode: "legacy-bios", UEFIData: "QUJD"}},
		{"snapshot timeout too short", publish.Spec{Name: "abc", SnapshotTimeout: 5 * time.Minute}},
		{"snapshot timeout not minutes", publish.Spec{Name: "abc", SnapshotTimeout: 90*time.Second + 10*time.Minute}},
		{"snapshot timeout too long", publish.Spec{Name: "abc", SnapshotTimeout: 73 * time.Hour}},
		{"volume too small", publish.Spec{Name: "abc", VolumeSizeGiB: 0}},
	}
	tests[len(tests)-1].spec.VolumeSizeGiB = -1
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := publish.Publish(context.Background(), cfg, path, tc.spec, nil)
			if !errors.Is(err, publish.ErrInvalidSpec) {
				t.Fatalf("err = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestPublishSkipSaveBuildRegion(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{})
	path, disk := makeDisk(t, 64*mib, defaultChunks(64*mib), 7)
	res, err := publish.Publish(context.Background(), cfg, path,
		publish.Spec{Name: "elemental-skip", Regions: []string{"us-east-2"}, SkipSaveBuildRegion: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AMIs) != 1 || res.AMIs["us-east-2"] == "" {
		t.Fatalf("AMIs %v, want only us-east-2", res.AMIs)
	}
	if got := emu.Resources(); len(got.Images) != 1 || len(got.Snapshots) != 1 {
		t.Fatalf("emulator holds %+v, want one image and one snapshot", got)
	}
	checkVolume(t, readSnapshot(t, cfg, "us-east-2", res.Snapshots["us-east-2"], 0), disk)
}
