package provider_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/elemental-suite/elemental/internal/imagetest"
)

// pushDerivative pushes a v2 test derivative of version to ref.
func pushDerivative(t *testing.T, ref string, gen int, version string) {
	t.Helper()
	img, err := imagetest.Image(imagetest.Derivative(gen, version)...)
	if err != nil {
		t.Fatal(err)
	}
	imagetest.Push(t, ref, img)
}

func imageConfig(ref, dir string) string {
	return fmt.Sprintf(`
resource "elemental_image" "test" {
  source          = %q
  grub_entry_name = "Test"
  disk {
    directory = %q
    formats   = ["raw", "qcow2"]
  }
}
`, ref, dir)
}

var hex12 = regexp.MustCompile(`^[0-9a-f]{12}$`)

func TestAccImageDisk(t *testing.T) {
	testAccPreCheck(t)
	host := imagetest.Registry(t)
	ref := host + "/elemental/test:stable"
	pushDerivative(t, ref, 2, "A")
	dir := t.TempDir()
	var firstRaw string
	addr := "elemental_image.test"
	var steps []resource.TestStep
	var lastID, lastRaw, lastSum string
	record := func(s *terraform.State) error {
		a := s.RootModule().Resources[addr].Primary.Attributes
		lastID, lastRaw, lastSum = a["id"], a["disk_files.raw"], a["disk_sha256.raw"]
		return nil
	}
	steps = []resource.TestStep{
		{
			Config: imageConfig(ref, dir),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(hex12)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("digest"), knownvalue.StringRegexp(regexp.MustCompile(`^sha256:[0-9a-f]{64}$`))),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("generation"), knownvalue.StringExact("v2")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("kernel_version"), knownvalue.StringExact(imagetest.KernelVersion)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("disk_sha256").AtMapKey("raw"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
			},
			Check: resource.ComposeTestCheckFunc(
				checkDiskFiles(addr, &firstRaw),
			),
		},
		{ // same config, same digest: nothing to do
			Config:           imageConfig(ref, dir),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop)}},
		},
		{ // the tag moves: replacement, new files, old ones gone
			PreConfig: func() { pushDerivative(t, ref, 2, "B") },
			Config:    imageConfig(ref, dir),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionReplace),
			}},
			Check: resource.ComposeTestCheckFunc(
				checkDiskFiles(addr, nil),
				func(*terraform.State) error {
					if _, err := os.Stat(firstRaw); !os.IsNotExist(err) {
						return fmt.Errorf("old disk %s still there after replacement (%v)", firstRaw, err)
					}
					return nil
				},
			),
		},
		{ // the raw disk file is deleted out of band: the refresh notices, the apply rebuilds
			PreConfig: func() { removeGlob(t, filepath.Join(dir, "*.raw")) },
			Config:    imageConfig(ref, dir),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
			}},
			Check: resource.ComposeTestCheckFunc(checkDiskFiles(addr, nil), record),
		},
		{ // forget the image (files stay), then import it by build ID: the apply adopts the files
			Config: removedConfig,
			Check: func(*terraform.State) error {
				if _, err := os.Stat(lastRaw); err != nil {
					return fmt.Errorf("removed block deleted the disk: %v", err)
				}
				steps[5].Config = importConfig(lastID) + imageConfig(ref, dir)
				return nil
			},
		},
		{
			// The step before adds the import block once it knows the ID.
			Config: imageConfig(ref, dir),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
			}},
			Check: resource.ComposeTestCheckFunc(checkDiskFiles(addr, nil), func(s *terraform.State) error {
				if got := s.RootModule().Resources[addr].Primary.Attributes["disk_sha256.raw"]; got != lastSum {
					return fmt.Errorf("adopted raw sha256 %s, built %s", got, lastSum)
				}
				return nil
			}),
		},
		{
			Config:           imageConfig(ref, dir),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop)}},
		},
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
				return fmt.Errorf("files left after destroy: %v", left)
			}
			return nil
		},
		Steps: steps,
	})
}

const removedConfig = `
removed {
  from = elemental_image.test
  lifecycle {
    destroy = false
  }
}
`

func importConfig(id string) string {
	return fmt.Sprintf("import {\n  to = elemental_image.test\n  id = %q\n}\n", id)
}

// checkDiskFiles checks that the recorded disk files exist, are named
// after the build ID, and that the raw one is a GPT disk.
func checkDiskFiles(addr string, raw *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[addr].Primary.Attributes
		id := a["id"]
		for _, f := range []string{"raw", "qcow2"} {
			p := a["disk_files."+f]
			if filepath.Base(p) != "elemental-"+id+map[string]string{"raw": ".raw", "qcow2": ".qcow2"}[f] {
				return fmt.Errorf("%s file %q is not named after id %s", f, p, id)
			}
			if _, err := os.Stat(p); err != nil {
				return err
			}
		}
		b := make([]byte, 8)
		f, err := os.Open(a["disk_files.raw"])
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.ReadAt(b, 512); err != nil || string(b) != "EFI PART" {
			return fmt.Errorf("raw disk has no GPT header at LBA 1 (%q, %v)", b, err)
		}
		if raw != nil {
			*raw = a["disk_files.raw"]
		}
		return nil
	}
}

func removeGlob(t *testing.T, pattern string) {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 {
		t.Fatalf("nothing matches %s", pattern)
	}
	for _, p := range m {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccImageRetain: retain_on_destroy changes in place and keeps the
// files when the resource is destroyed.
func TestAccImageRetain(t *testing.T) {
	testAccPreCheck(t)
	host := imagetest.Registry(t)
	ref := host + "/elemental/retain:v1"
	pushDerivative(t, ref, 1, "A")
	dir := t.TempDir()
	addr := "elemental_image.test"
	cfg := func(retain bool) string {
		return fmt.Sprintf(`
resource "elemental_image" "test" {
  source            = %q
  retain_on_destroy = %v
  disk {
    directory = %q
  }
}
`, ref, retain, dir)
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if left, _ := filepath.Glob(filepath.Join(dir, "elemental-*.raw")); len(left) != 1 {
				return fmt.Errorf("want the retained raw disk after destroy, found %v", left)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{ // nowhere to keep the build
				Config:      fmt.Sprintf("resource \"elemental_image\" \"test\" {\n  source = %q\n}\n", ref),
				ExpectError: regexp.MustCompile(`(?s)At least one.*disk`),
			},
			{
				Config: cfg(false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("generation"), knownvalue.StringExact("v1")),
				},
			},
			{
				Config: cfg(true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
			},
		},
	})
}
