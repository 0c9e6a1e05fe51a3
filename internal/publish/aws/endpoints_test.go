package aws_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestPublishAssumeRole: with ConfigOptions.RoleARN, LoadConfig's
// credentials come from STS AssumeRole (served here by a stand-in at
// AWS_ENDPOINT_URL_STS, asked with the role, external id and session
// name), and every emulated request is signed with the assumed key.
func TestPublishAssumeRole(t *testing.T) {
	const role, assumed = "arn:aws:iam::123456789012:role/publisher", "ASIAASSUMED"
	var mu sync.Mutex
	var asked []url.Values
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		asked = append(asked, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser><Arn>%s/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>`+
			`<Credentials><AccessKeyId>%s</AccessKeyId><Expiration>%s</Expiration><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken></Credentials>`+
			`</AssumeRoleResult></AssumeRoleResponse>`, role, assumed, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	defer sts.Close()
	emu := awsemu.New(awsemu.Options{Delay: 20 * time.Millisecond})
	keys := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _, _ := strings.Cut(credential(r.Header.Get("Authorization")), "/")
		mu.Lock()
		keys[key] = true
		mu.Unlock()
		emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	for _, kv := range awsemu.Env(srv.URL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	cfg, err := publish.LoadConfig(context.Background(), publish.ConfigOptions{RoleARN: role, ExternalID: "ext-1", SessionName: "elemental-test"})
	if err != nil {
		t.Fatal(err)
	}
	path, _ := makeDisk(t, 64*mib, []chunk{{0, 1 * mib}}, 53)
	if _, err := publish.Publish(context.Background(), cfg, path, publish.Spec{Name: "elemental-assumed"}, nil); err != nil {
		t.Fatalf("Publish with an assumed role: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || asked[0].Get("Action") != "AssumeRole" || asked[0].Get("RoleArn") != role ||
		asked[0].Get("ExternalId") != "ext-1" || asked[0].Get("RoleSessionName") != "elemental-test" {
		t.Fatalf("STS was asked %v", asked)
	}
	if len(keys) != 1 || !keys[assumed] {
		t.Fatalf("requests were signed with %v, want only the assumed key %s", keys, assumed)
	}
}

// credential is the Credential= part of a SigV4 Authorization header.
func credential(auth string) string {
	_, c, _ := strings.Cut(auth, "Credential=")
	return c
}
