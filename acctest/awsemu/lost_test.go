package awsemu_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elemental-suite/elemental/acctest/awsemu"
)

// TestLostReply: with FaultLost the request takes effect but the client
// gets no reply; First limits the fault to the first requests; and
// ListMultipartUploads shows the upload the client never heard of.
func TestLostReply(t *testing.T) {
	c := newClients(t, awsemu.Options{Faults: awsemu.Faults{
		First: map[string]int{"CreateMultipartUpload": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultLost},
	}})
	ctx := context.Background()
	c.emu.CreateBucket("bkt")
	sc := s3.NewFromConfig(c.cfg) // one attempt: the lost reply is an error
	if _, err := sc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k/a")}); err == nil {
		t.Fatal("CreateMultipartUpload succeeded although its reply was lost")
	}
	second, err := sc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k/a")})
	if err != nil {
		t.Fatalf("second CreateMultipartUpload (past First): %v", err)
	}
	if _, err := sc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
	if got := c.emu.Resources().Uploads; len(got) != 3 {
		t.Fatalf("emulator holds uploads %v, want 3 (the lost one included)", got)
	}
	out, err := sc.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), Prefix: aws.String("k/")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) != "k/a" {
			t.Errorf("listed upload of key %q outside the prefix", aws.ToString(u.Key))
		}
		ids = append(ids, aws.ToString(u.UploadId))
	}
	if len(ids) != 2 || (ids[0] != aws.ToString(second.UploadId) && ids[1] != aws.ToString(second.UploadId)) {
		t.Fatalf("ListMultipartUploads(prefix k/) = %v, want the lost upload and %s", ids, aws.ToString(second.UploadId))
	}
	if aws.ToBool(out.IsTruncated) {
		t.Error("listing truncated")
	}
}
