package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// The test binary doubles as the command: started with this variable set
// it runs main, so the tests exercise the real process (flags, printed
// environment, signal handling) without a separate go build.
const asCommand = "GCPEMU_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		os.Args = append([]string{"gcpemu"}, strings.Fields(os.Getenv("GCPEMU_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// standalone is a running gcpemu process and what it printed.
type standalone struct {
	cmd  *exec.Cmd
	env  map[string]string
	done chan error
}

// start runs the command with args and waits for the environment it
// prints (the "# buckets:" line comes after every export).
func start(t *testing.T, args ...string) *standalone {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asCommand+"=1", "GCPEMU_TEST_ARGS="+strings.Join(args, " "))
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
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "# buckets:") {
				close(ready)
			}
			if kv, ok := strings.CutPrefix(line, "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				s.env[k] = v
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("gcpemu exited before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gcpemu printed no environment within 30 s")
	}
	return s
}

// TestStandalonePublishes points the real storage client (through the
// printed STORAGE_EMULATOR_HOST, which it reads itself) and the compute
// client (through the printed compute endpoint) at the standalone
// emulator, publishes an image into the bucket the command created, and
// reads the kept tar.gz back: it must hold the disk, padded to a GiB.
// SIGTERM then stops the process cleanly.
func TestStandalonePublishes(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-bucket", "other,images", "-op-delay", "10ms")
	host, endpoint := s.env["STORAGE_EMULATOR_HOST"], s.env[gcpemu.EnvComputeEndpoint]
	if !strings.HasPrefix(host, "127.0.0.1:") || !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("printed STORAGE_EMULATOR_HOST=%q %s=%q, want loopback addresses", host, gcpemu.EnvComputeEndpoint, endpoint)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", host)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := gcp.NewClients(ctx, gcp.ClientOptions{ComputeEndpoint: endpoint, WithoutAuthentication: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	disk := filepath.Join(t.TempDir(), "disk.raw")
	size := writeDisk(t, disk)
	spec := gcp.Spec{ProjectID: "standalone", Bucket: "images", ImageName: "standalone-image", SkipClean: true}
	res, err := gcp.Publish(ctx, c, disk, spec, nil)
	if err != nil {
		t.Fatalf("publishing through the standalone emulator: %v", err)
	}
	if ok, err := gcp.Exists(ctx, c, spec.ProjectID, spec.ImageName); err != nil || !ok {
		t.Fatalf("image %s: exists=%v, %v", spec.ImageName, ok, err)
	}
	obj, err := c.Storage.Bucket(spec.Bucket).Object(strings.TrimPrefix(res.ObjectURI, "gs://images/")).NewReader(ctx)
	if err != nil {
		t.Fatalf("reading %s back: %v", res.ObjectURI, err)
	}
	defer obj.Close()
	info, err := gcpemu.CheckArchive(obj)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const gib = 1 << 30
	want, _, err := gcpemu.DigestDisk(io.MultiReader(f, io.LimitReader(zeros{}, gib-size)))
	if err != nil {
		t.Fatal(err)
	}
	if info.DiskSize != gib || info.DiskDigest != want {
		t.Fatalf("disk.raw in %s: %d bytes, digest %s; want %d bytes, digest %s", res.ObjectURI, info.DiskSize, info.DiskDigest, int64(gib), want)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("gcpemu after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gcpemu still running 20 s after SIGTERM")
	}
}

// TestStandaloneRefusesBadFlags: an unknown fault kind is named, and the
// command exits non-zero without serving.
func TestStandaloneRefusesBadFlags(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asCommand+"=1", "GCPEMU_TEST_ARGS=-addr 127.0.0.1:0 -fault-rate 0.1 -fault-kinds 503,bogus")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("gcpemu -fault-kinds 503,bogus exited 0:\n%s", out)
	}
	if !strings.Contains(string(out), `"bogus"`) || strings.Contains(string(out), "export ") {
		t.Fatalf("want an error naming \"bogus\" and no environment printed:\n%s", out)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// writeDisk writes a sparse 5 MiB raw disk with random data at its start,
// in its middle and at its end, and returns its size.
func writeDisk(t *testing.T, path string) int64 {
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
	return 5 * mib
}
