package aws_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// TestPublishStartSnapshotParameters checks what StartSnapshot was asked
// for, as the emulator received it: the disk's size in GiB, the
// description (left out when empty: the API refuses ""), the snapshot
// tags with the provenance (sent at creation, not only tagged later), the
// timeout in minutes, encryption with its key, and the parent.
func TestPublishStartSnapshotParameters(t *testing.T) {
	t.Parallel()
	const key = "arn:aws:kms:us-east-1:123456789012:key/build"
	emu, cfg := newEmulator(t, awsemu.Options{})
	ctx := context.Background()
	// 64 MiB: a 1 GiB volume.
	path := makeSparse(t, 64*mib, defaultChunks(64*mib), 40)
	parent, err := publish.Publish(ctx, cfg, path, publish.Spec{Name: "elemental-parent"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec publish.Spec
		want awsemu.SnapshotStart
	}{
		{"defaults", publish.Spec{},
			awsemu.SnapshotStart{VolumeSize: 1, Timeout: 120}},
		{"all set", publish.Spec{Description: "test derivative", Encrypted: true, KMSKeyID: key,
			SnapshotTimeout: 30 * time.Minute, SnapshotTags: map[string]string{"kind": "root"}, Provenance: provenance},
			awsemu.SnapshotStart{VolumeSize: 1, Description: "test derivative", Timeout: 30, Encrypted: true, KmsKeyArn: key,
				Tags: mergeMaps(map[string]string{"kind": "root"}, provenance)}},
		{"build region key from region_kms_key_ids", publish.Spec{Encrypted: true,
			RegionKMSKeyIDs: map[string]string{"us-east-1": key}},
			awsemu.SnapshotStart{VolumeSize: 1, Timeout: 120, Encrypted: true, KmsKeyArn: key}},
		{"parent", publish.Spec{ParentSnapshotID: parent.Snapshots["us-east-1"], SnapshotTimeout: 72 * time.Hour},
			awsemu.SnapshotStart{VolumeSize: 1, Timeout: 4320, ParentSnapshotID: parent.Snapshots["us-east-1"]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = "elemental-start-" + tc.name
			res, err := publish.Publish(ctx, cfg, path, tc.spec, nil)
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			snap := res.Snapshots["us-east-1"]
			got, ok := emu.SnapshotStart(snap)
			if !ok {
				t.Fatalf("no StartSnapshot request made %s", snap)
			}
			if got.ClientToken == "" || got.Tags[publish.RunTag] == "" {
				t.Errorf("StartSnapshot without client token or run tag: %+v", got)
			}
			got.ClientToken = ""
			delete(got.Tags, publish.RunTag)
			if tc.want.Tags == nil {
				tc.want.Tags = map[string]string{publish.TagSuiteVersion: publish.BuildVersion()}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("StartSnapshot request (-want +got):\n%s", d)
			}
			out, err := ec2c(cfg, "us-east-1").DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
			if err != nil || len(out.Snapshots) != 1 || aws.ToString(out.Snapshots[0].Description) != tc.want.Description {
				t.Errorf("DescribeSnapshots %s: %v, %+v", snap, err, out)
			}
		})
	}
}

// TestPublishBoundedConcurrency slows every PutSnapshotBlock so that the
// workers overlap, and checks that the emulator never served more of them
// at once than UploadConcurrency (16 when unset).
func TestPublishBoundedConcurrency(t *testing.T) {
	t.Parallel()
	// 48 data blocks.
	path, disk := makeDisk(t, 64*mib, []chunk{{0, 24 * mib}}, 41)
	tests := []struct {
		name      string
		conc, max int
	}{
		{"three", 3, 3},
		{"default", 0, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, cfg := newEmulator(t, awsemu.Options{Faults: awsemu.Faults{
				Rate: map[string]float64{"PutSnapshotBlock": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultSlow}, SlowDelay: 40 * time.Millisecond,
			}})
			res, err := publish.Publish(context.Background(), cfg, path, publish.Spec{Name: "elemental-conc", UploadConcurrency: tc.conc}, nil)
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			peak := emu.PeakInFlight("PutSnapshotBlock")
			t.Logf("%d blocks, at most %d PutSnapshotBlock at once", res.BlocksUploaded, peak)
			if peak > tc.max || peak < 2 {
				t.Fatalf("%d PutSnapshotBlock requests at once, want 2..%d", peak, tc.max)
			}
			checkVolume(t, readSnapshot(t, cfg, "us-east-1", res.Snapshots["us-east-1"], 0), disk)
		})
	}
}

// TestPublishRequestDeadline makes the first PutSnapshotBlock requests
// hang: each attempt must be abandoned at Spec.RequestTimeout and
// retried, so the publish succeeds long before the replies would come.
func TestPublishRequestDeadline(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{Faults: awsemu.Faults{
		First: map[string]int{"PutSnapshotBlock": 3}, Kinds: []awsemu.FaultKind{awsemu.FaultSlow}, SlowDelay: time.Hour,
	}})
	path, disk := makeDisk(t, 64*mib, defaultChunks(64*mib), 42)
	start := time.Now()
	res, err := publish.Publish(context.Background(), cfg, path, publish.Spec{
		Name: "elemental-deadline", UploadConcurrency: 2, RequestTimeout: 300 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if d := time.Since(start); d > 40*time.Second {
		t.Fatalf("Publish took %v: hung requests were not abandoned at the deadline", d)
	}
	if n := emu.Calls()["PutSnapshotBlock"]; int64(n) < res.BlocksUploaded+3 {
		t.Fatalf("%d PutSnapshotBlock requests for %d blocks: the 3 hung ones were not retried", n, res.BlocksUploaded)
	}
	checkVolume(t, readSnapshot(t, cfg, "us-east-1", res.Snapshots["us-east-1"], 0), disk)
}

// TestPublishPastTheConcurrencyLimit uploads with more workers than the
// emulated account may run at once: the refused blocks
// (ConcurrentLimitExceededException) are retried with backoff and the
// snapshot is complete.
func TestPublishPastTheConcurrencyLimit(t *testing.T) {
	t.Parallel()
	emu, cfg := newEmulator(t, awsemu.Options{BlockConcurrency: 2, Faults: awsemu.Faults{
		Rate: map[string]float64{"PutSnapshotBlock": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultSlow}, SlowDelay: 20 * time.Millisecond,
	}})
	path, disk := makeDisk(t, 64*mib, []chunk{{0, 8 * mib}}, 43)
	res, err := publish.Publish(context.Background(), cfg, path, publish.Spec{Name: "elemental-limit", UploadConcurrency: 8}, nil)
	if err != nil {
		t.Fatalf("Publish past the concurrency limit: %v", err)
	}
	if n := emu.Calls()["PutSnapshotBlock"]; int64(n) <= res.BlocksUploaded {
		t.Errorf("%d PutSnapshotBlock requests for %d blocks: none was refused, the test proves nothing", n, res.BlocksUploaded)
	}
	checkVolume(t, readSnapshot(t, cfg, "us-east-1", res.Snapshots["us-east-1"], 0), disk)
}
