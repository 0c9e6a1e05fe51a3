package ami_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/packer-plugin/builder/ami"
)

// epoch makes the disks of the builder and of the reference build equal.
const epoch = 1700000000

// partitionSizes is what both the builder (as template fields) and the
// reference build use: small partitions keep the S3 upload, which sends
// holes as zeros, small in the emulator's memory.
var partitionSizes = map[string]any{"recovery": "64M", "state": "64M"}

// TestRunStreams runs the whole builder in process against the AWS
// emulator with the default import method: no raw disk exists under the
// build's TMPDIR at any upload request nor afterwards, the UI says the disk
// streams, and the snapshot holds, byte for byte, the disk installer.Run
// writes from the same source and options. (The S3 import, whose 512 MiB
// upload takes a minute under the race detector, is tested by the
// acceptance tests.)
func TestRunStreams(t *testing.T) {
	src := derivative(t)
	want := referenceDisk(t, src)
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	emu, url, watch := emulator(t, tmp)
	t.Setenv("TMPDIR", tmp)
	var b ami.Builder
	if _, _, err := b.Prepare(map[string]any{"packer_build_name": "ami", "source_image": src, "ami_name": "elemental-test",
		"source_date_epoch": epoch, "partition_sizes": partitionSizes,
		"ami_root_device": map[string]any{"device_name": "/dev/sda1", "volume_type": "gp2", "volume_size": 3}}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	out := &syncBuffer{}
	ui := &packersdk.BasicUi{Writer: out, ErrorWriter: out, PB: &packersdk.NoopProgressTracker{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	art, err := b.Run(ctx, ui, &packersdk.MockHook{})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	log := out.String()
	for _, s := range []string{"Prepared a 514 MiB", "Streaming the disk to snapshot snap-", "(no local disk file)", "at most "} {
		if !strings.Contains(log, s) {
			t.Errorf("UI lacks %q:\n%s", s, log)
		}
	}
	if seen, puts := watch.Seen(); puts == 0 || len(seen) != 0 {
		t.Errorf("%d block uploads; raw disks seen under TMPDIR during them: %v", puts, seen)
	}
	if left := awsemu.RawDisks(tmp); len(left) != 0 {
		t.Errorf("raw disks left under TMPDIR after the build: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("the build left %v in TMPDIR", left)
	}
	if files := art.Files(); len(files) != 0 {
		t.Errorf("artifact lists files %v", files)
	}
	checkArtifact(t, art, emu, url, want)
	checkRootDevice(t, url, emu.Resources().Images[0])
}

// checkRootDevice reads the AMI back through the EC2 API: ami_root_device
// reached RegisterImage, and delete_on_termination defaults to true.
func checkRootDevice(t *testing.T, url, id string) {
	t.Helper()
	cfg := awsemu.Config(url)
	cfg.Region = "us-east-1"
	out, err := ec2.NewFromConfig(cfg).DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil || len(out.Images) != 1 {
		t.Fatalf("describing %s: %v", id, err)
	}
	img := out.Images[0]
	if aws.ToString(img.RootDeviceName) != "/dev/sda1" || len(img.BlockDeviceMappings) != 1 || img.BlockDeviceMappings[0].Ebs == nil {
		t.Fatalf("AMI %s root device %q, mappings %+v", id, aws.ToString(img.RootDeviceName), img.BlockDeviceMappings)
	}
	if e := img.BlockDeviceMappings[0].Ebs; e.VolumeType != "gp2" || aws.ToInt32(e.VolumeSize) != 3 || !aws.ToBool(e.DeleteOnTermination) {
		t.Errorf("AMI %s root volume %s, %d GiB, delete on termination %v; want gp2, 3, true", id, e.VolumeType,
			aws.ToInt32(e.VolumeSize), aws.ToBool(e.DeleteOnTermination))
	}
}

// checkArtifact compares the one snapshot, read back through the SDK from
// the emulator at url, with the reference disk and the generated data and
// HCP labels with the reference build.
func checkArtifact(t *testing.T, art packersdk.Artifact, emu *awsemu.Emulator, url string, want *reference) {
	t.Helper()
	a := art.(*ami.Artifact)
	res := emu.Resources()
	if len(res.Images) != 1 || len(res.Snapshots) != 1 || a.Snapshots["us-east-1"] != res.Snapshots[0] {
		t.Fatalf("emulator holds %+v, artifact snapshots %v", res, a.Snapshots)
	}
	snap, err := awsemu.ReadSnapshot(context.Background(), awsemu.Config(url), "us-east-1", res.Snapshots[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Compare(want.disk); err != nil {
		t.Error(err)
	}
	gd, _ := a.State("generated_data").(map[string]any)
	if gd["SourceImageDigest"] != want.res.Digest || gd["Generation"] != "v2" || gd["KernelVersion"] != want.res.KernelVersion || gd["OSVersion"] != "1.2.3" {
		t.Errorf("generated data %v, want digest %s, v2, kernel %s, 1.2.3", gd, want.res.Digest, want.res.KernelVersion)
	}
	if !strings.Contains(a.String(), "us-east-1:"+res.Images[0]) {
		t.Errorf("artifact %q does not name %s", a.String(), res.Images[0])
	}
}
