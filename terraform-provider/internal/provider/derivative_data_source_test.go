package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

func TestAccDerivativeDataSource(t *testing.T) {
	testAccPreCheck(t)
	host := imagetest.Registry(t)
	ref := host + "/elemental/ds:v1"
	pushDerivative(t, ref, 1, "A")
	// An incomplete derivative: v2 markers but no kernel, initrd or elemental.
	broken, err := imagetest.Image(imagetest.Layer{
		{Path: "etc/elemental/grub.cfg", Type: rootfs.TypeReg, Data: []byte("set timeout=1\n")},
		{Path: "etc/elemental/bootargs.cfg", Type: rootfs.TypeReg, Data: []byte("set kernelcmd=\"elemental.mode=active\"\n")},
	}.WithParents())
	if err != nil {
		t.Fatal(err)
	}
	imagetest.Push(t, host+"/elemental/broken:v1", broken)
	addr := "data.elemental_derivative.d"
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "elemental_derivative" "d" { source = %q }`, ref),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("digest"), knownvalue.StringRegexp(regexp.MustCompile(`^sha256:[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("generation"), knownvalue.StringExact("v1")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("kernel_version"), knownvalue.StringExact(imagetest.KernelVersion)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("os_release").AtMapKey("VERSION"), knownvalue.StringExact("A")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("platforms"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("linux/amd64")})),
				},
			},
			{
				Config:      fmt.Sprintf(`data "elemental_derivative" "d" { source = %q }`, host+"/elemental/broken:v1"),
				ExpectError: regexp.MustCompile(`(?s)Derivative is incomplete.*missing 11 required\s+part.*- kernel.*- initrd.*elemental binary`),
			},
		},
	})
}
