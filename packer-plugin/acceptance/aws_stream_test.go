package acceptance_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/installer/installertest"
)

// streamEpoch makes the AMI's disk and the reference disk equal.
const streamEpoch = 1700000000

// streamTemplate publishes the derivative with the import method of its
// variables; small state and recovery partitions keep the S3 upload (which
// sends the disk's holes as zeros) small.
const streamTemplate = `
variable "source_image" { type = string }
variable "import_method" { type = string }
variable "s3_bucket" {
  type    = string
  default = ""
}

source "elemental-aws" "ami" {
  source_image      = var.source_image
  ami_name          = "elemental-stream"
  import_method     = var.import_method
  s3_bucket         = var.s3_bucket
  source_date_epoch = 1700000000
  partition_sizes {
    recovery = "64M"
    state    = "64M"
  }
}

build { sources = ["source.elemental-aws.ami"] }
`

// TestBuildAWSStreams runs packer build of elemental-aws against the AWS
// emulator with each import method. With ebs-direct (the default) no raw
// disk exists under packer's TMPDIR at any upload request nor after the
// build; with s3-import one does while it uploads (which shows the look
// sees the build's files), and none after. Either way the snapshot, read
// back with ListSnapshotBlocks and GetSnapshotBlock, is byte for byte the
// disk installer.Run builds from the same source and options.
func TestBuildAWSStreams(t *testing.T) {
	e := newEnv(t)
	want := streamReference(t, e.derivRef)
	tests := []struct {
		name    string
		vars    []string
		wantRaw bool
		wantLog []string
	}{
		{name: "ebs-direct", vars: []string{"import_method=ebs-direct"},
			wantLog: []string{"Prepared a 514 MiB", "Streaming the disk to snapshot snap-", "(no local disk file)", "held in memory"}},
		{name: "s3-import", vars: []string{"import_method=s3-import", "s3_bucket=bkt"}, wantRaw: true,
			wantLog: []string{"Built a 514 MiB", "Publishing disk.raw as AMI", "import in us-east-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tmp := filepath.Join(dir, "tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			emu, url, watch := watchedAWS(t, tmp)
			tpl := filepath.Join(dir, "stream.pkr.hcl")
			if err := os.WriteFile(tpl, []byte(streamTemplate), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"build", "-var", "source_image=" + e.derivRef}
			for _, v := range tc.vars {
				args = append(args, "-var", v)
			}
			start := time.Now()
			log, err := e.runWithin(t, 10*time.Minute, dir, append(awsemu.Env(url), "TMPDIR="+tmp), append(args, tpl)...)
			if err != nil {
				t.Fatalf("packer build: %v\n%s", err, log)
			}
			t.Logf("packer build with %s took %s:\n%s", tc.name, time.Since(start).Round(100*time.Millisecond), log)
			for _, s := range tc.wantLog {
				if !strings.Contains(log, s) {
					t.Errorf("packer output lacks %q:\n%s", s, log)
				}
			}
			seen, puts := watch.Seen()
			if puts == 0 || (len(seen) > 0) != tc.wantRaw {
				t.Errorf("%d uploads; raw disks seen under TMPDIR during them: %v, want some = %v", puts, seen, tc.wantRaw)
			}
			if left := awsemu.RawDisks(tmp); len(left) != 0 {
				t.Errorf("raw disks left under TMPDIR: %v", left)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "packer-elemental-*")); len(left) != 0 {
				t.Errorf("work directories left: %v", left)
			}
			res := emu.Resources()
			if len(res.Images) != 1 || len(res.Snapshots) != 1 || len(res.Objects) != 0 {
				t.Fatalf("AWS emulator holds %+v, want one image, one snapshot, no object", res)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			snap, err := awsemu.ReadSnapshot(ctx, awsemu.Config(url), "us-east-1", res.Snapshots[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := snap.CompareFile(want); err != nil {
				t.Error(err)
			}
		})
	}
}

// streamReference builds the disk the template describes with
// installer.Run and returns its path.
func streamReference(t *testing.T, src string) string {
	t.Helper()
	_, disk := installertest.Reference(t, installer.Spec{Source: src, SourceDateEpoch: streamEpoch, Name: "reference",
		Formats: []diskformat.Format{diskformat.Raw}, Sizes: installer.Sizes{Recovery: 64 << 20, State: 64 << 20}})
	return disk
}

// watchedAWS serves an AWS emulator with bucket bkt through an
// awsemu.PutWatch on dir, which looks for raw disks under dir before
// every PUT (an EBS block or an S3 part).
func watchedAWS(t *testing.T, dir string) (*awsemu.Emulator, string, *awsemu.PutWatch) {
	t.Helper()
	emu := awsemu.New(awsemu.Options{Delay: 50 * time.Millisecond})
	emu.CreateBucket("bkt")
	watch := awsemu.WatchPuts(emu, dir)
	srv := httptest.NewServer(watch)
	t.Cleanup(srv.Close)
	return emu, srv.URL, watch
}
