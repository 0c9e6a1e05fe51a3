package gcp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// TestPublishTransientFaults injects 5% and 30% transient faults into
// every request: at 5% each publish gives the same image as without
// faults; at 30% it may also fail, leaving nothing behind.
func TestPublishTransientFaults(t *testing.T) {
	t.Parallel()
	raw := writeRawDisk(t, 96*mib, []extent{{0, 2 * mib}, {50 * mib, mib}}, 4)
	want := paddedDigest(t, raw)
	tests := []struct {
		name  string
		rate  float64
		seeds []uint64
		// mustSucceed: at 5% the retries must get every publish through
		mustSucceed bool
	}{
		{name: "5 percent", rate: 0.05, seeds: []uint64{1, 2, 3, 4, 5, 6}, mustSucceed: true},
		{name: "30 percent", rate: 0.30, seeds: []uint64{1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			injected, requests := 0, 0
			for _, seed := range tc.seeds {
				f := newFixture(t, gcpemu.Options{Seed: seed, Faults: map[string]gcpemu.Fault{
					gcpemu.OpAny: {Rate: tc.rate, Delay: 20 * time.Millisecond},
				}})
				spec := baseSpec(fmt.Sprintf("faulty-%d", seed))
				spec.DeprecateAt = time.Now().Add(time.Hour)
				_, err := gcp.Publish(context.Background(), f.clients, raw, spec, nil)
				for _, n := range f.emu.FaultCounts() {
					injected += n
				}
				for _, n := range f.emu.RequestCounts() {
					requests += n
				}
				if err != nil && tc.mustSucceed {
					t.Errorf("seed %d: publish failed at %v faults: %v", seed, tc.rate, err)
				}
				if err != nil {
					t.Logf("seed %d: publish failed (allowed, if nothing is left): %v", seed, err)
					f.assertNothingLeft(t)
					continue
				}
				f.emu.SetFaults(nil)
				img, archive, err := f.emu.Image(testProject, spec.ImageName)
				if err != nil || img.Status != "READY" || archive.DiskDigest != want || img.Deprecated == nil || img.Deprecated.State != "ACTIVE" {
					t.Errorf("seed %d: image %+v, digest %s (want %s), err %v", seed, img, archive.DiskDigest, want, err)
				}
				if objs, _ := f.emu.Objects(testBucket); len(objs) != 0 {
					t.Errorf("seed %d: objects left: %v", seed, objs)
				}
			}
			if injected == 0 {
				t.Fatal("no fault was injected: the test proves nothing")
			}
			t.Logf("%d faults injected into %d requests", injected, requests)
		})
	}
}

// TestPublishFatalFaults makes one stage fail for good: Publish must fail
// and remove the object and any image it created.
func TestPublishFatalFaults(t *testing.T) {
	t.Parallel()
	raw := writeRawDisk(t, 64*mib, []extent{{0, 2 * mib}}, 5)
	tests := []struct {
		name string
		op   string
		kind gcpemu.FaultKind
	}{
		{name: "upload start", op: gcpemu.OpUploadStart, kind: gcpemu.FaultForbidden},
		{name: "upload chunk", op: gcpemu.OpUploadChunk, kind: gcpemu.FaultForbidden},
		{name: "images insert", op: gcpemu.OpImagesInsert, kind: gcpemu.FaultForbidden},
		// the image is created but the answer never arrives: cleanup must
		// still find it (its source is our object) and delete it
		{name: "images insert answer always lost", op: gcpemu.OpImagesInsert, kind: gcpemu.FaultLost},
		{name: "images deprecate", op: gcpemu.OpImagesDeprecate, kind: gcpemu.FaultForbidden},
		{name: "final images get", op: gcpemu.OpImagesGet, kind: gcpemu.FaultForbidden},
		{name: "operations wait", op: gcpemu.OpOperationsWait, kind: gcpemu.FaultForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fatal := gcpemu.Fault{Rate: 1, Kinds: []gcpemu.FaultKind{tc.kind}}
			f := newFixture(t, gcpemu.Options{Faults: map[string]gcpemu.Fault{tc.op: fatal}})
			spec := baseSpec("fatal")
			spec.DeprecateAt = time.Now().Add(time.Hour)
			cleanupNeedsOp := tc.op == gcpemu.OpImagesGet || tc.op == gcpemu.OpOperationsWait
			if cleanupNeedsOp {
				// cleanup needs the operation too: fail it until cleanup
				spec.CleanupTimeout = 10 * time.Second
			}
			_, err := gcp.Publish(context.Background(), f.clients, raw, spec, func(e gcp.Event) {
				if e.Phase == gcp.PhaseCleanup && cleanupNeedsOp {
					f.emu.SetFaults(nil)
				}
			})
			if err == nil {
				t.Fatal("Publish succeeded despite a fatal fault")
			}
			if f.emu.FaultCounts()[tc.op+"/"+tc.kind.String()] == 0 {
				t.Fatalf("no %s injected into %s", tc.kind, tc.op)
			}
			if tc.kind == gcpemu.FaultLost && f.emu.RequestCounts()[gcpemu.OpImagesDelete] == 0 {
				t.Error("the image created by the lost insert was never deleted")
			}
			f.assertNothingLeft(t)
		})
	}
}

// TestPublishCancel cancels the context at each stage: Publish returns
// the cancellation and leaves nothing behind.
func TestPublishCancel(t *testing.T) {
	t.Parallel()
	raw := writeRawDisk(t, 128*mib, []extent{{0, 2 * mib}, {100 * mib, mib}}, 6)
	tests := []struct {
		name   string
		phase  gcp.Phase
		atByte int64
	}{
		{name: "mid upload", phase: gcp.PhaseUpload, atByte: 1},
		{name: "before insert", phase: gcp.PhaseInsert},
		{name: "while waiting for the image", phase: gcp.PhaseWait},
		{name: "while deprecating", phase: gcp.PhaseDeprecate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, gcpemu.Options{OpDelay: 100 * time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			spec := baseSpec("cancelled")
			spec.DeprecateAt = time.Now().Add(time.Hour)
			var uploaded int64
			_, err := gcp.Publish(ctx, f.clients, raw, spec, func(e gcp.Event) {
				if e.Phase == gcp.PhaseUpload {
					uploaded = e.Bytes
				}
				if e.Phase == tc.phase && e.Bytes >= tc.atByte {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Publish = %v, want context.Canceled", err)
			}
			if tc.phase == gcp.PhaseUpload && uploaded >= 3*mib {
				t.Errorf("cancel came after the whole upload (%d bytes)", uploaded)
			}
			f.assertNothingLeft(t)
		})
	}
}

// TestPublishOperationFails removes the object while images.insert is
// running, so the operation ends DONE with an error (RESOURCE_NOT_FOUND)
// and a FAILED image: Publish must report ErrOperationFailed and delete
// that image, not return it as published.
func TestPublishOperationFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gcpemu.Options{OpDelay: 300 * time.Millisecond})
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}}, 13)
	spec := baseSpec("op-fails")
	_, err := gcp.Publish(context.Background(), f.clients, raw, spec, func(e gcp.Event) {
		if e.Phase != gcp.PhaseWait {
			return
		}
		if err := f.clients.Storage.Bucket(testBucket).Object(spec.ImageName + ".tar.gz").Delete(context.Background()); err != nil {
			t.Errorf("deleting the object under the running insert: %v", err)
		}
	})
	if !errors.Is(err, gcp.ErrOperationFailed) {
		t.Fatalf("Publish = %v, want ErrOperationFailed", err)
	}
	if f.emu.RequestCounts()[gcpemu.OpImagesDelete] == 0 {
		t.Error("the FAILED image was never deleted")
	}
	f.assertNothingLeft(t)
}

// TestPublishWaitTimesOut makes globalOperations.wait answer before the
// operation is DONE (GCE answers after two minutes): Publish must keep
// waiting rather than take a RUNNING operation for a finished one.
func TestPublishWaitTimesOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gcpemu.Options{OpDelay: 200 * time.Millisecond, WaitTimeout: 5 * time.Millisecond})
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}}, 14)
	spec := baseSpec("slow-op")
	spec.DeprecateAt = time.Now().Add(time.Hour)
	res, err := gcp.Publish(context.Background(), f.clients, raw, spec, nil)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	img, _, err := f.emu.Image(testProject, spec.ImageName)
	if err != nil || img.Status != "READY" || img.SelfLink != res.SelfLink || img.Deprecated == nil {
		t.Fatalf("image %+v, err %v", img, err)
	}
	if n := f.emu.RequestCounts()[gcpemu.OpOperationsWait]; n < 4 {
		t.Errorf("%d operation waits for two operations of 200ms with 5ms waits: Publish did not poll", n)
	}
}

// TestPublishSkipCleanOnFailure: with SkipClean a failed publish keeps
// the object (with its provenance metadata) but still removes the image
// it created.
func TestPublishSkipCleanOnFailure(t *testing.T) {
	t.Parallel()
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}}, 15)
	fatal := gcpemu.Fault{Rate: 1, Kinds: []gcpemu.FaultKind{gcpemu.FaultForbidden}}
	f := newFixture(t, gcpemu.Options{Faults: map[string]gcpemu.Fault{gcpemu.OpImagesDeprecate: fatal}})
	spec := baseSpec("kept-object")
	spec.SkipClean, spec.DeprecateAt = true, time.Now().Add(time.Hour)
	if _, err := gcp.Publish(context.Background(), f.clients, raw, spec, nil); err == nil {
		t.Fatal("Publish succeeded despite a fatal fault")
	}
	f.emu.SetFaults(nil)
	if imgs := f.emu.Images(testProject); len(imgs) != 0 {
		t.Errorf("images left: %v", imgs)
	}
	attrs, err := f.clients.Storage.Bucket(testBucket).Object(spec.ImageName + ".tar.gz").Attrs(context.Background())
	if err != nil {
		t.Fatalf("the object SkipClean should keep: %v", err)
	}
	if got := attrs.Metadata[gcp.LabelSourceDigest]; got != spec.SourceDigest {
		t.Errorf("object metadata %s = %q, want %q (metadata %v)", gcp.LabelSourceDigest, got, spec.SourceDigest, attrs.Metadata)
	}
}

// TestPublishObjectDeleteFails: the image is complete but the object
// cannot be deleted. Publish keeps the image, returns the Result and an
// error naming the object, which is still there for a sweep to find.
func TestPublishObjectDeleteFails(t *testing.T) {
	t.Parallel()
	raw := writeRawDisk(t, 64*mib, []extent{{0, mib}}, 16)
	fatal := gcpemu.Fault{Rate: 1, Kinds: []gcpemu.FaultKind{gcpemu.FaultForbidden}}
	f := newFixture(t, gcpemu.Options{Faults: map[string]gcpemu.Fault{gcpemu.OpObjectsDelete: fatal}})
	spec := baseSpec("object-stuck")
	res, err := gcp.Publish(context.Background(), f.clients, raw, spec, nil)
	if err == nil || res == nil || !strings.Contains(err.Error(), "gs://"+testBucket+"/"+spec.ImageName+".tar.gz") {
		t.Fatalf("Publish = %+v, %v; want the result and an error naming the object", res, err)
	}
	f.emu.SetFaults(nil)
	if img, _, err := f.emu.Image(testProject, spec.ImageName); err != nil || img.Status != "READY" || img.SelfLink != res.SelfLink {
		t.Errorf("published image: %+v, %v", img, err)
	}
	if objs, _ := f.emu.Objects(testBucket); len(objs) != 1 {
		t.Errorf("objects %v, want the one that could not be deleted", objs)
	}
}
