package acceptance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// qemuImg runs qemu-img and returns its output.
func qemuImg(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skipf("acceptance test needs qemu-img: %v", err)
	}
}

func TestBuildDiskExample(t *testing.T) {
	e := newEnv(t)
	needQemuImg(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	log, err := e.run(t, dir, nil, "build", "-var", "source_image="+e.derivRef, "-var", "output_directory="+out, e.example("disk.pkr.hcl"))
	if err != nil {
		t.Fatalf("packer build: %v\n%s", err, log)
	}
	base := filepath.Join(out, "elemental-"+e.derivVer)
	info := qemuImg(t, "info", "--output=json", base+".qcow2")
	var qi struct {
		Format      string `json:"format"`
		VirtualSize int64  `json:"virtual-size"`
	}
	if err := json.Unmarshal([]byte(info), &qi); err != nil {
		t.Fatal(err)
	}
	if qi.Format != "qcow2" || qi.VirtualSize != 8<<30 {
		t.Errorf("qcow2: format %s, virtual size %d; want qcow2, 8 GiB", qi.Format, qi.VirtualSize)
	}
	if got := qemuImg(t, "compare", "-f", "qcow2", "-F", "raw", base+".qcow2", base+".raw"); !strings.Contains(got, "Images are identical") {
		t.Errorf("qcow2 and raw differ: %s", got)
	}
	qemuImg(t, "check", base+".qcow2")
	// Generated data reached the provisioner and the manifest.
	if !strings.Contains(log, "built sha256:") || !strings.Contains(log, "(toolkit v2, kernel "+imagetest.KernelVersion+")") {
		t.Errorf("shell-local did not see the generated data:\n%s", log)
	}
	manifest, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil || !bytes.Contains(manifest, []byte(`"builder_type": "elemental"`)) || !bytes.Contains(manifest, []byte(`"artifact_id": "sha256:`)) {
		t.Errorf("manifest: %v\n%s", err, manifest)
	}
	// A second build without -force refuses to overwrite; with -force it works.
	if log, err := e.run(t, dir, nil, "build", "-var", "source_image="+e.derivRef, "-var", "output_directory="+out, e.example("disk.pkr.hcl")); err == nil || !strings.Contains(log, "-force") {
		t.Errorf("rebuild without -force: %v\n%s", err, log)
	}
	if log, err := e.run(t, dir, nil, "build", "-force", "-var", "source_image="+e.derivRef, "-var", "output_directory="+out, e.example("disk.pkr.hcl")); err != nil {
		t.Errorf("rebuild with -force: %v\n%s", err, log)
	}
}

// emulators starts the AWS and GCP emulators and returns the environment
// and variables that point the plugin at them.
func emulators(t *testing.T, awsDelay time.Duration) (*awsemu.Emulator, *gcpemu.Emulator, []string, []string) {
	t.Helper()
	aws := awsemu.New(awsemu.Options{Delay: awsDelay})
	srv := awsemu.NewServer(aws)
	t.Cleanup(srv.Close)
	gcp, err := gcpemu.Start(gcpemu.Options{Buckets: []string{"images"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gcp.Close() })
	envv := append(awsemu.Env(srv.URL), gcp.Env()...)
	vars := []string{"-var", "compute_endpoint=" + gcp.ComputeEndpoint(), "-var", "skip_authentication=true",
		"-var", "project_id=test-project", "-var", "bucket=images"}
	return aws, gcp, envv, vars
}

func TestBuildAllFromOneDerivative(t *testing.T) {
	e := newEnv(t)
	needQemuImg(t)
	aws, gcp, envv, vars := emulators(t, 50*time.Millisecond)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	args := append([]string{"build", "-var", "source_image=" + e.derivRef, "-var", "output_directory=" + out}, vars...)
	log, err := e.run(t, dir, envv, append(args, e.example("all.pkr.hcl"))...)
	if err != nil {
		t.Fatalf("packer build: %v\n%s", err, log)
	}
	name := "elemental-" + strings.ReplaceAll(e.derivVer, ".", "-")
	qcow := filepath.Join(out, name+".qcow2")
	raw := filepath.Join(dir, "disk.raw")
	qemuImg(t, "convert", "-f", "qcow2", "-O", "raw", qcow, raw)
	disk, err := os.Open(raw) // GiBs, mostly holes: compared block by block
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()

	// AWS: one AMI whose snapshot holds exactly the disk.
	res := aws.Resources()
	if len(res.Images) != 1 || len(res.Snapshots) != 1 {
		t.Fatalf("AWS emulator holds %+v, want one image and one snapshot", res)
	}
	if !strings.Contains(log, "us-east-1:"+res.Images[0]) {
		t.Errorf("artifact id does not name %s:\n%s", res.Images[0], log)
	}
	blocks, _ := aws.SnapshotBlocks(res.Snapshots[0])
	checkSnapshot(t, disk, blocks)
	checkTags(t, envv, res.Images[0], res.Snapshots[0], name, e.derivVer)

	// GCP: the image's disk.raw equals the disk (padded to a GiB).
	_, archive, err := gcp.Image("test-project", name)
	if err != nil {
		t.Fatalf("GCE image %s: %v", name, err)
	}
	want, _, err := gcpemu.DigestDisk(io.NewSectionReader(disk, 0, math.MaxInt64))
	if err != nil {
		t.Fatal(err)
	}
	if archive.DiskDigest != want {
		t.Errorf("GCE disk.raw digest %s, want %s", archive.DiskDigest, want)
	}
	if objs, _ := gcp.Objects("images"); len(objs) != 0 {
		t.Errorf("bucket still holds %v after the import", objs)
	}
}

// checkSnapshot compares EBS blocks (512 KiB) with the disk file.
func checkSnapshot(t *testing.T, disk *os.File, blocks map[int32][]byte) {
	t.Helper()
	const bs = 512 << 10
	fi, err := disk.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	want := make([]byte, bs)
	for i := int64(0); i*bs < size; i++ {
		n, err := disk.ReadAt(want, i*bs)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		got, ok := blocks[int32(i)]
		if !ok {
			if !allZero(want[:n]) {
				t.Fatalf("snapshot lacks block %d, which holds data", i)
			}
			continue
		}
		if !bytes.Equal(got[:n], want[:n]) {
			t.Fatalf("snapshot block %d differs from the disk", i)
		}
	}
	for i := range blocks {
		if int64(i)*bs >= size && !allZero(blocks[i]) {
			t.Fatalf("snapshot block %d lies past the disk and holds data", i)
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestInterruptedBuildLeavesNothing(t *testing.T) {
	e := newEnv(t)
	aws, _, envv, _ := emulators(t, 3*time.Second) // snapshots stay pending for a while
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	envv = append(envv, "TMPDIR="+tmp)
	interrupted := make(chan struct{})
	var once sync.Once
	cmd, done := e.start(t, dir, envv, func(line string) {
		if strings.Contains(line, "Streaming the disk to snapshot") || strings.Contains(line, "register in") {
			once.Do(func() { close(interrupted) })
		}
	}, "build", "-var", "source_image="+e.derivRef, e.example("aws.pkr.hcl"))
	var log string
	select {
	case <-interrupted:
		// Ctrl-C: the whole process group, packer and its plugins.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) //nolint:errcheck // checked through the exit status
		log = <-done
	case log = <-done:
		t.Fatalf("the build ended before reaching the upload:\n%s", log)
	case <-time.After(2 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // the test fails anyway
		t.Fatal("the build never reached the upload")
	}
	t.Logf("interrupted packer build:\n%s", log)
	if cmd.ProcessState == nil || cmd.ProcessState.Success() {
		t.Errorf("interrupted packer exited successfully:\n%s", log)
	}
	if res := aws.Resources(); !res.Empty() {
		t.Errorf("interrupted build left AWS resources %+v\n%s", res, log)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "packer-elemental-*"))
	if len(left) != 0 {
		t.Errorf("interrupted build left work directories %v", left)
	}
}

// checkTags reads the tags of the AMI and its snapshot back from the AWS
// emulator: all.pkr.hcl sets them with a `tags` map, a `tag` block and a
// dynamic `snapshot_tag` block, beside the builder's provenance tags.
func checkTags(t *testing.T, envv []string, ami, snap, name, version string) {
	t.Helper()
	amiTags, snapTags := ec2Tags(t, envv, ami), ec2Tags(t, envv, snap)
	digest := amiTags["elemental:source-digest"]
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("AMI %s lacks the provenance tag elemental:source-digest: %v", ami, amiTags)
	}
	for _, tags := range []map[string]string{amiTags, snapTags} {
		if v := tags["elemental:suite-version"]; !strings.HasPrefix(v, "packer-plugin-elemental ") {
			t.Errorf("provenance tag elemental:suite-version = %q, want the plugin's version", v)
		}
	}
	wantAMI := map[string]string{"Name": name, "SourceDigest": digest}
	wantSnap := map[string]string{"OSVersion": version, "Builder": "packer"}
	for _, c := range []struct {
		id        string
		got, want map[string]string
	}{{ami, amiTags, wantAMI}, {snap, snapTags, wantSnap}} {
		user := map[string]string{}
		for k, v := range c.got {
			if !strings.HasPrefix(k, "elemental:") {
				user[k] = v
			}
		}
		if diff := cmp.Diff(c.want, user); diff != "" {
			t.Errorf("tags of %s besides the provenance tags (-want +got):\n%s", c.id, diff)
		}
	}
}

// ec2Tags returns the tags of a resource, through the EC2 API of the
// emulator that envv points at.
func ec2Tags(t *testing.T, envv []string, id string) map[string]string {
	t.Helper()
	var endpoint string
	for _, kv := range envv {
		if v, ok := strings.CutPrefix(kv, "AWS_ENDPOINT_URL_EC2="); ok {
			endpoint = v
		}
	}
	cfg := awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEMULATOR", "emulator", "")}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := ec2.NewFromConfig(cfg).DescribeTags(ctx, &ec2.DescribeTagsInput{
		Filters: []ec2types.Filter{{Name: awssdk.String("resource-id"), Values: []string{id}}}})
	if err != nil {
		t.Fatalf("DescribeTags %s: %v", id, err)
	}
	tags := map[string]string{}
	for _, d := range out.Tags {
		tags[awssdk.ToString(d.Key)] = awssdk.ToString(d.Value)
	}
	return tags
}
