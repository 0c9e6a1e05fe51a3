package badinput_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/layout"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// tmpfs mounts a tmpfs of 20 MiB on a fresh directory until the test ends,
// read-only when ro is set; it skips (naming the reason) when not root.
func tmpfs(t *testing.T, ro bool) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (uid 0); chmod 0555 would not stop root either")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=20m,mode=0755"); err != nil {
		t.Skipf("mounting a tmpfs needs CAP_SYS_ADMIN: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	if ro {
		if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			t.Fatalf("remounting %s read-only: %v", dir, err)
		}
	}
	return dir
}

// TestOutputDirectoryFull writes a disk whose data does not fit the
// output file system: the error names the disk and ENOSPC, and the
// partial disk is gone.
func TestOutputDirectoryFull(t *testing.T) {
	out := tmpfs(t, false)
	src := layoutRef(t, image(t, derivativeWith(imagetest.Layer{{Path: "srv/big", Type: rootfs.TypeReg, Data: noise(24 << 20)}})...))
	err := runFailing(t, installer.Spec{Source: src, OutputDir: out}, []string{out + "/.elemental.raw.partial-", "no space left on device"})
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("error is not ENOSPC: %v", err)
	}
}

// TestOutputDirectoryReadOnly builds into a read-only mount.
func TestOutputDirectoryReadOnly(t *testing.T) {
	out := tmpfs(t, true)
	err := runFailing(t, installer.Spec{Source: goodLayout(t), OutputDir: out},
		[]string{"creating the disk in " + out + ": open " + out + "/.elemental.raw.partial-", "read-only file system"})
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("error is not EROFS: %v", err)
	}
}

// TestCancelEveryPhase cancels the build on the first progress event of
// each phase: Run must return context.Canceled and leave nothing. A
// cancel during the last phase before the disk is published (partition for
// raw, convert for the last format) is the one most easily ignored.
func TestCancelEveryPhase(t *testing.T) {
	src := goodLayout(t)
	for _, c := range []struct {
		phase   installer.Phase
		formats []diskformat.Format
	}{
		{installer.PhaseOpen, nil}, {installer.PhaseInspect, nil}, {installer.PhaseWrite, nil},
		{installer.PhasePartition, nil}, {installer.PhasePartition, []diskformat.Format{diskformat.QCOW2, diskformat.Raw}},
		{installer.PhaseConvert, []diskformat.Format{diskformat.Raw, diskformat.QCOW2}},
		{installer.PhaseConvert, []diskformat.Format{diskformat.QCOW2, diskformat.VHD}},
	} {
		phase := c.phase
		t.Run(fmt.Sprintf("%s %v", phase, c.formats), func(t *testing.T) {
			out := t.TempDir()
			before := tmpListing(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			seen := false
			res, err := installer.Run(ctx, installer.Spec{Source: src, OutputDir: out, SourceDateEpoch: imagetest.Epoch,
				Formats: c.formats},
				installer.WithProgress(func(e installer.Event) {
					if e.Phase == phase {
						seen = true
						cancel()
					}
				}))
			if !seen {
				t.Fatalf("no %s event", phase)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run after cancel in %s: got %v (result %v), want context.Canceled", phase, err, res)
			}
			checkClean(t, out, before)
		})
	}
}

// TestSymlinkedParentReplaced is layer 1 "a -> /etc" and layer 2
// "a/passwd": the upper layer makes "a" a directory, so the file lands in
// /a/passwd inside the image, never in /etc/passwd, and nothing is written
// outside the output directory. Checked in the system image with debugfs.
func TestSymlinkedParentReplaced(t *testing.T) {
	for _, tool := range []string{"debugfs", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	src := layoutRef(t, image(t, derivativeWith(
		imagetest.Layer{sym("a", "/etc"), sym("b", "../../../../etc")},
		imagetest.Layer{reg("a/passwd", "evil\n"), reg("b/shadow", "evil\n")})...))
	out := t.TempDir()
	res, err := installer.Run(context.Background(), installer.Spec{Source: src, OutputDir: out, SourceDateEpoch: imagetest.Epoch})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 || ents[0].Name() != "elemental.raw" {
		t.Errorf("output directory holds %v, want only elemental.raw", ents)
	}
	snap := filepath.Join(t.TempDir(), "snapshot.img")
	var state int64 = -1
	for _, p := range res.Partitions {
		if p.Name == layout.State {
			state = p.Offset
		}
	}
	debugfs(t, res.Outputs[0].Path+"?offset="+strconv.FormatInt(state, 10), "dump /.snapshots/1/snapshot.img "+snap)
	if out, err := exec.Command("e2fsck", "-fn", snap).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -fn snapshot.img: %v\n%s", err, out)
	}
	for _, c := range []struct{ req, want string }{
		{"stat /a", "Type: directory"},
		{"stat /b", "Type: directory"},
		{"cat /a/passwd", "evil"},
		{"cat /b/shadow", "evil"},
		{"cat /etc/os-release", "Elemental Test"},
		{"stat /etc/passwd", "File not found"},
		{"stat /etc/shadow", "File not found"},
	} {
		if got := debugfs(t, snap, c.req); !strings.Contains(got, c.want) {
			t.Errorf("debugfs %q: want %q in\n%s", c.req, c.want, got)
		}
	}
}

func debugfs(t *testing.T, img, req string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", req, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs -R %q %s: %v\n%s", req, img, err, out)
	}
	return string(out)
}

// TestNoGoroutinesLeft checks that a build failing in the middle of the
// write phase (cancellation, and ENOSPC when root) stops every writer
// goroutine: a
// long-running host (Packer plugin, Terraform provider) must not
// accumulate them.
func TestNoGoroutinesLeft(t *testing.T) {
	src := layoutRef(t, image(t, derivativeWith(imagetest.Layer{{Path: "srv/big", Type: rootfs.TypeReg, Data: noise(24 << 20)}})...))
	before := runtime.NumGoroutine()
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := installer.Run(ctx, installer.Spec{Source: src, OutputDir: t.TempDir(), SourceDateEpoch: imagetest.Epoch},
			installer.WithProgress(func(e installer.Event) {
				if e.Phase == installer.PhaseWrite { // the writers exist, the walk has not begun
					cancel()
				}
			}))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: %v, want context.Canceled", i, err)
		}
	}
	if os.Geteuid() == 0 {
		out := tmpfs(t, false)
		if _, err := installer.Run(context.Background(), installer.Spec{Source: src, OutputDir: out, SourceDateEpoch: imagetest.Epoch}); !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("build on a full tmpfs: %v, want ENOSPC", err)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before the failed builds, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
