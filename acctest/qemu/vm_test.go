package qemu_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/qemu"
)

func needQEMU(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a VM; skipped with -short")
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	if _, err := os.Stat(qemu.DefaultOVMFCode); err != nil {
		t.Skipf("needs OVMF firmware (Debian package ovmf): %v", err)
	}
}

// emptyDisk makes a sparse raw disk with no partition table.
func emptyDisk(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "empty.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func fileHash(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func pidGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// firmwareRE matches what OVMF prints on serial when it tries the boot
// options of a machine whose disk holds nothing bootable.
var firmwareRE = regexp.MustCompile(`BdsDxe: (failed to load|loading|starting) Boot`)

func TestBootFirmwareCapturesSerialAndCloseKills(t *testing.T) {
	needQEMU(t)
	disk := emptyDisk(t)
	before := fileHash(t, disk)
	logPath := filepath.Join(t.TempDir(), "serial.log")
	vm := qemu.StartT(t, qemu.Options{Disk: disk, Grow: 128 << 20, MemoryMB: 256, Accel: "auto", Log: logPath})
	t.Logf("accelerator: %s", vm.Accel())

	start := time.Now()
	line, err := vm.WaitFor(t.Context(), firmwareRE, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("firmware line after %s: %q", time.Since(start).Round(time.Millisecond), line)
	if strings.Contains(line, "\x1b") || strings.Contains(line, "\r") {
		t.Errorf("line %q still has escape codes or CR", line)
	}

	// A pattern that never comes times out cleanly, naming the log.
	_, err = vm.WaitFor(t.Context(), regexp.MustCompile(`never printed by firmware`), time.Second)
	if err == nil || !strings.Contains(err.Error(), logPath) || !strings.Contains(err.Error(), "BdsDxe") {
		t.Errorf("timeout error = %v, want the log path and the last serial lines", err)
	}

	logData, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logData), "BdsDxe") {
		t.Errorf("serial log %s lacks firmware output", logPath)
	}

	pid := vm.Pid()
	if pidGone(pid) {
		t.Fatalf("qemu pid %d not running before Close", pid)
	}
	if err := vm.Close(); err != nil {
		t.Fatal(err)
	}
	if !pidGone(pid) {
		t.Errorf("qemu pid %d still exists after Close", pid)
	}
	if got := fileHash(t, disk); got != before {
		t.Error("base disk changed")
	}
	if err := vm.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestContextCancelKillsQEMU(t *testing.T) {
	needQEMU(t)
	ctx, cancel := context.WithCancel(t.Context())
	vm, err := qemu.Start(ctx, qemu.Options{MemoryMB: 128, Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	pid := vm.Pid()
	cancel()
	select {
	case <-vm.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("qemu did not exit after context cancellation")
	}
	if !pidGone(pid) {
		t.Errorf("qemu pid %d still exists after cancel", pid)
	}
	if _, err := vm.WaitFor(t.Context(), firmwareRE, 5*time.Second); err == nil ||
		!strings.Contains(err.Error(), "qemu exited") {
		t.Errorf("WaitFor after exit = %v, want a qemu exited error", err)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts qemu.Options
		want string
	}{
		{name: "missing disk", opts: qemu.Options{Disk: "/nonexistent/disk.raw"}, want: "base disk"},
		{name: "bad accel", opts: qemu.Options{Accel: "hvf"}, want: "accel"},
		{name: "registry not loopback", opts: qemu.Options{Registry: "192.0.2.1:5000"}, want: "loopback"},
		{name: "negative grow", opts: qemu.Options{Grow: -1}, want: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := qemu.Start(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestStartTCleanupKillsQEMU(t *testing.T) {
	needQEMU(t)
	var pid int
	t.Run("vm", func(t *testing.T) {
		vm := qemu.StartT(t, qemu.Options{MemoryMB: 128, Accel: "tcg"})
		pid = vm.Pid()
		if pidGone(pid) {
			t.Fatalf("qemu pid %d not running", pid)
		}
	})
	if pid == 0 || !pidGone(pid) {
		t.Errorf("qemu pid %d still exists after the test's cleanup", pid)
	}
}

func TestProbeKVMAnswers(t *testing.T) {
	needQEMU(t)
	start := time.Now()
	ok, why := qemu.ProbeKVM(t.Context(), qemu.DefaultOVMFCode, qemu.DefaultOVMFVars)
	t.Logf("KVM usable: %v (%s) after %s", ok, why, time.Since(start).Round(time.Millisecond))
	if why == "" {
		t.Error("probe gave no reason")
	}
	if time.Since(start) > qemu.KVMProbeTimeout+10*time.Second {
		t.Errorf("probe took %s, longer than its timeout", time.Since(start))
	}
	if _, err := os.Stat("/dev/kvm"); err != nil && ok {
		t.Error("probe says KVM works without /dev/kvm")
	}
	again, _ := qemu.ProbeKVM(t.Context(), qemu.DefaultOVMFCode, qemu.DefaultOVMFVars)
	if again != ok {
		t.Error("cached probe result changed")
	}
}
