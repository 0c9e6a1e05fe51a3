package qemu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Default firmware paths (Debian's ovmf package, 4 MiB flash layout).
const (
	DefaultOVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	DefaultOVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// GuestHost is the address at which a guest on QEMU user-mode networking
// reaches the host's loopback interface.
const GuestHost = "10.0.2.2"

// Options describes one VM.
type Options struct {
	// Disk is the base disk image (raw or qcow2). It is never modified.
	Disk string
	// Grow, when larger than the base disk, is the virtual size in bytes
	// of the overlay, to test growing the last partition.
	Grow int64
	// MemoryMB is the guest memory in MiB (default 1024).
	MemoryMB int
	// CPUs is the number of virtual CPUs (default 1).
	CPUs int
	// Accel is "auto" (default: KVM only if a probe boot succeeds), "tcg"
	// or "kvm".
	Accel string
	// Log is the path of the serial log file. Default: serial.log in the
	// VM's temporary directory.
	Log string
	// Registry is an optional host:port on the host's loopback that the
	// guest must reach as 10.0.2.2:port (see GuestRegistry).
	Registry string
	// SSHKey is the client private key (PEM, as written by NewKeyPair or
	// ssh-keygen) used to log in as root.
	SSHKey []byte
	// HostKey is the guest's SSH host public key in authorized_keys
	// format. Run and Reboot refuse any other key.
	HostKey []byte
	// OVMFCode and OVMFVars override the firmware files.
	OVMFCode, OVMFVars string
	// ExtraArgs are appended to the QEMU command line.
	ExtraArgs []string
	// KeepMenuTimeout, when true, leaves GRUB's menu countdown alone, so
	// each boot waits for the menu timeout (10 s in the toolkit's grub.cfg)
	// and GRUB's fallback entries apply. By default the harness presses
	// Enter on the serial console when the countdown appears, as a user
	// accepting the default entry would; see VM.SetMenuEnter.
	KeepMenuTimeout bool
}

func (o Options) withDefaults() Options {
	if o.MemoryMB == 0 {
		o.MemoryMB = 1024
	}
	if o.CPUs == 0 {
		o.CPUs = 1
	}
	if o.Accel == "" {
		o.Accel = "auto"
	}
	if o.OVMFCode == "" {
		o.OVMFCode = DefaultOVMFCode
	}
	if o.OVMFVars == "" {
		o.OVMFVars = DefaultOVMFVars
	}
	return o
}

// validate returns every problem with the options at once.
func (o Options) validate() error {
	var errs []error
	if o.Disk != "" {
		if _, err := os.Stat(o.Disk); err != nil {
			errs = append(errs, fmt.Errorf("base disk: %w", err))
		}
	}
	if o.Grow < 0 {
		errs = append(errs, fmt.Errorf("grow size %d is negative", o.Grow))
	}
	switch o.Accel {
	case "auto", "tcg", "kvm":
	default:
		errs = append(errs, fmt.Errorf("accel %q is not auto, tcg or kvm", o.Accel))
	}
	for _, f := range []string{o.OVMFCode, o.OVMFVars} {
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("firmware (Debian package ovmf): %w", err))
		}
	}
	if o.Registry != "" {
		if err := checkLoopback(o.Registry); err != nil {
			errs = append(errs, fmt.Errorf("registry %q: %w", o.Registry, err))
		}
	}
	return errors.Join(errs...)
}

func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("not a loopback address (the guest reaches only the host's loopback)")
	}
	return nil
}

func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}
