package aws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

func faultSpec(name string) publish.Spec {
	s := fullSpec(name)
	s.Regions = []string{"us-west-2"}
	return s
}

// TestPublishWithFaults injects 500s, 503s, throttling, resets and slow
// replies into every operation: Publish must either produce exactly the
// requested AMIs or fail leaving nothing behind.
func TestPublishWithFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		rate        float64
		seed        uint64
		mustSucceed bool
		method      string
	}{
		{"5 percent seed 1", 0.05, 1, true, publish.ImportEBSDirect},
		{"5 percent seed 2", 0.05, 2, true, publish.ImportEBSDirect},
		{"5 percent s3 import", 0.05, 4, true, publish.ImportS3},
		{"30 percent seed 3", 0.30, 3, false, publish.ImportEBSDirect},
	}
	// 24 MiB of data: 48 blocks, so block uploads meet faults too.
	path, disk := makeDisk(t, 64*mib, append(defaultChunks(64*mib), chunk{20 * mib, 20 * mib}), 10)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, cfg := newEmulator(t, awsemu.Options{Faults: awsemu.Faults{
				Rate:      map[string]float64{"*": tc.rate},
				Kinds:     []awsemu.FaultKind{awsemu.Fault500, awsemu.Fault503, awsemu.FaultThrottle, awsemu.FaultReset, awsemu.FaultSlow},
				Seed:      tc.seed,
				SlowDelay: 30 * time.Millisecond,
			}})
			emu.CreateBucket("b")
			spec := faultSpec("elemental-faults")
			spec.ImportMethod, spec.S3Bucket = tc.method, "b"
			res, err := publish.Publish(context.Background(), cfg, path, spec, nil)
			calls := emu.Calls()
			emu.SetFaults(awsemu.Faults{}) // verify without faults
			if err != nil {
				if tc.mustSucceed {
					t.Fatalf("Publish with %.0f%% faults: %v", 100*tc.rate, err)
				}
				t.Logf("Publish failed (allowed at this rate): %v", err)
				mustEmpty(t, emu)
				return
			}
			t.Logf("succeeded after %d PutSnapshotBlock requests for %d blocks, %d UploadPart", calls["PutSnapshotBlock"], res.BlocksUploaded, calls["UploadPart"])
			if len(res.AMIs) != 2 {
				t.Fatalf("AMIs %v, want 2 regions", res.AMIs)
			}
			for r := range res.AMIs {
				checkVolume(t, readSnapshot(t, cfg, r, res.Snapshots[r], 0), disk)
				checkImage(t, cfg, r, res.AMIs[r], res.Snapshots[r], spec)
			}
			if got := emu.Resources(); len(got.Images) != 2 || len(got.Snapshots) != 2 || len(got.Objects)+len(got.Uploads)+len(got.ImportTasks) != 0 {
				t.Errorf("emulator holds %+v, want exactly 2 images and 2 snapshots", got)
			}
		})
	}
}

// TestPublishFatalFaultLeavesNothing makes one operation fail for good at
// each stage; Publish must fail and delete everything it created.
func TestPublishFatalFaultLeavesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		op     string
		method string
	}{
		{"start snapshot", "StartSnapshot", publish.ImportEBSDirect},
		{"put block", "PutSnapshotBlock", publish.ImportEBSDirect},
		{"complete snapshot", "CompleteSnapshot", publish.ImportEBSDirect},
		{"register", "RegisterImage", publish.ImportEBSDirect},
		{"copy", "CopyImage", publish.ImportEBSDirect},
		{"launch permissions", "ModifyImageAttribute", publish.ImportEBSDirect},
		{"snapshot permissions", "ModifySnapshotAttribute", publish.ImportEBSDirect},
		{"tags", "CreateTags", publish.ImportEBSDirect},
		{"deprecation", "EnableImageDeprecation", publish.ImportEBSDirect},
		{"protection", "EnableImageDeregistrationProtection", publish.ImportEBSDirect},
		{"s3 part", "UploadPart", publish.ImportS3},
		{"s3 complete", "CompleteMultipartUpload", publish.ImportS3},
		{"import", "ImportSnapshot", publish.ImportS3},
		{"import wait", "DescribeImportSnapshotTasks", publish.ImportS3},
		{"register after import", "RegisterImage", publish.ImportS3},
		// Only the first request fails (see below): the waits, whose
		// operations cleanup needs too.
		{"snapshot wait", "DescribeSnapshots", publish.ImportEBSDirect},
		{"image wait", "DescribeImages", publish.ImportEBSDirect},
	}
	firstOnly := map[string]bool{"DescribeSnapshots": true, "DescribeImages": true}
	// The import task finishes before cleanup, and cannot be described.
	late := struct{ name, op, method string }{"import wait, task done", "DescribeImportSnapshotTasks", publish.ImportS3}
	path, _ := makeDisk(t, 64*mib, defaultChunks(64*mib), 11)
	for _, tc := range append(tests, late) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			delay := time.Duration(0)
			if tc == late {
				delay = time.Nanosecond
			}
			faults := awsemu.Faults{Rate: map[string]float64{tc.op: 1}, Kinds: []awsemu.FaultKind{awsemu.FaultFatal}}
			if firstOnly[tc.op] {
				faults = awsemu.Faults{First: map[string]int{tc.op: 1}, Kinds: []awsemu.FaultKind{awsemu.FaultFatal}}
			}
			emu, cfg := newEmulator(t, awsemu.Options{Delay: delay, Faults: faults})
			emu.CreateBucket("b")
			spec := faultSpec("elemental-fatal")
			spec.ImportMethod, spec.S3Bucket = tc.method, "b"
			_, err := publish.Publish(context.Background(), cfg, path, spec, nil)
			if err == nil {
				t.Fatalf("Publish succeeded although every %s fails", tc.op)
			}
			if emu.Calls()[tc.op] == 0 {
				t.Fatalf("%s was never called (err %v)", tc.op, err)
			}
			res := emu.Resources()
			res.Objects = nil // the bucket itself is the test's
			if !res.Empty() {
				t.Fatalf("after failing %s the emulator holds %+v (err %v)", tc.op, res, err)
			}
		})
	}
}

// TestPublishCancel cancels the context at several stages: Publish must
// return the cancellation and leave nothing behind.
func TestPublishCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		stage  string
		after  int
		delay  time.Duration // pending → done; 0 means 200ms
	}{
		{"after starting the snapshot", publish.ImportEBSDirect, "snapshot", 1, 0},
		{"mid upload", publish.ImportEBSDirect, "upload", 5, 0},
		{"at registration", publish.ImportEBSDirect, "register", 1, 0},
		{"during copy", publish.ImportEBSDirect, "copy", 1, 0},
		{"during sharing", publish.ImportEBSDirect, "share", 1, 0},
		{"during tagging", publish.ImportEBSDirect, "tag", 1, 0},
		{"at deprecation", publish.ImportEBSDirect, "deprecate", 1, 0},
		{"before protection", publish.ImportEBSDirect, "protect", 1, 0},
		{"mid s3 upload", publish.ImportS3, "upload", 1, 0},
		{"during import", publish.ImportS3, "import", 1, 0},
		{"import finished before cleanup", publish.ImportS3, "import", 1, time.Nanosecond},
	}
	path, _ := makeDisk(t, 100*mib, defaultChunks(100*mib), 12)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.delay == 0 {
				tc.delay = 200 * time.Millisecond
			}
			emu, cfg := newEmulator(t, awsemu.Options{Delay: tc.delay})
			emu.CreateBucket("b")
			spec := faultSpec("elemental-cancel")
			spec.ImportMethod, spec.S3Bucket, spec.UploadConcurrency = tc.method, "b", 2
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			seen := 0
			_, err := publish.Publish(ctx, cfg, path, spec, func(e publish.Event) {
				if e.Stage == tc.stage {
					if seen++; seen == tc.after {
						cancel()
					}
				}
			})
			if seen < tc.after {
				t.Fatalf("stage %s seen %d times", tc.stage, seen)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			res := emu.Resources()
			res.Objects = nil
			if !res.Empty() {
				t.Fatalf("after cancel the emulator holds %+v", res)
			}
		})
	}
}
