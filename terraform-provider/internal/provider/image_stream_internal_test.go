package provider

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// TestStreamsDisk: the disk is streamed exactly when AWS is the only
// target that needs it.
func TestStreamsDisk(t *testing.T) {
	ctx := context.Background()
	regions, _ := types.ListValueFrom(ctx, types.StringType, []string{"us-east-1"})
	aws := &awsImageModel{Regions: regions}
	for _, tc := range []struct {
		name string
		m    imageModel
		want bool
	}{
		{name: "aws only", m: imageModel{AWS: aws}, want: true},
		{name: "aws and disk", m: imageModel{AWS: aws, Disk: &diskModel{}}},
		{name: "aws and gcp", m: imageModel{AWS: aws, GCP: &gcpImageModel{}}},
		{name: "disk only", m: imageModel{Disk: &diskModel{}}},
		{name: "gcp only", m: imageModel{GCP: &gcpImageModel{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := streamsDisk(ctx, &tc.m)
			if err != nil || got != tc.want {
				t.Errorf("streamsDisk = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestBuildStreamed builds an AWS-only image against the emulator with
// TMPDIR pointed at an empty directory. A planned digest that is not the
// source's fails before any AWS call; the right one is streamed into a
// snapshot and registered. Nothing is left in TMPDIR either way.
func TestBuildStreamed(t *testing.T) {
	img, err := imagetest.Image(imagetest.Derivative(2, "A")...)
	if err != nil {
		t.Fatal(err)
	}
	src := imagetest.LayoutRef(t, img)
	dig, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		digest  string
		wantErr string
	}{
		{name: "planned digest differs: nothing uploaded", digest: "sha256:" + strings.Repeat("0", 64), wantErr: "at plan time"},
		{name: "planned digest matches: streamed and published", digest: dig.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := awsemu.New(awsemu.Options{Delay: time.Millisecond})
			srv := awsemu.NewServer(emu)
			t.Cleanup(srv.Close)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			ctx := context.Background()
			regions, _ := types.ListValueFrom(ctx, types.StringType, []string{"us-east-1"})
			m := imageModel{Source: types.StringValue(src), Digest: types.StringValue(tc.digest),
				Generation: types.StringUnknown(), AWS: &awsImageModel{Regions: regions}}
			r := &imageResource{data: &providerData{Version: "test", AWS: awsSettings{Region: "us-east-1",
				AccessKey: "AKIAEMULATOR", SecretKey: "emulator", EC2Endpoint: srv.URL, EBSEndpoint: srv.URL, S3Endpoint: srv.URL}}}
			err := r.build(ctx, &m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("build: %v, want an error with %q", err, tc.wantErr)
				}
				if calls := emu.Calls(); len(calls) > 0 {
					t.Errorf("AWS was called before the digest check failed: %v", calls)
				}
			} else {
				if err != nil {
					t.Fatalf("build: %v", err)
				}
				snaps := stringMap(ctx, m.AWSSnapshotIDs)
				blocks, ok := emu.SnapshotBlocks(snaps["us-east-1"])
				if !ok || len(blocks) == 0 || m.Generation.ValueString() != "v2" || !m.DiskFiles.IsNull() {
					t.Errorf("snapshot %v (%d blocks, found %v), generation %s, disk files %s", snaps, len(blocks), ok, m.Generation, m.DiskFiles)
				}
			}
			if ents, err := os.ReadDir(tmp); err != nil || len(ents) > 0 {
				t.Errorf("TMPDIR holds %v (%v)", ents, err)
			}
		})
	}
}
