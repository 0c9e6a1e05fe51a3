package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// VM is one running QEMU guest.
type VM struct {
	opts    Options
	dir     string // private temp dir: overlay, vars, default log
	logPath string
	sshPort int
	accel   string
	ctx     context.Context // the Start context: relaunches run under it too
	args    []string        // QEMU's command line, the same for every launch
	serial  *serialBuffer
	menu    *menuPresser
	stderr  *syncBuffer
	exited  chan struct{} // closed when the last QEMU process has been reaped

	mu      sync.Mutex
	cmd     *exec.Cmd      // the current QEMU process
	stdin   io.WriteCloser // its serial input
	resets  int            // guest resets followed by a fresh QEMU
	closed  bool           // Close has begun: launch no more
	pos     int            // WaitFor position
	ssh     *sshConn
	closing sync.Once
	closeEr error
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		b.b.Reset()
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// StartT starts a VM and registers Close with t.Cleanup, so QEMU is
// killed and the overlay removed even if the test fails or panics. When
// the test has failed, the cleanup first logs the last 100 serial lines.
// It calls t.Fatal if the VM cannot start.
func StartT(t testing.TB, opts Options) *VM {
	t.Helper()
	vm, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("starting VM: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last serial lines of the VM (log %s):\n%s", vm.logPath, strings.Join(vm.serial.tail(100), "\n"))
		}
		if err := vm.Close(); err != nil {
			t.Errorf("closing VM: %v", err)
		}
	})
	return vm
}

// Start boots a VM. QEMU is killed when ctx ends; call Close in any case
// to remove the overlay.
func Start(ctx context.Context, opts Options) (*VM, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("checking VM options: %w", err)
	}
	accel, err := resolveAccel(ctx, opts)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "acctest-qemu-")
	if err != nil {
		return nil, fmt.Errorf("creating VM directory: %w", err)
	}
	vm := &VM{opts: opts, dir: dir, accel: accel, ctx: ctx, serial: newSerialBuffer(),
		stderr: &syncBuffer{}, exited: make(chan struct{})}
	if err := vm.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return vm, nil
}

func (vm *VM) start(ctx context.Context) error {
	overlay := ""
	if vm.opts.Disk != "" {
		var err error
		if overlay, err = createOverlay(ctx, vm.dir, vm.opts.Disk, vm.opts.Grow); err != nil {
			return err
		}
	}
	vars := filepath.Join(vm.dir, "OVMF_VARS.fd")
	if err := copyFile(vm.opts.OVMFVars, vars); err != nil {
		return fmt.Errorf("copying OVMF variable store: %w", err)
	}
	vm.logPath = vm.opts.Log
	if vm.logPath == "" {
		vm.logPath = filepath.Join(vm.dir, "serial.log")
	}
	logFile, err := os.Create(vm.logPath)
	if err != nil {
		return fmt.Errorf("creating serial log: %w", err)
	}
	port, err := freePort()
	if err != nil {
		logFile.Close()
		return err
	}
	vm.sshPort = port
	vm.args = qemuArgs(vm.opts, vm.accel, overlay, vars, port)
	vm.menu = newMenuPresser(!vm.opts.KeepMenuTimeout, func() { go vm.Type("\r") })
	stdout, err := vm.launch()
	if err != nil {
		logFile.Close()
		return err
	}
	go vm.pump(stdout, logFile)
	return nil
}

// launch starts one QEMU process on the VM's command line and returns
// its serial output. It refuses once Close has begun, so a guest reset
// racing Close cannot leave a process behind.
func (vm *VM) launch() (io.ReadCloser, error) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.closed {
		return nil, errors.New("the VM is closed")
	}
	cmd := exec.CommandContext(vm.ctx, "qemu-system-x86_64", vm.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stderr = vm.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("connecting to QEMU serial output: %w", err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("connecting to QEMU serial input: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting qemu-system-x86_64 (Debian package qemu-system-x86): %w", err)
	}
	vm.cmd, vm.stdin = cmd, stdin
	return stdout, nil
}

// pump copies serial output to the log and the line buffer and reaps
// QEMU. QEMU runs with -no-reboot, so a guest reset ends the process
// cleanly; pump then starts QEMU again on the same overlay, variable
// store and SSH port, as a power cycle would. A guest power-off (the
// kernel's "reboot: Power down"), a kill or an error end the VM.
func (vm *VM) pump(stdout io.Reader, logFile *os.File) {
	defer logFile.Close()
	for {
		_, copyErr := io.Copy(io.MultiWriter(logFile, vm.serial, vm.menu), stdout)
		vm.mu.Lock()
		cmd := vm.cmd
		vm.mu.Unlock()
		waitErr := cmd.Wait()
		if copyErr == nil && waitErr == nil && vm.ctx.Err() == nil && !vm.serial.poweredOff() {
			vm.serial.breakLine()
			next, err := vm.launch()
			if err == nil {
				vm.mu.Lock()
				vm.resets++
				vm.mu.Unlock()
				fmt.Fprintf(logFile, "\n[acctest/qemu: guest reset; QEMU started again on the same disk]\n")
				stdout = next
				continue
			}
			waitErr = err
		}
		why := fmt.Errorf("qemu exited (%v); stderr: %s", waitErr, strings.TrimSpace(vm.stderr.String()))
		if copyErr != nil {
			why = fmt.Errorf("%w; reading serial: %v", why, copyErr)
		}
		vm.serial.end(why)
		close(vm.exited)
		return
	}
}

func qemuArgs(o Options, accel, overlay, vars string, sshPort int) []string {
	args := []string{
		"-machine", "q35", "-accel", accel,
		"-m", strconv.Itoa(o.MemoryMB), "-smp", strconv.Itoa(o.CPUs),
		"-nodefaults", "-display", "none", "-vga", "none", "-no-reboot",
		"-chardev", "stdio,id=serial0,signal=off", "-serial", "chardev:serial0",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + o.OVMFCode,
		"-drive", "if=pflash,format=raw,unit=1,file=" + vars,
		"-netdev", fmt.Sprintf("user,id=net0,hostfwd=tcp:127.0.0.1:%d-:22", sshPort),
		"-device", "virtio-net-pci,netdev=net0",
		"-device", "virtio-rng-pci",
	}
	if overlay != "" {
		args = append(args, "-drive", "if=virtio,format=qcow2,cache=unsafe,discard=unmap,file="+overlay)
	}
	return append(args, o.ExtraArgs...)
}

// createOverlay makes a qcow2 overlay backed by base, optionally with a
// larger virtual size.
func createOverlay(ctx context.Context, dir, base string, grow int64) (string, error) {
	abs, err := absPath(base)
	if err != nil {
		return "", fmt.Errorf("resolving base disk %s: %w", base, err)
	}
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", abs).Output()
	if err != nil {
		return "", fmt.Errorf("inspecting base disk %s with qemu-img (Debian package qemu-utils): %w", abs, err)
	}
	var info struct {
		Format      string `json:"format"`
		VirtualSize int64  `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("parsing qemu-img info for %s: %w", abs, err)
	}
	overlay := filepath.Join(dir, "overlay.qcow2")
	args := []string{"create", "-q", "-f", "qcow2", "-b", abs, "-F", info.Format, overlay}
	if grow > info.VirtualSize {
		args = append(args, strconv.FormatInt(grow, 10))
	}
	if out, err := exec.CommandContext(ctx, "qemu-img", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("creating overlay for %s: %w: %s", abs, err, out)
	}
	return overlay, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Pid is the current QEMU process's id; it changes when the guest resets.
func (vm *VM) Pid() int {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.cmd.Process.Pid
}

// Resets is how many guest resets the VM has followed so far (each one a
// fresh QEMU process on the same disk).
func (vm *VM) Resets() int {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.resets
}

// Accel is the accelerator in use ("kvm" or "tcg").
func (vm *VM) Accel() string { return vm.accel }

// LogPath is the serial log file.
func (vm *VM) LogPath() string { return vm.logPath }

// SSHAddr is the host address (127.0.0.1:port) forwarded to the guest's
// port 22.
func (vm *VM) SSHAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(vm.sshPort)) }

// GuestRegistry is Options.Registry as the guest reaches it
// (10.0.2.2:port), or "" when no registry was given.
func (vm *VM) GuestRegistry() string {
	if vm.opts.Registry == "" {
		return ""
	}
	_, port, _ := net.SplitHostPort(vm.opts.Registry)
	return net.JoinHostPort(GuestHost, port)
}

// Exited is closed when QEMU has exited.
func (vm *VM) Exited() <-chan struct{} { return vm.exited }

// WaitFor returns the first serial line after the previous WaitFor match
// that matches re. Its error names the log file and quotes the last 40
// serial lines.
func (vm *VM) WaitFor(ctx context.Context, re *regexp.Regexp, timeout time.Duration) (string, error) {
	vm.mu.Lock()
	pos := vm.pos
	vm.mu.Unlock()
	line, err := vm.serial.waitFor(ctx, re, &pos, timeout)
	if err != nil {
		return "", fmt.Errorf("%w\nserial log %s, last lines:\n%s", err, vm.logPath,
			strings.Join(vm.serial.tail(40), "\n"))
	}
	vm.mu.Lock()
	if pos > vm.pos {
		vm.pos = pos
	}
	vm.mu.Unlock()
	return line, nil
}

// Type sends s to the guest's serial console (for example a key press in
// a boot menu).
func (vm *VM) Type(s string) error {
	vm.mu.Lock()
	stdin := vm.stdin
	vm.mu.Unlock()
	if _, err := io.WriteString(stdin, s); err != nil {
		return fmt.Errorf("writing to serial console: %w", err)
	}
	return nil
}

// SetMenuEnter turns pressing Enter at GRUB's menu countdown on or off
// for the boots that follow (Options.KeepMenuTimeout sets the start
// value). Turn it off before a boot that must reach GRUB's fallback
// entries: GRUB falls back only from an entry it started on its own.
func (vm *VM) SetMenuEnter(on bool) { vm.menu.set(on) }

// MenuEnters is how many times the harness pressed Enter at a GRUB menu.
func (vm *VM) MenuEnters() int { return vm.menu.count() }

// Close kills QEMU and its process group, waits for it and removes the
// VM's temporary directory. It is safe to call more than once.
func (vm *VM) Close() error {
	vm.closing.Do(func() {
		vm.mu.Lock()
		if vm.ssh != nil {
			vm.ssh.close()
		}
		vm.closed = true
		pid := vm.cmd.Process.Pid
		vm.mu.Unlock()
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		select {
		case <-vm.exited:
		case <-time.After(30 * time.Second):
			vm.closeEr = fmt.Errorf("qemu pid %d did not exit after SIGKILL", pid)
		}
		if err := os.RemoveAll(vm.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			vm.closeEr = errors.Join(vm.closeEr, fmt.Errorf("removing VM directory: %w", err))
		}
	})
	return vm.closeEr
}
