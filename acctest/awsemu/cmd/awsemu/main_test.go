package main

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/acctest/cmdtest"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

func TestMain(m *testing.M) { cmdtest.Main(m, "awsemu", main) }

// start runs the command and waits for the last variable it prints.
func start(t *testing.T, args ...string) *cmdtest.Process {
	t.Helper()
	return cmdtest.Start(t, "awsemu", "AWS_EC2_METADATA_DISABLED", args...)
}

// TestStandalonePublishes points the real SDK, configured only through
// the variables the process prints (loaded the standard way), at the
// standalone emulator and publishes an AMI both ways: EBS direct, and S3 +
// ImportSnapshot into the bucket the command creates. The snapshots must
// hold the disk byte for byte. SIGTERM then stops the process cleanly.
func TestStandalonePublishes(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-delay", "10ms", "-buckets", "a-bucket,imports")
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_EBS", "AWS_ENDPOINT_URL_S3"} {
		if !strings.HasPrefix(s.Env[k], "http://127.0.0.1:") {
			t.Fatalf("printed %s=%q, want a loopback URL", k, s.Env[k])
		}
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	writeDisk(t, disk)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := sdkConfig(ctx, t, s)
	for _, tc := range []struct{ name, method, bucket string }{
		{"ebs-direct", publish.ImportEBSDirect, ""},
		{"s3-import", publish.ImportS3, "imports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := publish.Publish(ctx, cfg, disk, publish.Spec{
				Name: "standalone-" + tc.name, ImportMethod: tc.method, S3Bucket: tc.bucket,
			}, nil)
			if err != nil {
				t.Fatalf("publishing through the standalone emulator: %v", err)
			}
			region := cfg.Region
			ok, err := publish.Exists(ctx, cfg, region, res.AMIs[region])
			if err != nil || !ok {
				t.Fatalf("AMI %q in %s: exists=%v, %v", res.AMIs[region], region, ok, err)
			}
			snap, err := awsemu.ReadSnapshot(ctx, cfg, region, res.Snapshots[region])
			if err != nil {
				t.Fatal(err)
			}
			if err := snap.CompareFile(disk); err != nil {
				t.Fatal(err)
			}
		})
	}

	s.Stop(t)
}

// sdkConfig loads an aws.Config the standard way from only what the
// process printed: no profile or credentials file of the machine running
// the test takes part.
func sdkConfig(ctx context.Context, t *testing.T, s *cmdtest.Process) aws.Config {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	for k, v := range s.Env {
		t.Setenv(k, v)
	}
	cfg, err := publish.LoadConfig(ctx, publish.ConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestStandaloneFaults: the fault flags reach the emulator. A fatal fault
// on every RegisterImage fails the publish with the error AWS would send,
// and the publisher's cleanup leaves no snapshot behind.
func TestStandaloneFaults(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-delay", "10ms", "-fault-rate", "1", "-fault-ops", "RegisterImage", "-fault-kinds", "fatal")
	disk := filepath.Join(t.TempDir(), "disk.raw")
	writeDisk(t, disk)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := sdkConfig(ctx, t, s)
	_, err := publish.Publish(ctx, cfg, disk, publish.Spec{Name: "standalone-fatal"}, nil)
	if err == nil || !strings.Contains(err.Error(), "RegisterImage") {
		t.Fatalf("publish with a fatal RegisterImage fault: %v, want a RegisterImage error", err)
	}
	snaps, err := ec2.NewFromConfig(cfg).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps.Snapshots) != 0 {
		t.Fatalf("%d snapshots left after the failed publish, want 0: %v", len(snaps.Snapshots), *snaps.Snapshots[0].SnapshotId)
	}
}

// TestStandaloneRefusesBadFlags: a bad address or fault flag is named, and
// the command exits non-zero without serving.
func TestStandaloneRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct{ name, args, want string }{
		{"address", "-addr 127.0.0.1:notaport", "127.0.0.1:notaport"},
		{"fault kind", "-addr 127.0.0.1:0 -fault-rate 0.1 -fault-kinds 503,bogus", `-fault-kinds: unknown fault kind "bogus"`},
		{"fault rate", "-addr 127.0.0.1:0 -fault-rate 2", "-fault-rate 2 is not between 0 and 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cmdtest.Command("awsemu", strings.Fields(tc.args)...).CombinedOutput()
			if err == nil {
				t.Fatalf("awsemu %s exited 0:\n%s", tc.args, out)
			}
			if !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "export ") {
				t.Fatalf("awsemu %s: want an error containing %q and no environment printed:\n%s", tc.args, tc.want, out)
			}
		})
	}
}

// writeDisk writes a sparse 5 MiB raw disk with random data at its start,
// in its middle and at its end.
func writeDisk(t *testing.T, path string) {
	t.Helper()
	const mib = 1 << 20
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 2*mib + 4096, 5*mib - 512<<10} {
		b := make([]byte, 512<<10)
		_, _ = rand.Read(b)
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
