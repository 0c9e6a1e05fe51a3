package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

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

// command returns the command running main with args.
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asCommand+"=1", "GCPEMU_TEST_ARGS="+strings.Join(args, " "))
	return cmd
}

// standalone is a running gcpemu process and the variables it printed.
type standalone struct {
	cmd  *exec.Cmd
	env  map[string]string
	done chan error
}

// start runs the command and waits for the last variable it prints.
func start(t *testing.T, args ...string) *standalone {
	t.Helper()
	cmd := command(args...)
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
	const last = gcpemu.EnvComputeEndpoint
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
		t.Fatalf("gcpemu exited before printing %s: %v", last, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("gcpemu printed no %s within 30 s", last)
	}
	return s
}

// clients builds publisher clients from the printed variables only:
// STORAGE_EMULATOR_HOST the standard way, the compute endpoint by option.
func (s *standalone) clients(t *testing.T) gcp.Clients {
	t.Helper()
	t.Setenv("STORAGE_EMULATOR_HOST", s.env["STORAGE_EMULATOR_HOST"])
	c, err := gcp.NewClients(context.Background(), gcp.ClientOptions{
		ComputeEndpoint: s.env[gcpemu.EnvComputeEndpoint], WithoutAuthentication: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.Retry = gcp.Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3}
	return c
}

// writeDisk makes a 64 MiB sparse raw disk with 1 MiB of data.
func writeDisk(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("elemental "), 100000), 8<<20); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStandalonePublishes publishes through the standalone process into
// the bucket it creates, with clients configured from what it printed,
// then stops it with SIGTERM, which must end it cleanly.
func TestStandalonePublishes(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-op-delay", "10ms", "-bucket", "images")
	if h := s.env["STORAGE_EMULATOR_HOST"]; !strings.HasPrefix(h, "127.0.0.1:") {
		t.Fatalf("printed STORAGE_EMULATOR_HOST=%q, want a loopback host:port", h)
	}
	c := s.clients(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := gcp.Spec{ProjectID: "p", Bucket: "images", ImageName: "standalone", ChunkSize: 256 << 10,
		SourceDigest: "sha256:" + strings.Repeat("ab", 32)}
	res, err := gcp.Publish(ctx, c, writeDisk(t), spec, nil)
	if err != nil {
		t.Fatalf("publishing through the standalone emulator: %v", err)
	}
	img, err := c.Compute.Images.Get("p", "standalone").Context(ctx).Do()
	if err != nil || img.Status != "READY" || img.DiskSizeGb != 1 || img.SelfLink != res.SelfLink {
		t.Fatalf("image %+v, %v", img, err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("gcpemu after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("gcpemu still running 20 s after SIGTERM")
	}
}

// TestStandaloneFaultFlags: -fault-rate 1 -fault-kinds 403 makes every
// request fail with 403, so a publish fails and leaves nothing.
func TestStandaloneFaultFlags(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-op-delay", "10ms", "-fault-rate", "1", "-fault-kinds", "403")
	c := s.clients(t)
	spec := gcp.Spec{ProjectID: "p", Bucket: "elemental-images", ImageName: "faulty", ChunkSize: 256 << 10}
	_, err := gcp.Publish(context.Background(), c, writeDisk(t), spec, nil)
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 403 {
		t.Fatalf("Publish = %v, want a 403 from the injected faults", err)
	}
}

// TestStandaloneBadFlags: an unknown fault kind ends the process with a
// message and a non-zero status.
func TestStandaloneBadFlags(t *testing.T) {
	cmd := command("-addr", "127.0.0.1:0", "-fault-rate", "0.1", "-fault-kinds", "meteor")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), `unknown fault kind "meteor"`) {
		t.Fatalf("gcpemu with a bad fault kind: %v, stderr %q; want exit 1 naming the kind", err, stderr.String())
	}
}
