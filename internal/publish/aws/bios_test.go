package aws_test

import (
	"context"
	"errors"
	"testing"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// TestPublishLegacyBIOSNeedsBootCode: boot modes legacy-bios and
// uefi-preferred are refused for a disk whose MBR holds no boot code (as
// the core's UEFI-only GPT disks), from a file before anything is created
// and from a stream as block 0 goes by (the started snapshot is then
// deleted); a disk with boot code is published, and uefi takes either.
func TestPublishLegacyBIOSNeedsBootCode(t *testing.T) {
	t.Parallel()
	// Data from 512 on: a GPT header after an empty protective MBR.
	uefiOnly, uefiDisk := makeDisk(t, 64*mib, []chunk{{512, 32 << 10}, {4 * mib, 1 * mib}}, 60)
	_, noBlock0 := makeDisk(t, 64*mib, []chunk{{4 * mib, 1 * mib}}, 61)
	bios, biosDisk := makeDisk(t, 64*mib, []chunk{{0, 1 * mib}}, 62)
	tests := []struct {
		name    string
		path    string // a file source, or
		disk    []byte // a streamed one
		mode    string // "" means legacy-bios
		refused bool
	}{
		{name: "file without boot code", path: uefiOnly, refused: true},
		{name: "stream without boot code", disk: uefiDisk, refused: true},
		{name: "stream without block 0", disk: noBlock0, refused: true},
		{name: "uefi-preferred file without boot code", path: uefiOnly, mode: "uefi-preferred", refused: true},
		{name: "uefi-preferred stream without boot code", disk: uefiDisk, mode: "uefi-preferred", refused: true},
		{name: "file with boot code", path: bios},
		{name: "stream with boot code", disk: biosDisk},
		{name: "uefi-preferred stream with boot code", disk: biosDisk, mode: "uefi-preferred"},
		{name: "uefi file without boot code", path: uefiOnly, mode: "uefi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, cfg := newEmulator(t, awsemu.Options{})
			spec := publish.Spec{Name: "elemental-bios", BootMode: "legacy-bios"}
			if tc.mode != "" {
				spec.BootMode = tc.mode
			}
			var err error
			if tc.path != "" {
				_, err = publish.Publish(context.Background(), cfg, tc.path, spec, nil)
			} else {
				_, err = publish.PublishSource(context.Background(), cfg, memSource{disk: tc.disk, seed: 3}, spec, nil)
			}
			if !tc.refused {
				if err != nil {
					t.Fatalf("Publish of a disk with boot code: %v", err)
				}
				return
			}
			if !errors.Is(err, publish.ErrInvalidSpec) {
				t.Fatalf("err = %v, want ErrInvalidSpec", err)
			}
			if n := emu.Calls()["StartSnapshot"]; tc.path != "" && n != 0 {
				t.Errorf("a file without boot code still started %d snapshots", n)
			}
			mustEmpty(t, emu)
		})
	}
}
