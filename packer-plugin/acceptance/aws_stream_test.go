package acceptance_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
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
			seen, puts := watch()
			if puts == 0 || (len(seen) > 0) != tc.wantRaw {
				t.Errorf("%d uploads; raw disks seen under TMPDIR during them: %v, want some = %v", puts, seen, tc.wantRaw)
			}
			if left := rawDisks(tmp); len(left) != 0 {
				t.Errorf("raw disks left under TMPDIR: %v", left)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "packer-elemental-*")); len(left) != 0 {
				t.Errorf("work directories left: %v", left)
			}
			res := emu.Resources()
			if len(res.Images) != 1 || len(res.Snapshots) != 1 || len(res.Objects) != 0 {
				t.Fatalf("AWS emulator holds %+v, want one image, one snapshot, no object", res)
			}
			if err := sameAsDisk(readSnapshot(t, url, res.Snapshots[0]), want); err != nil {
				t.Errorf("snapshot %s: %v", res.Snapshots[0], err)
			}
		})
	}
}

// streamReference builds the disk the template describes with
// installer.Run and returns it.
func streamReference(t *testing.T, src string) []byte {
	t.Helper()
	spec := installer.Spec{Source: src, SourceDateEpoch: streamEpoch, OutputDir: t.TempDir(), Name: "reference",
		Formats: []diskformat.Format{diskformat.Raw}, Sizes: installer.Sizes{Recovery: 64 << 20, State: 64 << 20}}
	res, err := installer.Run(t.Context(), spec)
	if err != nil {
		t.Fatalf("reference build: %v", err)
	}
	disk, err := os.ReadFile(res.Outputs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	return disk
}

// watchedAWS serves an AWS emulator with bucket bkt that, before every PUT
// (an EBS block or an S3 part), looks for raw disks under dir; watch
// returns those seen and the number of PUTs.
func watchedAWS(t *testing.T, dir string) (*awsemu.Emulator, string, func() ([]string, int)) {
	t.Helper()
	emu := awsemu.New(awsemu.Options{Delay: 50 * time.Millisecond})
	emu.CreateBucket("bkt")
	var mu sync.Mutex
	seen := map[string]bool{}
	puts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			found := rawDisks(dir)
			mu.Lock()
			puts++
			for _, f := range found {
				seen[f] = true
			}
			mu.Unlock()
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return emu, srv.URL, func() ([]string, int) {
		mu.Lock()
		defer mu.Unlock()
		out := make([]string, 0, len(seen))
		for f := range seen {
			out = append(out, f)
		}
		return out, puts
	}
}

// rawDisks lists the files under dir whose name says raw disk, finished
// or partial.
func rawDisks(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error { //nolint:errcheck // files come and go during a build
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), ".raw") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// readSnapshot reads a snapshot back through the EBS direct read APIs
// (ListSnapshotBlocks, GetSnapshotBlock, checksums checked): its blocks by
// index; blocks not listed read as zeros.
func readSnapshot(t *testing.T, url, snap string) map[int32][]byte {
	t.Helper()
	c := ebs.NewFromConfig(awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEMULATOR", "emulator", "")})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	blocks := map[int32][]byte{}
	for p := ebs.NewListSnapshotBlocksPaginator(c, &ebs.ListSnapshotBlocksInput{SnapshotId: &snap}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListSnapshotBlocks %s: %v", snap, err)
		}
		for _, b := range page.Blocks {
			idx := awssdk.ToInt32(b.BlockIndex)
			if blocks[idx], err = getBlock(ctx, c, snap, idx, awssdk.ToString(b.BlockToken)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return blocks
}

// sameAsDisk says how EBS blocks differ from disk, or nil when they hold
// exactly it (and only zeros past its end).
func sameAsDisk(blocks map[int32][]byte, disk []byte) error {
	const bs = awsemu.BlockSize
	got := make([]byte, len(disk))
	zero := make([]byte, bs)
	for i, b := range blocks {
		off := int64(i) * bs
		if len(b) != bs {
			return fmt.Errorf("block %d holds %d bytes, want %d", i, len(b), bs)
		}
		if off >= int64(len(disk)) {
			if !bytes.Equal(b, zero) {
				return fmt.Errorf("block %d lies past the %d-byte disk and holds data", i, len(disk))
			}
			continue
		}
		n := copy(got[off:], b)
		if !bytes.Equal(b[n:], zero[n:]) {
			return fmt.Errorf("block %d holds data past the end of the disk", i)
		}
	}
	for off := 0; off < len(disk); off += bs {
		end := min(off+bs, len(disk))
		if !bytes.Equal(got[off:end], disk[off:end]) {
			return fmt.Errorf("block %d differs from the reference disk", off/bs)
		}
	}
	return nil
}

func getBlock(ctx context.Context, c *ebs.Client, snap string, idx int32, token string) ([]byte, error) {
	out, err := c.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: &snap, BlockIndex: &idx, BlockToken: &token})
	if err != nil {
		return nil, fmt.Errorf("GetSnapshotBlock %s/%d: %w", snap, idx, err)
	}
	defer out.BlockData.Close()
	data, err := io.ReadAll(out.BlockData)
	if err != nil {
		return nil, fmt.Errorf("reading block %s/%d: %w", snap, idx, err)
	}
	sum := sha256.Sum256(data)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != awssdk.ToString(out.Checksum) {
		return nil, fmt.Errorf("block %s/%d: checksum %s, want %s", snap, idx, got, awssdk.ToString(out.Checksum))
	}
	return data, nil
}
