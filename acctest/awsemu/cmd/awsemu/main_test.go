package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// The test binary doubles as the command: started with this variable set
// it runs main, so the tests exercise the real process (flags, printed
// environment, signal handling) without a separate go build.
const asCommand = "AWSEMU_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		os.Args = append([]string{"awsemu"}, strings.Fields(os.Getenv("AWSEMU_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// standalone is a running awsemu process and what it printed.
type standalone struct {
	cmd  *exec.Cmd
	env  map[string]string
	done chan error
}

// start runs the command with args and waits for the environment it prints.
func start(t *testing.T, args ...string) *standalone {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asCommand+"=1", "AWSEMU_TEST_ARGS="+strings.Join(args, " "))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &standalone{cmd: cmd, env: map[string]string{}, done: make(chan error, 1)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	// The last variable printed; every export is there once it is.
	const last = "AWS_EC2_METADATA_DISABLED"
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			kv, ok := strings.CutPrefix(sc.Text(), "export ")
			if !ok {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			s.env[k] = v
			if k == last {
				close(ready)
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("awsemu exited before printing %s: %v", last, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("awsemu printed no %s within 30 s", last)
	}
	return s
}

// TestStandalonePublishes points the real SDK, configured only through
// the variables the process prints (loaded the standard way), at the
// standalone emulator and publishes an AMI both ways: EBS direct, and S3 +
// ImportSnapshot into the bucket the command creates. The snapshots must
// hold the disk byte for byte. SIGTERM then stops the process cleanly.
func TestStandalonePublishes(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-delay", "10ms", "-buckets", "a-bucket,imports")
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_EBS", "AWS_ENDPOINT_URL_S3"} {
		if !strings.HasPrefix(s.env[k], "http://127.0.0.1:") {
			t.Fatalf("printed %s=%q, want a loopback URL", k, s.env[k])
		}
	}
	dir := t.TempDir()
	// Only what the process printed configures the SDK: no profile or
	// credentials file of the machine running the test.
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	for k, v := range s.env {
		t.Setenv(k, v)
	}

	disk := filepath.Join(dir, "disk.raw")
	writeDisk(t, disk)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := publish.LoadConfig(ctx, publish.ConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, method, bucket string }{
		{"ebs-direct", publish.ImportEBSDirect, ""},
		{"s3-import", publish.ImportS3, "imports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := publish.Publish(ctx, cfg, disk, publish.Spec{
				Name: "standalone-" + tc.name, ImportMethod: tc.method, S3Bucket: tc.bucket,
			}, nil)
			if err != nil {
				t.Fatalf("publishing through the standalone emulator: %v", err)
			}
			region := cfg.Region
			ok, err := publish.Exists(ctx, cfg, region, res.AMIs[region])
			if err != nil || !ok {
				t.Fatalf("AMI %q in %s: exists=%v, %v", res.AMIs[region], region, ok, err)
			}
			snap, err := awsemu.ReadSnapshot(ctx, cfg, region, res.Snapshots[region])
			if err != nil {
				t.Fatal(err)
			}
			if err := snap.CompareFile(disk); err != nil {
				t.Fatal(err)
			}
		})
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("awsemu after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("awsemu still running 20 s after SIGTERM")
	}
}

// TestStandaloneRefusesBadAddress: a listen failure names the address and
// exits non-zero.
func TestStandaloneRefusesBadAddress(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asCommand+"=1", "AWSEMU_TEST_ARGS=-addr 127.0.0.1:notaport")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("awsemu -addr 127.0.0.1:notaport exited 0:\n%s", out)
	}
	if !strings.Contains(string(out), "127.0.0.1:notaport") {
		t.Fatalf("error does not name the address:\n%s", out)
	}
}

// writeDisk writes a sparse 5 MiB raw disk with random data at its start,
// in its middle and at its end.
func writeDisk(t *testing.T, path string) {
	t.Helper()
	const mib = 1 << 20
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 2*mib + 4096, 5*mib - 512<<10} {
		b := make([]byte, 512<<10)
		_, _ = rand.Read(b)
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
