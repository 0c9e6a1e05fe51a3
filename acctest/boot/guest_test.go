package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/qemu"
)

// Per-step timeouts. A boot under TCG takes about 90 s on an idle 2-CPU
// machine; the tests run up to four VMs at once, so allow several times
// that. Upgrade and reset pull or copy a whole system image in the guest.
const (
	bootTimeout   = 10 * time.Minute
	cmdTimeout    = 2 * time.Minute
	actionTimeout = 12 * time.Minute
	rebootTimeout = 3 * time.Minute
)

var (
	// grubMenuRE matches the help text GRUB prints under its menu.
	grubMenuRE = regexp.MustCompile(`Press enter to boot the selected OS`)
	// markerRE matches the line the test derivatives print once booted.
	// The digest is matched whole: WaitFor also looks at a line still
	// being received.
	markerRE = regexp.MustCompile(`ELEMENTAL-TEST-BOOTED version=(\S+) generation=(\S+) mode=(\S+) digest=(none|sha256:[0-9a-f]{64})`)
)

// marker is a parsed ELEMENTAL-TEST-BOOTED line.
type marker struct {
	Version, Generation, Mode, Digest string
}

func parseMarker(line string) (marker, error) {
	m := markerRE.FindStringSubmatch(line)
	if m == nil {
		return marker{}, fmt.Errorf("no boot marker in %q", line)
	}
	return marker{Version: m[1], Generation: m[2], Mode: m[3], Digest: m[4]}, nil
}

// guest is one VM on an overlay of a shared disk.
type guest struct {
	vm      *qemu.VM
	d       *disk
	boots   int
	presses int // Enter presses at GRUB menus up to the last boot
}

// startGuest boots d on a fresh overlay (grown to grow bytes when larger
// than the disk) and waits for the first boot's marker.
func startGuest(t *testing.T, d *disk, grow int64, registry string) *guest {
	t.Helper()
	key, err := os.ReadFile(d.a.SSHKey)
	if err != nil {
		t.Fatalf("reading the test derivative's SSH key: %v", err)
	}
	vm := qemu.StartT(t, qemu.Options{Disk: d.path, Grow: grow, MemoryMB: 1024,
		SSHKey: key, HostKey: []byte(d.a.HostKey), Registry: registry})
	t.Logf("v%d VM started (%s), serial log %s", d.gen, vm.Accel(), vm.LogPath())
	return &guest{vm: vm, d: d}
}

// waitBoot waits for GRUB's menu and then the marker, and checks it. The
// harness presses Enter at the menu countdown (qemu.Options.KeepMenuTimeout
// is false), so no boot waits for the 10 s menu timeout.
func (g *guest) waitBoot(t *testing.T, version, mode, digest string) marker {
	t.Helper()
	return g.waitBootMenu(t, true, version, mode, digest)
}

// waitBootMenu is waitBoot; with enter false the harness leaves the menu
// alone and it times out by itself. GRUB tries the fallback entries only
// then: an entry chosen with Enter that fails returns to the menu.
func (g *guest) waitBootMenu(t *testing.T, enter bool, version, mode, digest string) marker {
	t.Helper()
	start := time.Now()
	g.boots++
	ctx := t.Context()
	if _, err := g.vm.WaitFor(ctx, grubMenuRE, bootTimeout); err != nil {
		t.Fatalf("boot %d: waiting for the GRUB menu: %v", g.boots, err)
	}
	line, err := g.vm.WaitFor(ctx, markerRE, bootTimeout-time.Since(start))
	if err != nil {
		t.Fatalf("boot %d: waiting for the booted marker (want version %s, mode %s): %v", g.boots, version, mode, err)
	}
	m, err := parseMarker(line)
	if err != nil {
		t.Fatalf("boot %d: %v (serial log %s)", g.boots, err, g.vm.LogPath())
	}
	t.Logf("boot %d: %s after %s", g.boots, strings.TrimSpace(line[strings.Index(line, "ELEMENTAL"):]), time.Since(start).Round(time.Second))
	pressed := g.vm.MenuEnters() - g.presses
	g.presses += pressed
	if enter && pressed != 1 || !enter && pressed != 0 {
		t.Errorf("boot %d: the harness pressed Enter %d times at the GRUB menu (attended %v)", g.boots, pressed, enter)
	}
	want := marker{Version: version, Generation: fmt.Sprint(g.d.gen), Mode: mode, Digest: digest}
	if m != want {
		t.Fatalf("boot %d: marker %+v, want %+v (serial log %s)", g.boots, m, want, g.vm.LogPath())
	}
	return m
}

// run runs cmd as root in the guest and fails the test when it fails.
func (g *guest) run(t *testing.T, cmd string) string {
	t.Helper()
	return g.runFor(t, cmd, cmdTimeout)
}

func (g *guest) runFor(t *testing.T, cmd string, timeout time.Duration) string {
	t.Helper()
	out, err := g.try(t, cmd, timeout)
	if err != nil {
		t.Fatalf("%v (serial log %s)", err, g.vm.LogPath())
	}
	return out
}

// try runs cmd and returns its error, which carries the exit status and
// stderr of a command that failed.
func (g *guest) try(t *testing.T, cmd string, timeout time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	start := time.Now()
	out, err := g.vm.Run(ctx, cmd)
	if d := time.Since(start); d > 10*time.Second {
		t.Logf("guest command took %s: %s", d.Round(time.Second), cmd)
	}
	var ce *qemu.CommandError
	if errors.As(err, &ce) {
		return out, fmt.Errorf("guest command %q exited %d: stdout %q, stderr %q", cmd, ce.ExitStatus, ce.Stdout, ce.Stderr)
	}
	return out, err
}

// reboot reboots the guest gracefully and waits for the next boot.
func (g *guest) reboot(t *testing.T, version, mode, digest string) marker {
	t.Helper()
	resets := g.vm.Resets()
	g.shutdown(t)
	m := g.waitBoot(t, version, mode, digest)
	if g.vm.Resets() <= resets {
		t.Errorf("the guest booted again without a reset the harness saw (resets %d before and after)", resets)
	}
	return m
}

// rebootUnattended reboots and lets GRUB's menu time out, as on an
// unattended machine, so that its fallback entries are used.
func (g *guest) rebootUnattended(t *testing.T, version, mode, digest string) marker {
	t.Helper()
	g.vm.SetMenuEnter(false)
	defer g.vm.SetMenuEnter(true)
	g.shutdown(t)
	return g.waitBootMenu(t, false, version, mode, digest)
}

func (g *guest) shutdown(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rebootTimeout)
	defer cancel()
	if err := g.vm.Reboot(ctx); err != nil {
		t.Fatalf("rebooting the guest: %v (serial log %s)", err, g.vm.LogPath())
	}
}

// setNextEntry sets a one-shot GRUB entry in (oem)/grubenv with the
// stand-in's grub-editenv, as an operator would before a reset.
func (g *guest) setNextEntry(t *testing.T, entry string) {
	t.Helper()
	g.run(t, "elemental grub-editenv /oem/grubenv set next_entry="+entry)
	if out := g.run(t, "elemental grub-editenv /oem/grubenv list"); !strings.Contains(out, "next_entry="+entry) {
		t.Fatalf("(oem)/grubenv after setting next_entry:\n%s", out)
	}
}

// stateDir is where the initrd mounts the state (or recovery) partition.
func stateDir(gen int) string {
	if gen == 1 {
		return "/run/initramfs/cos-state"
	}
	return "/run/initramfs/elemental-state"
}

// cmdlineWants are the contract's §3.3 kernel arguments per mode.
func cmdlineWants(gen int, mode string) (want, unwanted []string) {
	switch {
	case gen == 2 && mode == "active":
		return []string{"root=LABEL=COS_STATE", "elemental.mode=active", "elemental.oemlabel=COS_OEM"}, []string{"elemental.image="}
	case gen == 2 && mode == "recovery":
		return []string{"root=LABEL=COS_RECOVERY", "elemental.mode=recovery", "elemental.image=/boot/recovery.img"}, nil
	case gen == 2 && mode == "passive":
		return []string{"root=LABEL=COS_STATE", "elemental.mode=passive", "elemental.image=/.snapshots/"}, nil
	case mode == "active":
		return []string{"root=LABEL=COS_STATE", "cos-img/filename=/cOS/active.img", "rd.cos.mount=LABEL=COS_PERSISTENT:/usr/local"}, nil
	case mode == "passive":
		return []string{"root=LABEL=COS_STATE", "cos-img/filename=/cOS/passive.img"}, nil
	default:
		return []string{"root=LABEL=COS_RECOVERY", "cos-img/filename=/cOS/recovery.img"}, nil
	}
}

// checkCmdline compares /proc/cmdline with cmdlineWants.
func (g *guest) checkCmdline(t *testing.T, mode string) {
	t.Helper()
	got := " " + strings.TrimSpace(g.run(t, "cat /proc/cmdline")) + " "
	want, unwanted := cmdlineWants(g.d.gen, mode)
	for _, w := range want {
		if !strings.Contains(got, " "+w) {
			t.Errorf("v%d %s /proc/cmdline lacks %q:%s", g.d.gen, mode, w, got)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(got, " "+u) {
			t.Errorf("v%d %s /proc/cmdline has %q:%s", g.d.gen, mode, u, got)
		}
	}
}
