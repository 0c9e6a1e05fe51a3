package qemu_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/qemu"
)

// fakeQEMU puts a qemu-system-x86_64 on PATH that plays a guest: the
// first launch prints a boot and a reset, the second a boot and a
// power-off, each time exiting 0 as QEMU does under -no-reboot. Every
// launch appends its command line to the returned file.
func fakeQEMU(t *testing.T) (calls string) {
	t.Helper()
	bin := t.TempDir()
	calls = filepath.Join(bin, "calls")
	script := `#!/bin/sh
echo "$*" >> ` + calls + `
n=$(wc -l < ` + calls + `)
echo "boot $n"
if [ "$n" -eq 1 ]; then
  printf 'reboot: Restarting system\nreboot: machine restart'
else
  printf 'reboot: Power down\n'
fi
`
	if err := os.WriteFile(filepath.Join(bin, "qemu-system-x86_64"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

func TestGuestResetStartsQEMUAgain(t *testing.T) {
	calls := fakeQEMU(t)
	fw := filepath.Join(t.TempDir(), "fw.fd")
	if err := os.WriteFile(fw, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	vm, err := qemu.Start(t.Context(), qemu.Options{Accel: "tcg", OVMFCode: fw, OVMFVars: fw})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()

	select {
	case <-vm.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the VM did not end after the guest powered off")
	}
	if got := vm.Resets(); got != 1 {
		t.Errorf("Resets = %d, want 1 (one reset, then a power-off)", got)
	}
	for _, want := range []string{"boot 1", "reboot: machine restart", "boot 2", "reboot: Power down"} {
		if _, err := vm.WaitFor(t.Context(), regexp.MustCompile("^"+regexp.QuoteMeta(want)+"$"), time.Second); err != nil {
			t.Errorf("serial line %q: %v", want, err)
		}
	}
	data, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("QEMU launched %d times, want 2:\n%s", len(lines), data)
	}
	if lines[0] != lines[1] {
		t.Errorf("the second launch has another command line:\n%s\n%s", lines[0], lines[1])
	}
	if !strings.Contains(lines[0], "-no-reboot") || !strings.Contains(lines[0], vm.SSHAddr()[len("127.0.0.1:"):]) {
		t.Errorf("command line lacks -no-reboot or the SSH port %s: %s", vm.SSHAddr(), lines[0])
	}
	log, err := os.ReadFile(vm.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "boot 1") || !strings.Contains(string(log), "boot 2") {
		t.Errorf("serial log lacks one of the two boots:\n%s", log)
	}
}
