package installertest_test

import (
	"bytes"
	"io"
	"os"
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
	res, path := installertest.Reference(t, spec)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != res.Outputs[0].Size || fi.Size() != res.DiskSize {
		t.Fatalf("disk file has %d bytes; output size %d, disk size %d", fi.Size(), res.Outputs[0].Size, res.DiskSize)
	}
	head := make([]byte, 520)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	if head[510] != 0x55 || head[511] != 0xAA || string(head[512:520]) != "EFI PART" {
		t.Errorf("the reference disk is not a GPT disk: % x", head[510:520])
	}
	_, again := installertest.Reference(t, spec)
	g, err := os.Open(again)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !sameBytes(t, f, g) {
		t.Error("two reference builds of the same spec differ")
	}
}

// sameBytes compares two files from their starts, 1 MiB at a time.
func sameBytes(t *testing.T, a, b io.ReaderAt) bool {
	t.Helper()
	x, y := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); ; off += int64(len(x)) {
		n, errA := a.ReadAt(x, off)
		m, errB := b.ReadAt(y, off)
		if n != m || !bytes.Equal(x[:n], y[:m]) {
			return false
		}
		if errA == io.EOF || errB == io.EOF {
			return errA == errB
		}
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
	}
}
