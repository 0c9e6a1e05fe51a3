package aws_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// TestPublishPerServiceEndpoints points AWS_ENDPOINT_URL at a closed port
// and AWS_ENDPOINT_URL_EC2, _EBS and _S3 at the emulator: LoadConfig's
// configuration must reach every service through its own variable, on
// both import paths.
func TestPublishPerServiceEndpoints(t *testing.T) {
	emu, cfg := newEmulator(t, awsemu.Options{})
	emu.CreateBucket("imports")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	for _, kv := range awsemu.Env(aws.ToString(cfg.BaseEndpoint)) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL", dead)
	envCfg, err := publish.LoadConfig(context.Background(), publish.ConfigOptions{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	envCfg.Retryer = cfg.Retryer
	path, _ := makeDisk(t, 64*mib, []chunk{{0, 1 * mib}}, 52)
	for _, tc := range []struct{ name, method, bucket string }{
		{"ebs direct", publish.ImportEBSDirect, ""},
		{"s3 import", publish.ImportS3, "imports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := publish.Publish(context.Background(), envCfg, path,
				publish.Spec{Name: "elemental-endpoints-" + tc.method, ImportMethod: tc.method, S3Bucket: tc.bucket}, nil)
			if err != nil {
				t.Fatalf("Publish through AWS_ENDPOINT_URL_EC2/_EBS/_S3: %v", err)
			}
			if res.AMIs["eu-west-1"] == "" {
				t.Fatalf("AMIs %v, want one in eu-west-1", res.AMIs)
			}
		})
	}
	calls := emu.Calls()
	for _, op := range []string{"StartSnapshot", "PutSnapshotBlock", "CreateMultipartUpload", "UploadPart", "ImportSnapshot", "RegisterImage"} {
		if calls[op] == 0 {
			t.Errorf("%s never reached the emulator", op)
		}
	}
}
