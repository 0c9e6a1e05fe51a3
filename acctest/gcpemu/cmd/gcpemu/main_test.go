package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/elemental-suite/elemental/acctest/cmdtest"
	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

func TestMain(m *testing.M) { cmdtest.Main(m, "gcpemu", main) }

// start runs the command and waits for the last variable it prints.
func start(t *testing.T, args ...string) *standalone {
	t.Helper()
	return &standalone{cmdtest.Start(t, "gcpemu", gcpemu.EnvComputeEndpoint, args...)}
}

// standalone is a running gcpemu process and the variables it printed.
type standalone struct{ *cmdtest.Process }

// clients builds publisher clients from the printed variables only:
// STORAGE_EMULATOR_HOST the standard way, the compute endpoint by option.
func (s *standalone) clients(t *testing.T) gcp.Clients {
	t.Helper()
	t.Setenv("STORAGE_EMULATOR_HOST", s.Env["STORAGE_EMULATOR_HOST"])
	c, err := gcp.NewClients(context.Background(), gcp.ClientOptions{
		ComputeEndpoint: s.Env[gcpemu.EnvComputeEndpoint], WithoutAuthentication: true,
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
	if h := s.Env["STORAGE_EMULATOR_HOST"]; !strings.HasPrefix(h, "127.0.0.1:") {
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
	s.Stop(t)
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
	cmd := cmdtest.Command("gcpemu", "-addr", "127.0.0.1:0", "-fault-rate", "0.1", "-fault-kinds", "meteor")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), `unknown fault kind "meteor"`) {
		t.Fatalf("gcpemu with a bad fault kind: %v, stderr %q; want exit 1 naming the kind", err, stderr.String())
	}
}
