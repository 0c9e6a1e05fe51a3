package aws

import (
	"errors"
	"fmt"
	"io"
)

// mbrCodeSize is the size of the boot code area at the start of a disk's
// first sector (the MBR), which a BIOS runs to boot it.
const mbrCodeSize = 440

// needsBIOSCode reports whether an AMI of boot mode mode may boot the
// disk through a BIOS: legacy-bios always, uefi-preferred on every
// instance type without UEFI firmware (it falls back to legacy BIOS).
func needsBIOSCode(mode string) bool { return mode == "legacy-bios" || mode == "uefi-preferred" }

// hasBIOSCode reports whether the first sector of a disk, sector0, holds
// boot code. The core writes UEFI-only GPT disks whose protective MBR has
// none, so a legacy-bios or uefi-preferred AMI of them would not boot
// (uefi-preferred: on instance types without UEFI).
func hasBIOSCode(sector0 []byte) bool {
	for _, b := range sector0[:min(len(sector0), mbrCodeSize)] {
		if b != 0 {
			return true
		}
	}
	return false
}

// errNoBIOSCode is the error for a legacy-bios or uefi-preferred spec and
// a disk without MBR boot code.
func errNoBIOSCode(mode, name string) error {
	return fmt.Errorf("boot mode %s needs a disk that can boot through a BIOS, and %s has no BIOS boot code in its MBR (a UEFI-only disk: use uefi): %w", mode, name, ErrInvalidSpec)
}

// checkBIOSFile reads the first sector of a random-access disk when the
// spec asks for a BIOS boot mode, so an unbootable AMI is refused before
// anything is created. Sources that only stream blocks are checked as
// block 0 goes by (uploader.run).
func checkBIOSFile(spec Spec, src Source) error {
	ra, ok := src.(io.ReaderAt)
	if !needsBIOSCode(spec.BootMode) || !ok {
		return nil
	}
	sector := make([]byte, mbrCodeSize)
	if _, err := ra.ReadAt(sector, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the MBR of %s: %w", src.Name(), err)
	}
	if !hasBIOSCode(sector) {
		return errNoBIOSCode(spec.BootMode, src.Name())
	}
	return nil
}
