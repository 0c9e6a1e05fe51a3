package installertest_test

import (
	"bytes"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/installer/installertest"
)

// TestReference builds the test derivative twice: both disks are the
// whole raw output (its recorded size, a GPT disk: protective MBR and the
// "EFI PART" header) and, with the same epoch, equal byte for byte.
func TestReference(t *testing.T) {
	src := imagetest.WriteLayoutRef(t, imagetest.Derivative(2, "1.2.3")...)
	spec := installer.Spec{Source: src, SourceDateEpoch: 1700000000}
	res, disk := installertest.Reference(t, spec)
	if int64(len(disk)) != res.Outputs[0].Size || int64(len(disk)) != res.DiskSize {
		t.Fatalf("read %d bytes; output size %d, disk size %d", len(disk), res.Outputs[0].Size, res.DiskSize)
	}
	if disk[510] != 0x55 || disk[511] != 0xAA || string(disk[512:520]) != "EFI PART" {
		t.Errorf("the reference disk is not a GPT disk: % x", disk[510:520])
	}
	_, again := installertest.Reference(t, spec)
	if !bytes.Equal(disk, again) {
		t.Error("two reference builds of the same spec differ")
	}
}
