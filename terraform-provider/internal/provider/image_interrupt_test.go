package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// TestAccImageInterrupt presses Ctrl-C (SIGINT to terraform) during an
// elemental_image apply: the apply fails and neither the emulator nor the
// disk directory nor TMPDIR keeps anything.
//   - disk and aws (the file path): while the snapshot is waited for;
//   - aws only (the disk streamed into the snapshot as it is built):
//     while blocks are uploaded, before the snapshot is completed.
func TestAccImageInterrupt(t *testing.T) {
	testAccPreCheck(t)
	for _, tc := range []struct {
		name   string
		disk   bool
		opts   awsemu.Options
		ready  func(calls map[string]int) error // when to interrupt
		verify func(calls map[string]int) error // that the interrupt came when meant
	}{
		{
			name: "file: disk and aws, waiting for the snapshot", disk: true,
			// Snapshots stay pending long enough to be interrupted while waited for.
			opts: awsemu.Options{Delay: 2 * time.Minute},
			ready: func(c map[string]int) error {
				if c["CompleteSnapshot"] == 0 {
					return errors.New("no snapshot completed yet")
				}
				return nil
			},
		},
		{
			name: "stream: aws only, uploading blocks",
			// Every block takes seconds, so the stream is still running
			// when the interrupt arrives.
			opts: awsemu.Options{Faults: awsemu.Faults{Rate: map[string]float64{"PutSnapshotBlock": 1},
				Kinds: []awsemu.FaultKind{awsemu.FaultSlow}, SlowDelay: 3 * time.Second}},
			ready: func(c map[string]int) error {
				if c["PutSnapshotBlock"] == 0 {
					return errors.New("no block uploaded yet")
				}
				return nil
			},
			verify: func(c map[string]int) error {
				if c["CompleteSnapshot"] > 0 {
					return fmt.Errorf("the snapshot was completed (%v): the interrupt came after the stream", c)
				}
				return nil
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := awsemu.New(tc.opts)
			srv := awsemu.NewServer(emu)
			t.Cleanup(srv.Close)
			ref := imagetest.Registry(t) + "/elemental/interrupt:stable"
			pushDerivative(t, ref, 2, "A")
			dir := t.TempDir()
			t.Setenv("TF_ACC_TEMP_DIR", t.TempDir())
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			intr := interruptWhen(5*time.Minute, func(context.Context) error { return tc.ready(emu.Calls()) })
			resource.Test(t, resource.TestCase{
				TerraformVersionChecks:   versionChecks,
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      interruptConfig(srv.URL, ref, dir, tc.disk),
					ExpectError: regexp.MustCompile(`(?is)context canceled|interrupt`),
				}},
			})
			intr.wait(t)
			if tc.verify != nil {
				if err := tc.verify(emu.Calls()); err != nil {
					t.Error(err)
				}
			}
			if res := emu.Resources(); !res.Empty() {
				t.Errorf("the interrupted apply left AWS resources: %+v", res)
			}
			for _, d := range []string{dir, tmp} {
				left, err := walkNames(d)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range left {
					t.Errorf("the interrupted apply left %s in %s", p, d)
				}
			}
		})
	}
}

func interruptConfig(url, ref, dir string, disk bool) string {
	block := ""
	if disk {
		block = fmt.Sprintf(`
  disk {
    directory = %q
  }`, dir)
	}
	return providerConfig(url, "") + fmt.Sprintf(`
resource "elemental_image" "i" {
  source = %[1]q%[2]s
  aws {
    regions = ["us-east-1"]
  }
}
`, ref, block)
}
