package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// AccelEnv, when set to "tcg" or "kvm", overrides Accel "auto" (for
// example ACCTEST_QEMU_ACCEL=tcg on hosts where the probe is unwanted).
const AccelEnv = "ACCTEST_QEMU_ACCEL"

// KVMProbeTimeout bounds the KVM probe boot.
const KVMProbeTimeout = 20 * time.Second

// anyRE matches any visible serial output.
var anyRE = regexp.MustCompile(`\S`)

// kvmProbe caches the probe result for the process: the probe costs a
// firmware boot, and the answer does not change while tests run.
var kvmProbe struct {
	once sync.Once
	ok   bool
	why  string
}

func resolveAccel(ctx context.Context, o Options) (string, error) {
	accel := o.Accel
	if accel == "auto" {
		if env := os.Getenv(AccelEnv); env == "tcg" || env == "kvm" {
			accel = env
		}
	}
	if accel != "auto" {
		return accel, nil
	}
	if ok, _ := ProbeKVM(ctx, o.OVMFCode, o.OVMFVars); ok {
		return "kvm", nil
	}
	return "tcg", nil
}

// ProbeKVM reports whether QEMU can boot OVMF under KVM on this host, and
// why not. The first call boots OVMF alone with -accel kvm for up to
// KVMProbeTimeout and succeeds on the first serial output; QEMU exiting,
// a "KVM internal error" or silence mean no. The result is cached for the
// process.
func ProbeKVM(ctx context.Context, code, vars string) (bool, string) {
	kvmProbe.once.Do(func() {
		kvmProbe.ok, kvmProbe.why = probeKVM(ctx, code, vars)
	})
	return kvmProbe.ok, kvmProbe.why
}

func probeKVM(ctx context.Context, code, vars string) (bool, string) {
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		return false, fmt.Sprintf("opening /dev/kvm: %v", err)
	} else {
		f.Close()
	}
	dir, err := os.MkdirTemp("", "acctest-kvm-probe-")
	if err != nil {
		return false, err.Error()
	}
	defer os.RemoveAll(dir)
	varsCopy := filepath.Join(dir, "vars.fd")
	if err := copyFile(vars, varsCopy); err != nil {
		return false, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, KVMProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "q35", "-accel", "kvm",
		"-m", "256", "-nodefaults", "-display", "none", "-net", "none",
		"-chardev", "stdio,id=serial0,signal=off", "-serial", "chardev:serial0",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
		"-drive", "if=pflash,format=raw,unit=1,file="+varsCopy)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	serial := newSerialBuffer()
	stderr := &probeStderr{serial: serial}
	cmd.Stdout, cmd.Stderr = &probeStdout{serial: serial}, stderr
	if err := cmd.Start(); err != nil {
		return false, err.Error()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}()
	for {
		_, _, ok, changed, _ := serial.match(anyRE, 0)
		if ok {
			return true, "serial output seen"
		}
		if stderr.failed() {
			return false, "KVM internal error"
		}
		select {
		case <-changed:
		case err := <-done:
			done <- err
			return false, fmt.Sprintf("qemu exited: %v", err)
		case <-ctx.Done():
			return false, "no serial output within the probe timeout"
		}
	}
}

// probeStdout feeds serial bytes to the buffer.
type probeStdout struct{ serial *serialBuffer }

func (p *probeStdout) Write(b []byte) (int, error) { return p.serial.Write(b) }

// probeStderr watches QEMU's stderr for a KVM failure and wakes the
// probe loop.
type probeStderr struct {
	serial *serialBuffer
	mu     sync.Mutex
	text   strings.Builder
}

func (p *probeStderr) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.text.Write(b)
	p.mu.Unlock()
	p.serial.mu.Lock()
	p.serial.notifyLocked()
	p.serial.mu.Unlock()
	return len(b), nil
}

func (p *probeStderr) failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.text.String()
	return strings.Contains(s, "KVM internal error") || strings.Contains(s, "failed to set MSR")
}
