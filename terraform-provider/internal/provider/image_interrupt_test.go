package provider_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/internal/imagetest"
)

// TestAccImageInterrupt presses Ctrl-C (SIGINT to terraform) while
// elemental_image waits for its snapshot to complete: the apply fails and
// neither the emulator nor the disk directory keeps anything.
func TestAccImageInterrupt(t *testing.T) {
	testAccPreCheck(t)
	// Snapshots stay pending long enough to be interrupted while waited for.
	emu := awsemu.New(awsemu.Options{Delay: 2 * time.Minute})
	srv := awsemu.NewServer(emu)
	t.Cleanup(srv.Close)
	ref := imagetest.Registry(t) + "/elemental/interrupt:stable"
	pushDerivative(t, ref, 2, "A")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
provider "elemental" {
  aws {
    region     = "us-east-1"
    access_key = "AKIAEMULATOR"
    secret_key = "emulator"
    endpoints {
      ec2 = %[1]q
      ebs = %[1]q
      s3  = %[1]q
    }
  }
}

resource "elemental_image" "i" {
  source = %[2]q
  disk {
    directory = %[3]q
  }
  aws {
    regions = ["us-east-1"]
  }
}
`, srv.URL, ref, dir)
	intr := interruptWhen(5*time.Minute, func(context.Context) error {
		if emu.Calls()["CompleteSnapshot"] == 0 {
			return errors.New("no snapshot completed yet")
		}
		return nil
	})
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      cfg,
			ExpectError: regexp.MustCompile(`(?is)context canceled|interrupt`),
		}},
	})
	intr.wait(t)
	if res := emu.Resources(); !res.Empty() {
		t.Errorf("the interrupted apply left AWS resources: %+v", res)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("the interrupted apply left %s in the disk directory", e.Name())
	}
}
