package awsemu_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/elemental-suite/elemental/acctest/awsemu"
)

// TestStartSnapshotConstraints: StartSnapshot refuses what the EBS direct
// API reference refuses (an empty or over-long description, a key that is
// not a key ARN, a timeout out of range, bad tags), and SnapshotStart
// returns exactly the request that made a snapshot.
func TestStartSnapshotConstraints(t *testing.T) {
	c := newClients(t, awsemu.Options{})
	ctx := context.Background()
	tags := func(n int, key string) []ebstypes.Tag {
		var out []ebstypes.Tag
		for i := range n {
			out = append(out, ebstypes.Tag{Key: aws.String(key + strings.Repeat("k", i)), Value: aws.String("v")})
		}
		return out
	}
	tests := []struct {
		name string
		in   ebs.StartSnapshotInput
	}{
		{"empty description", ebs.StartSnapshotInput{Description: aws.String("")}},
		{"long description", ebs.StartSnapshotInput{Description: aws.String(strings.Repeat("d", 256))}},
		{"key alias", ebs.StartSnapshotInput{Encrypted: aws.Bool(true), KmsKeyArn: aws.String("alias/os")}},
		{"key id", ebs.StartSnapshotInput{Encrypted: aws.Bool(true), KmsKeyArn: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")}},
		{"short timeout", ebs.StartSnapshotInput{Timeout: aws.Int32(5)}},
		{"long timeout", ebs.StartSnapshotInput{Timeout: aws.Int32(4321)}},
		{"51 tags", ebs.StartSnapshotInput{Tags: tags(51, "k")}},
		{"empty tag key", ebs.StartSnapshotInput{Tags: tags(1, "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.VolumeSize = aws.Int64(1)
			_, err := c.ebs().StartSnapshot(ctx, &tc.in)
			wantCode(t, err, "ValidationException")
		})
	}
	if res := c.emu.Resources(); len(res.Snapshots) != 0 {
		t.Fatalf("refused requests made snapshots %v", res.Snapshots)
	}
	key := "arn:aws:kms:us-east-1:123456789012:key/k1"
	out, err := c.ebs().StartSnapshot(ctx, &ebs.StartSnapshotInput{
		VolumeSize: aws.Int64(3), Description: aws.String(strings.Repeat("d", 255)), Timeout: aws.Int32(4320),
		Encrypted: aws.Bool(true), KmsKeyArn: aws.String(key), ClientToken: aws.String("tok"),
		Tags: []ebstypes.Tag{{Key: aws.String("a"), Value: aws.String("")}, {Key: aws.String("b"), Value: aws.String("2")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c.emu.SnapshotStart(aws.ToString(out.SnapshotId))
	want := awsemu.SnapshotStart{
		VolumeSize: 3, Description: strings.Repeat("d", 255), Tags: map[string]string{"a": "", "b": "2"},
		Timeout: 4320, Encrypted: true, KmsKeyArn: key, ClientToken: "tok",
	}
	if d := cmp.Diff(want, got); !ok || d != "" {
		t.Fatalf("SnapshotStart (found %v) (-want +got):\n%s", ok, d)
	}
	if _, ok := c.emu.SnapshotStart("snap-00000000000000fff"); ok {
		t.Fatal("SnapshotStart found a snapshot that does not exist")
	}
}

// TestPeakInFlight: the emulator reports how many requests of an
// operation it served at once, and a slow reply whose client gave up
// stops waiting (the server closes promptly).
func TestPeakInFlight(t *testing.T) {
	emu := awsemu.New(awsemu.Options{Faults: awsemu.Faults{
		Rate: map[string]float64{"DescribeRegions": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultSlow}, SlowDelay: 300 * time.Millisecond,
	}})
	srv := httptest.NewServer(emu)
	cfg := newClients(t, awsemu.Options{}).cfg
	cfg.BaseEndpoint = aws.String(srv.URL)
	ec := ec2.NewFromConfig(cfg)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ec.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if p := emu.PeakInFlight("DescribeRegions"); p < 2 || p > n {
		t.Fatalf("PeakInFlight = %d for %d concurrent slow requests, want 2..%d", p, n, n)
	}
	if p := emu.PeakInFlight("DescribeImages"); p != 0 {
		t.Fatalf("PeakInFlight of an operation never called = %d", p)
	}

	emu.SetFaults(awsemu.Faults{Rate: map[string]float64{"DescribeRegions": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultSlow}, SlowDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := ec.DescribeRegions(ctx, &ec2.DescribeRegionsInput{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow reply past the deadline: err = %v", err)
	}
	start := time.Now()
	srv.Close() // waits for the handlers
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("closing took %v: the slow reply kept waiting for a client that was gone", d)
	}
}

// TestObjectTagging: PutObject keeps the x-amz-tagging tags, which
// GetObjectTagging returns, and refuses more than the 10 an S3 object
// takes.
func TestObjectTagging(t *testing.T) {
	c := newClients(t, awsemu.Options{})
	c.emu.CreateBucket("b")
	sc := s3.NewFromConfig(c.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	put := func(key, tagging string) error {
		_, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String(key), Body: strings.NewReader("x"), Tagging: aws.String(tagging)})
		return err
	}
	var many []string
	for i := range 11 {
		many = append(many, fmt.Sprintf("k%d=v", i))
	}
	wantCode(t, put("many", strings.Join(many, "&")), "InvalidTag")
	if err := put("two", "elemental%3Asource=reg%2Fimg%3A1&b="); err != nil {
		t.Fatal(err)
	}
	out, err := sc.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("b"), Key: aws.String("two")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range out.TagSet {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if d := cmp.Diff(map[string]string{"elemental:source": "reg/img:1", "b": ""}, got); d != "" {
		t.Fatalf("GetObjectTagging (-want +got):\n%s", d)
	}
}

// TestBlockConcurrencyLimit: past Options.BlockConcurrency requests at
// once, PutSnapshotBlock is refused with ConcurrentLimitExceededException.
func TestBlockConcurrencyLimit(t *testing.T) {
	c := newClients(t, awsemu.Options{BlockConcurrency: 1, Faults: awsemu.Faults{
		Rate: map[string]float64{"PutSnapshotBlock": 1}, Kinds: []awsemu.FaultKind{awsemu.FaultSlow}, SlowDelay: 300 * time.Millisecond,
	}})
	ctx := context.Background()
	out, err := c.ebs().StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, awsemu.BlockSize)
	data[0] = 1
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = putBlock(ctx, c.ebs(), aws.ToString(out.SnapshotId), int32(i), data, sum(data))
		}()
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		if err != nil {
			wantCode(t, err, "ConcurrentLimitExceededException")
			refused++
		}
	}
	if refused == 0 || refused == len(errs) {
		t.Fatalf("%d of %d concurrent puts refused with a limit of 1, want some but not all", refused, len(errs))
	}
}

// TestProtectionCooldown: an AMI protected with a cooldown cannot be
// deregistered right after its protection is lifted; one protected
// without can.
func TestProtectionCooldown(t *testing.T) {
	c := newClients(t, awsemu.Options{Delay: time.Millisecond})
	ctx := context.Background()
	ec := c.ec2("us-east-1")
	snap := snapshotWith(t, c, bytes.Repeat([]byte{1}, awsemu.BlockSize))
	time.Sleep(20 * time.Millisecond)
	for _, tc := range []struct {
		name     string
		cooldown bool
	}{{"without cooldown", false}, {"with cooldown", true}} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ec.RegisterImage(ctx, &ec2.RegisterImageInput{
				Name: aws.String("img-" + strings.ReplaceAll(tc.name, " ", "-")), RootDeviceName: aws.String("/dev/xvda"),
				BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{SnapshotId: &snap}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			id := out.ImageId
			if _, err := ec.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: id, WithCooldown: &tc.cooldown}); err != nil {
				t.Fatal(err)
			}
			if _, err := ec.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: id}); err != nil {
				t.Fatal(err)
			}
			_, err = ec.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: id})
			if tc.cooldown {
				wantCode(t, err, "OperationNotPermitted")
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}
