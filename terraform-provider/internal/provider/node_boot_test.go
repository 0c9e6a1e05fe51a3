package provider_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/elemental-suite/elemental/acctest/derivative"
	"github.com/elemental-suite/elemental/acctest/qemu"
	"github.com/elemental-suite/elemental/acctest/registry"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

// bootNode is a QEMU VM booted from a disk of test derivative v2-A, with
// A and B pushed to a loopback registry the guest reaches.
type bootNode struct {
	vm               *qemu.VM
	reg              *registry.Registry
	a, b             *derivative.Built
	sshPort          string
	keyFile, hostKey string
}

func startBootNode(t *testing.T) *bootNode {
	t.Helper()
	for _, tool := range []string{"qemu-system-x86_64", "mmdebstrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	if _, err := os.Stat(qemu.DefaultOVMFCode); err != nil {
		t.Skipf("needs OVMF (Debian package ovmf): %v", err)
	}
	ctx := context.Background()
	n := &bootNode{}
	var err error
	for _, v := range []struct {
		dst *(*derivative.Built)
		ver string
	}{{&n.a, "A"}, {&n.b, "B"}} {
		if *v.dst, err = derivative.Build(ctx, derivative.Variant{Generation: 2, Version: v.ver}, derivative.Options{}); err != nil {
			t.Fatalf("building test derivative v2-%s: %v", v.ver, err)
		}
	}
	if n.reg, err = registry.Start(ctx, "127.0.0.1:0", registry.WithBlobDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.reg.Close() })
	n.push(t, n.a, "a")
	n.push(t, n.b, "b")
	n.push(t, n.a, "stable")
	res, err := installer.Run(ctx, installer.Spec{Source: "oci-layout:" + n.a.LayoutDir + ":" + n.a.Tag,
		OutputDir: t.TempDir(), Name: "node", Formats: []diskformat.Format{diskformat.Raw},
		// Room for three snapshots: the drift step upgrades while two exist.
		Sizes: installer.Sizes{State: 5 << 30}})
	if err != nil {
		t.Fatalf("building the node disk: %v", err)
	}
	key, err := os.ReadFile(n.a.SSHKey)
	if err != nil {
		t.Fatal(err)
	}
	n.keyFile, n.hostKey = n.a.SSHKey, strings.TrimSpace(n.a.HostKey)
	n.vm = qemu.StartT(t, qemu.Options{Disk: res.Outputs[0].Path, MemoryMB: 2048, CPUs: 2, SSHKey: key,
		HostKey: []byte(n.a.HostKey), Registry: n.reg.Host()})
	if _, err := n.vm.WaitFor(ctx, regexp.MustCompile(`ELEMENTAL-TEST-BOOTED`), 15*time.Minute); err != nil {
		t.Fatalf("first boot: %v", err)
	}
	_, n.sshPort, _ = net.SplitHostPort(n.vm.SSHAddr())
	return n
}

// push copies a built layout's image to the registry as tag.
func (n *bootNode) push(t *testing.T, b *derivative.Built, tag string) {
	t.Helper()
	p, err := layout.FromPath(b.LayoutDir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(n.reg.Host() + "/derivative:" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

func (n *bootNode) config(hostKey, resetTrigger string) string {
	return fmt.Sprintf(`
resource "elemental_node" "vm" {
  host              = "127.0.0.1"
  image             = "%[1]s/derivative:stable"
  pull_repository   = "%[2]s/derivative"
  insecure_registry = true
  reset_trigger     = %[6]q
  ssh {
    port             = %[3]s
    private_key_file = %[4]q
    host_key         = %[5]q
  }
  timeouts = {
    create = "20m"
    update = "20m"
  }
}
`, n.reg.Host(), n.vm.GuestRegistry(), n.sshPort, n.keyFile, hostKey, resetTrigger)
}

// TestAccNodeBoot boots one VM from a disk of v2-A and drives it with
// elemental_node, with as few reboots as cover the steps (4 after the
// first boot):
//
//  1. create on A (the node already runs it: no upgrade);
//  2. the tag moves to B: the plan is an update; the apply is interrupted
//     (SIGINT to terraform) while `elemental upgrade` runs;
//  3. the node, rebooted by hand, still boots A; the next apply converges:
//     upgrade, reboot into B, verified (passive A);
//  4. reset with the tag back on A: next_entry=recovery, reboot,
//     `elemental reset` in recovery, reboot, verified on A (no passives);
//  5. an out-of-band upgrade (to a tiny image) shows as drift (plan only);
//  6. a wrong host key is refused.
func TestAccNodeBoot(t *testing.T) {
	testAccPreCheck(t)
	if testing.Short() {
		t.Skip("boots a VM (skipped with -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("builds the test derivative as root (mmdebstrap, mkfs with owners): run as root")
	}
	n := startBootNode(t)
	addr := "elemental_node.vm"
	attr := func(s *terraform.State, k string) string { return s.RootModule().Resources[addr].Primary.Attributes[k] }
	var bootA string
	var intr *interrupter
	wrongKey := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1FJWsyMZYfnGDn0sSbqUD+AHPyP2o5XBK2jPg+TTA"
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: n.config(n.hostKey, ""),
				Check: func(s *terraform.State) error {
					bootA = attr(s, "boot_id")
					if attr(s, "active_digest") != n.a.Digest || attr(s, "generation") != "v2" {
						return fmt.Errorf("node runs %s (%s), want A %s", attr(s, "active_digest"), attr(s, "generation"), n.a.Digest)
					}
					return nil
				},
			},
			{
				PreConfig: func() {
					n.push(t, n.b, "stable")
					intr = n.interruptUpgrade()
				},
				Config: n.config(n.hostKey, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				ExpectError: regexp.MustCompile(`(?s)Unable to upgrade node.*context canceled`),
			},
			{
				PreConfig: func() {
					intr.wait(t)
					bootA = n.rebootStillOn(t, n.a.Digest, "A")
				},
				Config: n.config(n.hostKey, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: func(s *terraform.State) error {
					if attr(s, "active_digest") != n.b.Digest || attr(s, "boot_id") == bootA || attr(s, "passive_digests.0") != n.a.Digest {
						return fmt.Errorf("after the upgrade: active %s boot %s passive %s", attr(s, "active_digest"), attr(s, "boot_id"), attr(s, "passive_digests.0"))
					}
					bootA = attr(s, "boot_id")
					if err := n.guestVersion("B"); err != nil {
						return err
					}
					return n.noIncompleteSnapshot()
				},
			},
			{
				PreConfig: func() { n.push(t, n.a, "stable") },
				Config:    n.config(n.hostKey, "reset-1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: func(s *terraform.State) error {
					// The reset rebuilt the state partition from recovery (A):
					// one snapshot, no passives.
					if attr(s, "active_digest") != n.a.Digest || attr(s, "boot_id") == bootA || attr(s, "passive_digests.#") != "0" {
						return fmt.Errorf("after the reset: active %s boot %s passives %s", attr(s, "active_digest"), attr(s, "boot_id"), attr(s, "passive_digests.#"))
					}
					return n.guestVersion("A")
				},
			},
			{
				PreConfig:          func() { n.outOfBandUpgrade(t) },
				Config:             n.config(n.hostKey, "reset-1"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
			},
			{
				Config:      n.config(wrongKey, "reset-1"),
				ExpectError: regexp.MustCompile(`IDENTIFICATION HAS CHANGED`),
			},
		},
	})
}
