package awsemu_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/elemental-suite/elemental/acctest/awsemu"
)

type clients struct {
	emu *awsemu.Emulator
	cfg aws.Config
}

func newClients(t *testing.T, opts awsemu.Options) clients {
	t.Helper()
	if opts.Delay == 0 {
		opts.Delay = 30 * time.Millisecond
	}
	emu := awsemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return clients{emu, aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIATEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) },
	}}
}

func (c clients) ebs() *ebs.Client { return ebs.NewFromConfig(c.cfg) }
func (c clients) ec2(region string) *ec2.Client {
	return ec2.NewFromConfig(c.cfg, func(o *ec2.Options) { o.Region = region })
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v, want API error %s", err, code)
	}
}

func sum(b []byte) *string {
	s := sha256.Sum256(b)
	return aws.String(base64.StdEncoding.EncodeToString(s[:]))
}

func putBlock(ctx context.Context, c *ebs.Client, snap string, idx int32, data []byte, checksum *string) error {
	_, err := c.PutSnapshotBlock(ctx, &ebs.PutSnapshotBlockInput{
		SnapshotId: &snap, BlockIndex: &idx, BlockData: bytes.NewReader(data), DataLength: aws.Int32(int32(len(data))),
		Checksum: checksum, ChecksumAlgorithm: ebstypes.ChecksumAlgorithmChecksumAlgorithmSha256,
	})
	return err
}

// snapshotWith makes a completed 1 GiB snapshot holding data at block 3.
func snapshotWith(t *testing.T, c clients, data []byte) string {
	t.Helper()
	ctx := context.Background()
	out, err := c.ebs().StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ClientToken: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.SnapshotId
	if data != nil {
		if err := putBlock(ctx, c.ebs(), id, 3, data, sum(data)); err != nil {
			t.Fatal(err)
		}
	}
	n := int32(0)
	if data != nil {
		n = 1
	}
	if _, err := c.ebs().CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: &id, ChangedBlocksCount: &n}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEBSDirectRoundTripAndValidation(t *testing.T) {
	c := newClients(t, awsemu.Options{})
	ctx := context.Background()
	e := c.ebs()
	out, err := e.StartSnapshot(ctx, &ebs.StartSnapshotInput{
		VolumeSize: aws.Int64(1), Description: aws.String("d"), ClientToken: aws.String("tok"),
		Tags: []ebstypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.SnapshotId
	if aws.ToInt32(out.BlockSize) != awsemu.BlockSize || out.Status != ebstypes.StatusPending {
		t.Fatalf("StartSnapshot reply %+v", out)
	}
	again, err := e.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ClientToken: aws.String("tok")})
	if err != nil || *again.SnapshotId != id {
		t.Fatalf("same client token gave %v, %v; want %s", again, err, id)
	}
	data := bytes.Repeat([]byte("elemental"), awsemu.BlockSize/9+1)[:awsemu.BlockSize]
	tests := []struct {
		name string
		idx  int32
		data []byte
		sum  *string
		code string
	}{
		{"bad checksum", 0, data, sum([]byte("x")), "ValidationException"},
		{"short block", 0, data[:4096], sum(data[:4096]), "ValidationException"},
		{"index past volume", 2048, data, sum(data), "ValidationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, putBlock(ctx, e, id, tc.idx, tc.data, tc.sum), tc.code)
		})
	}
	if err := putBlock(ctx, e, id, 7, data, sum(data)); err != nil {
		t.Fatal(err)
	}
	_, err = e.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: &id, ChangedBlocksCount: aws.Int32(2)})
	wantCode(t, err, "ValidationException")
	if _, err := e.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: &id, ChangedBlocksCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, putBlock(ctx, e, id, 8, data, sum(data)), "ValidationException") // sealed
	time.Sleep(50 * time.Millisecond)
	list, err := e.ListSnapshotBlocks(ctx, &ebs.ListSnapshotBlocksInput{SnapshotId: &id})
	if err != nil || len(list.Blocks) != 1 || *list.Blocks[0].BlockIndex != 7 {
		t.Fatalf("ListSnapshotBlocks = %+v, %v", list, err)
	}
	g, err := e.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: &id, BlockIndex: aws.Int32(7), BlockToken: list.Blocks[0].BlockToken})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g.BlockData)
	if !bytes.Equal(got, data) || aws.ToString(g.Checksum) != *sum(data) {
		t.Fatal("GetSnapshotBlock returned other data or checksum")
	}
	snaps, err := c.ec2("us-east-1").DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{
		Filters: []types.Filter{{Name: aws.String("tag:k"), Values: []string{"v"}}},
	})
	if err != nil || len(snaps.Snapshots) != 1 || snaps.Snapshots[0].State != types.SnapshotStateCompleted {
		t.Fatalf("DescribeSnapshots by tag = %+v, %v", snaps, err)
	}
}

func TestRegisterImageChecksTheSnapshot(t *testing.T) {
	c := newClients(t, awsemu.Options{Delay: 300 * time.Millisecond})
	ctx := context.Background()
	ec := c.ec2("us-east-1")
	register := func(name, snap string) (*ec2.RegisterImageOutput, error) {
		return ec.RegisterImage(ctx, &ec2.RegisterImageInput{
			Name: aws.String(name), RootDeviceName: aws.String("/dev/xvda"), VirtualizationType: aws.String("hvm"),
			Architecture: types.ArchitectureValuesX8664, BootMode: types.BootModeValuesUefi,
			BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{SnapshotId: aws.String(snap)}}},
		})
	}
	_, err := register("img-missing", "snap-00000000000000099")
	wantCode(t, err, "InvalidSnapshot.NotFound")

	full := snapshotWith(t, c, bytes.Repeat([]byte{1}, awsemu.BlockSize))
	_, err = register("img-pending", full)
	wantCode(t, err, "IncorrectState")
	time.Sleep(350 * time.Millisecond)

	t.Run("empty snapshot", func(t *testing.T) {
		empty := snapshotWith(t, c, nil)
		time.Sleep(350 * time.Millisecond)
		_, err := register("img-empty", empty)
		wantCode(t, err, "InvalidParameterValue")
	})
	out, err := register("img-ok", full)
	if err != nil {
		t.Fatal(err)
	}
	ami := *out.ImageId
	_, err = register("img-ok", full)
	wantCode(t, err, "InvalidAMIName.Duplicate")
	_, err = ec.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: &full})
	wantCode(t, err, "InvalidSnapshot.InUse")
	_, err = c.ec2("us-west-2").DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	wantCode(t, err, "InvalidAMIID.NotFound") // regions are separate

	if _, err := ec.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: &ami}); err != nil {
		t.Fatal(err)
	}
	_, err = ec.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: &ami})
	wantCode(t, err, "OperationNotPermitted")
	if _, err := ec.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: &ami}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: &ami, DeleteAssociatedSnapshots: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if res := c.emu.Resources(); len(res.Images) != 0 || len(res.Snapshots) != 1 {
		t.Fatalf("after deregistering with its snapshots: %+v (want only the empty snapshot)", res)
	}
}

func TestDescribeImagesFilters(t *testing.T) {
	c := newClients(t, awsemu.Options{Delay: time.Millisecond})
	ctx := context.Background()
	ec := c.ec2("eu-west-1")
	c2 := c
	c2.cfg.Region = "eu-west-1"
	snap := snapshotWith(t, c2, bytes.Repeat([]byte{2}, awsemu.BlockSize))
	time.Sleep(10 * time.Millisecond)
	for _, name := range []string{"alpha-1", "alpha-2", "beta-1"} {
		_, err := ec.RegisterImage(ctx, &ec2.RegisterImageInput{
			Name: aws.String(name), RootDeviceName: aws.String("/dev/xvda"),
			BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{SnapshotId: &snap}}},
			TagSpecifications:   []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("group"), Value: aws.String(name[:4])}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		filters []types.Filter
		want    int
	}{
		{"all", nil, 3},
		{"name wildcard", []types.Filter{{Name: aws.String("name"), Values: []string{"alpha-*"}}}, 2},
		{"name exact", []types.Filter{{Name: aws.String("name"), Values: []string{"beta-1"}}}, 1},
		{"tag", []types.Filter{{Name: aws.String("tag:group"), Values: []string{"beta"}}}, 1},
		{"tag-key", []types.Filter{{Name: aws.String("tag-key"), Values: []string{"group"}}}, 3},
		{"no match", []types.Filter{{Name: aws.String("name"), Values: []string{"gamma"}}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ec.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: tc.filters})
			if err != nil || len(out.Images) != tc.want {
				t.Fatalf("got %d images (%v), want %d", len(out.Images), err, tc.want)
			}
		})
	}
	regions, err := ec.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil || len(regions.Regions) != len(awsemu.DefaultRegions) {
		t.Fatalf("DescribeRegions = %v, %v", regions, err)
	}
}

func TestS3MultipartAndImportSnapshot(t *testing.T) {
	c := newClients(t, awsemu.Options{})
	ctx := context.Background()
	sc := s3.NewFromConfig(c.cfg)
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	part1 := bytes.Repeat([]byte{0}, 5<<20)
	part1[1] = 9
	part2 := []byte("tail")
	multipartUpload(t, sc, "bkt", "d.raw", part1, part2)
	ec := c.ec2("us-east-1")
	imp, err := ec.ImportSnapshot(ctx, &ec2.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{
		Format: aws.String("RAW"), UserBucket: &types.UserBucket{S3Bucket: aws.String("bkt"), S3Key: aws.String("d.raw")}}})
	if err != nil {
		t.Fatal(err)
	}
	missing, err := ec.ImportSnapshot(ctx, &ec2.ImportSnapshotInput{DiskContainer: &types.SnapshotDiskContainer{
		Format: aws.String("RAW"), UserBucket: &types.UserBucket{S3Bucket: aws.String("bkt"), S3Key: aws.String("nope")}}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	tasks, err := ec.DescribeImportSnapshotTasks(ctx, &ec2.DescribeImportSnapshotTasksInput{ImportTaskIds: []string{*imp.ImportTaskId, *missing.ImportTaskId}})
	if err != nil || len(tasks.ImportSnapshotTasks) != 2 {
		t.Fatalf("DescribeImportSnapshotTasks = %+v, %v", tasks, err)
	}
	for _, task := range tasks.ImportSnapshotTasks {
		d := task.SnapshotTaskDetail
		switch *task.ImportTaskId {
		case *imp.ImportTaskId:
			if aws.ToString(d.Status) != "completed" || d.SnapshotId == nil {
				t.Fatalf("import task %+v", d)
			}
			blocks, _ := c.emu.SnapshotBlocks(*d.SnapshotId)
			if len(blocks) != 2 || blocks[0][1] != 9 || !bytes.Equal(blocks[10][:4], part2) {
				t.Fatalf("imported snapshot holds blocks %d", len(blocks))
			}
		default:
			if aws.ToString(d.Status) != "deleted" || !strings.Contains(aws.ToString(d.StatusMessage), "Unable to read") {
				t.Fatalf("task for a missing object: %+v", d)
			}
		}
	}
}

// multipartUpload uploads parts as one object and checks it reads back.
func multipartUpload(t *testing.T, sc *s3.Client, bucket, key string, parts ...[]byte) {
	t.Helper()
	ctx := context.Background()
	up, err := sc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	var done []s3types.CompletedPart
	var all []byte
	for i, p := range parts {
		n := int32(i + 1)
		out, err := sc.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: &n, Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, s3types.CompletedPart{PartNumber: &n, ETag: out.ETag})
		all = append(all, p...)
	}
	if _, err := sc.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	g, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g.Body)
	if !bytes.Equal(got, all) {
		t.Fatalf("object has %d bytes, not the %d of its parts", len(got), len(all))
	}
}

func TestFaultsAreInjectedAndRetried(t *testing.T) {
	tests := []struct {
		name string
		kind awsemu.FaultKind
		code string
	}{
		{"500", awsemu.Fault500, "InternalError"},
		{"503", awsemu.Fault503, "Unavailable"},
		{"throttle", awsemu.FaultThrottle, "RequestLimitExceeded"},
		{"fatal", awsemu.FaultFatal, "UnauthorizedOperation"},
		{"reset", awsemu.FaultReset, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClients(t, awsemu.Options{Faults: awsemu.Faults{Rate: map[string]float64{"DescribeRegions": 1}, Kinds: []awsemu.FaultKind{tc.kind}}})
			_, err := c.ec2("us-east-1").DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{})
			if tc.code != "" {
				wantCode(t, err, tc.code)
			} else if err == nil {
				t.Fatal("a reset connection gave no error")
			}
		})
	}
	t.Run("retried away", func(t *testing.T) {
		c := newClients(t, awsemu.Options{Faults: awsemu.Faults{Rate: map[string]float64{"*": 0.5}, Seed: 7}})
		c.cfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 20; o.MaxBackoff = time.Millisecond })
		}
		for range 10 {
			if _, err := c.ec2("us-east-1").DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{}); err != nil {
				t.Fatal(err)
			}
		}
		if n := c.emu.Calls()["DescribeRegions"]; n <= 10 {
			t.Fatalf("%d requests for 10 calls at 50%% faults", n)
		}
	})
}

func TestEC2WireFormat(t *testing.T) {
	srv := httptest.NewServer(awsemu.New(awsemu.Options{}))
	defer srv.Close()
	tests := []struct {
		name, body string
		status     int
		want, not  []string
	}{
		{"reply", "Action=DescribeRegions&Version=2016-11-15&RegionName.1=eu-west-1", 200,
			[]string{`<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`, "<requestId>",
				"<regionInfo><item><regionName>eu-west-1</regionName>"},
			[]string{"imagesSet", "tagSet"}},
		{"empty list", "Action=DescribeImages&Version=2016-11-15&Owner.1=self", 200,
			[]string{"<imagesSet></imagesSet>"}, []string{"regionInfo"}},
		{"error", "Action=DescribeImages&Version=2016-11-15&ImageId.1=ami-404", 400,
			[]string{"<Response><Errors><Error><Code>InvalidAMIID.NotFound</Code><Message>", "<RequestID>"}, nil},
		{"unknown action", "Action=RunInstances&Version=2016-11-15", 400,
			[]string{"<Code>InvalidAction</Code>"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := srv.Client().Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("reply lacks %q:\n%s", w, body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(body), n) {
					t.Errorf("reply has %q:\n%s", n, body)
				}
			}
		})
	}
}
