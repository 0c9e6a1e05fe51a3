package aws

import (
	"errors"
	"fmt"
	"io"
)

// mbrCodeSize is the size of the boot code area at the start of a disk's
// first sector (the MBR), which a BIOS runs to boot it.
const mbrCodeSize = 440

// hasBIOSCode reports whether the first sector of a disk, sector0, holds
// boot code. The core writes UEFI-only GPT disks whose protective MBR has
// none, so a legacy-bios AMI of them could never boot.
func hasBIOSCode(sector0 []byte) bool {
	for _, b := range sector0[:min(len(sector0), mbrCodeSize)] {
		if b != 0 {
			return true
		}
	}
	return false
}

// errNoBIOSCode is the error for a legacy-bios spec and a disk without
// MBR boot code.
func errNoBIOSCode(name string) error {
	return fmt.Errorf("boot mode legacy-bios needs a disk that supports it, and %s has no BIOS boot code in its MBR (a UEFI-only disk: use uefi): %w", name, ErrInvalidSpec)
}

// checkBIOSFile reads the first sector of a random-access disk when the
// spec asks for legacy-bios, so an unbootable AMI is refused before
// anything is created. Sources that only stream blocks are checked as
// block 0 goes by (uploader.run).
func checkBIOSFile(spec Spec, src Source) error {
	ra, ok := src.(io.ReaderAt)
	if spec.BootMode != "legacy-bios" || !ok {
		return nil
	}
	sector := make([]byte, mbrCodeSize)
	if _, err := ra.ReadAt(sector, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the MBR of %s: %w", src.Name(), err)
	}
	if !hasBIOSCode(sector) {
		return errNoBIOSCode(src.Name())
	}
	return nil
}
