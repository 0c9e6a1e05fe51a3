package aws_test

import (
	"context"
	"testing"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// TestPublishS3LostCreateReply: CreateMultipartUpload reaches S3 but its
// reply is lost, so S3 holds an upload whose id the publisher never
// learned (and the SDK's retry starts another). Whether the publish then
// fails or succeeds, no multipart upload may remain.
func TestPublishS3LostCreateReply(t *testing.T) {
	t.Parallel()
	path, _ := makeDisk(t, 64*mib, defaultChunks(64*mib), 21)
	tests := []struct {
		name        string
		lost        int // replies lost
		wantSuccess bool
		wantList    bool // ListMultipartUploads needed (and its IAM permission)
	}{
		{name: "no reply lost", lost: 0, wantSuccess: true, wantList: false},
		{name: "first reply lost, retry succeeds", lost: 1, wantSuccess: true, wantList: true},
		{name: "every reply lost", lost: 1000, wantSuccess: false, wantList: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, cfg := newEmulator(t, awsemu.Options{Faults: awsemu.Faults{
				First: map[string]int{"CreateMultipartUpload": tc.lost}, Kinds: []awsemu.FaultKind{awsemu.FaultLost},
			}})
			emu.CreateBucket("b")
			spec := faultSpec("elemental-lost-reply")
			spec.ImportMethod, spec.S3Bucket = publish.ImportS3, "b"
			res, err := publish.Publish(context.Background(), cfg, path, spec, nil)
			calls := emu.Calls()
			if creates := calls["CreateMultipartUpload"]; creates < min(2, tc.lost+1) {
				t.Fatalf("CreateMultipartUpload called %d times, want a retry after the lost reply", creates)
			}
			if listed := calls["ListMultipartUploads"] > 0; listed != tc.wantList {
				t.Errorf("ListMultipartUploads called: %v, want %v", listed, tc.wantList)
			}
			if (err == nil) != tc.wantSuccess {
				t.Fatalf("Publish err = %v, want success %v", err, tc.wantSuccess)
			}
			if got := emu.Resources(); len(got.Uploads) != 0 || len(got.Objects) != 0 {
				t.Fatalf("after Publish (err %v) S3 holds uploads %v and objects %v", err, got.Uploads, got.Objects)
			}
			if err == nil {
				if err := publish.Delete(context.Background(), cfg, res, true); err != nil {
					t.Fatal(err)
				}
			}
			mustEmpty(t, emu)
		})
	}
}
