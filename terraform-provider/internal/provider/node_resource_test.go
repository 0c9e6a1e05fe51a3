package provider_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"golang.org/x/crypto/ssh"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/terraform-provider/internal/node/nodetest"
)

func nodeConfig(s *nodetest.SSHD, image, keyFile, hostKey string) string {
	return fmt.Sprintf(`
resource "elemental_node" "n" {
  host   = "127.0.0.1"
  image  = %q
  reboot = false
  ssh {
    port             = %d
    user             = %q
    private_key_wo   = file(%q)
    private_key_file = %q
    host_key         = %q
  }
}
`, image, s.Port, s.User, keyFile, keyFile, hostKey)
}

// sshdNode starts a real sshd with the fake toolkit, pushes version A of a
// v2 derivative to REGISTRY/elemental/NAME:stable, and writes the client
// key to a file, as the sshd-based node tests all begin.
func sshdNode(t *testing.T, name string) (s *nodetest.SSHD, repo, keyFile string) {
	t.Helper()
	s = nodetest.Start(t)
	repo = imagetest.Registry(t) + "/elemental/" + name
	pushDerivative(t, repo+":stable", 2, "A")
	keyFile = filepath.Join(t.TempDir(), "id")
	nodetest.Write(t, keyFile, s.Client, 0o600)
	return s, repo, keyFile
}

// TestAccNodeSSHD drives elemental_node against a real sshd whose
// elemental is a fake that records its arguments (no reboots).
func TestAccNodeSSHD(t *testing.T) {
	testAccPreCheck(t)
	s, repo, keyFile := sshdNode(t, "test")
	other, _ := nodetest.NewKey(t)
	otherKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.PublicKey())))
	cfg := nodeConfig(s, repo+":stable", keyFile, s.HostKeyLine())
	addr := "elemental_node.n"
	var digestA string
	var calls int
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("active_digest"), knownvalue.StringRegexp(regexp.MustCompile(`^sha256:[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("passive_digests"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("sha256:old")})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("generation"), knownvalue.StringExact("v2")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("ssh").AtMapKey("private_key_wo"), knownvalue.Null()),
				},
				Check: func(st *terraform.State) error {
					a := st.RootModule().Resources[addr].Primary.Attributes
					digestA = a["digest"]
					if a["active_digest"] != digestA {
						return fmt.Errorf("active %s, desired %s", a["active_digest"], digestA)
					}
					want := "upgrade --system oci:" + repo + "@" + digestA + "\n"
					if calls := s.Calls(t); !strings.Contains(calls, want) {
						return fmt.Errorf("toolkit calls %q lack %q", calls, want)
					}
					return checkNoSecret(st, string(s.Client))
				},
			},
			{ // out-of-band change: drift, and apply upgrades back
				PreConfig: func() { s.SetDigest(t, "sha256:"+strings.Repeat("e", 64)) },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("active_digest"), knownvalue.StringFunc(func(v string) error {
						if v != digestA {
							return fmt.Errorf("planned %s, want %s", v, digestA)
						}
						return nil
					})),
				}},
			},
			{ // the tag moves: an in-place upgrade, not a replacement
				PreConfig: func() { pushDerivative(t, repo+":stable", 2, "B") },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(st *terraform.State) error {
					a := st.RootModule().Resources[addr].Primary.Attributes
					if a["digest"] == digestA || a["active_digest"] != a["digest"] || a["passive_digests.0"] != "sha256:old" {
						return fmt.Errorf("after moving the tag: digest %s active %s passive %s", a["digest"], a["active_digest"], a["passive_digests.0"])
					}
					return nil
				},
			},
			{ // forget the node (it keeps running), then import it by host
				Config: "removed {\n  from = elemental_node.n\n  lifecycle {\n    destroy = false\n  }\n}\n",
				Check: func(*terraform.State) error {
					calls = strings.Count(s.Calls(t), "upgrade ")
					return nil
				},
			},
			{ // the apply after the import fills in the state without upgrading
				Config: "import {\n  to = elemental_node.n\n  id = \"127.0.0.1\"\n}\n" + cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(st *terraform.State) error {
					a := st.RootModule().Resources[addr].Primary.Attributes
					if a["id"] != "127.0.0.1" || a["active_digest"] != a["digest"] || a["passive_digests.0"] != "sha256:old" {
						return fmt.Errorf("after import: id %s digest %s active %s passive %s", a["id"], a["digest"], a["active_digest"], a["passive_digests.0"])
					}
					if n := strings.Count(s.Calls(t), "upgrade "); n != calls {
						return fmt.Errorf("the import ran elemental upgrade (%d calls, %d before)", n, calls)
					}
					return nil
				},
			},
			{ // a wrong host key is refused
				Config:      nodeConfig(s, repo+":stable", keyFile, otherKey),
				ExpectError: regexp.MustCompile(`IDENTIFICATION HAS CHANGED`),
			},
		},
	})
}

// checkNoSecret fails when the private key appears in any attribute.
func checkNoSecret(st *terraform.State, secret string) error {
	line := strings.Split(strings.TrimSpace(secret), "\n")[1]
	for _, r := range st.RootModule().Resources {
		for k, v := range r.Primary.Attributes {
			if strings.Contains(v, line) {
				return fmt.Errorf("private key material in state attribute %s", k)
			}
		}
	}
	if b, err := os.ReadFile("terraform.tfstate"); err == nil && strings.Contains(string(b), line) {
		return fmt.Errorf("private key material in terraform.tfstate")
	}
	return nil
}

// TestAccNodeInterrupt presses Ctrl-C (SIGINT to terraform) while the
// node's toolkit runs a slow upgrade: the apply fails, the remote
// upgrade is hung up before it switches anything, and the next apply
// converges. (TestAccNodeBoot does the same on a QEMU VM.)
func TestAccNodeInterrupt(t *testing.T) {
	testAccPreCheck(t)
	s, repo, keyFile := sshdNode(t, "interrupt")
	cfg := nodeConfig(s, repo+":stable", keyFile, s.HostKeyLine())
	addr := "elemental_node.n"
	var digestA string
	var intr *interrupter
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: func(st *terraform.State) error {
					digestA = st.RootModule().Resources[addr].Primary.Attributes["active_digest"]
					return nil
				},
			},
			{
				PreConfig: func() {
					pushDerivative(t, repo+":stable", 2, "B")
					nodetest.Write(t, filepath.Join(s.Dir, "delay"), []byte("4\n"), 0o644)
					intr = interruptWhen(time.Minute, func(context.Context) error {
						_, err := os.Stat(filepath.Join(s.Dir, "upgrading"))
						return err
					})
				},
				Config:      cfg,
				ExpectError: regexp.MustCompile(`(?s)Unable to upgrade node.*context canceled`),
			},
			{
				PreConfig: func() {
					intr.wait(t)
					time.Sleep(5 * time.Second) // past the fake's delay
					if b, _ := os.ReadFile(filepath.Join(s.Dir, "state.yaml")); !strings.Contains(string(b), digestA) {
						t.Fatalf("the interrupted upgrade ran on and switched the node:\n%s", b)
					}
					for _, f := range []string{"delay", "upgrading"} {
						if err := os.Remove(filepath.Join(s.Dir, f)); err != nil {
							t.Fatal(err)
						}
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: func(st *terraform.State) error {
					a := st.RootModule().Resources[addr].Primary.Attributes
					if a["active_digest"] == digestA || a["active_digest"] != a["digest"] {
						return fmt.Errorf("after the interruption the apply did not converge: active %s, planned %s", a["active_digest"], a["digest"])
					}
					return nil
				},
			},
		},
	})
}

// TestAccNodeCreateTimeout checks that create honours timeouts.create (the
// planned id is known on create, which once made it use the update
// timeout): a slow upgrade fails after the short create timeout although
// the update timeout is long.
func TestAccNodeCreateTimeout(t *testing.T) {
	testAccPreCheck(t)
	s, repo, keyFile := sshdNode(t, "timeout")
	nodetest.Write(t, filepath.Join(s.Dir, "delay"), []byte("60\n"), 0o644)
	cfg := strings.Replace(nodeConfig(s, repo+":stable", keyFile, s.HostKeyLine()),
		"  reboot = false\n", "  reboot = false\n  timeouts = {\n    create = \"3s\"\n    update = \"30m\"\n  }\n", 1)
	// With the update timeout the fake's 60 s upgrade would succeed.
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   versionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      cfg,
			ExpectError: regexp.MustCompile(`(?s)Unable to upgrade node.*deadline exceeded`),
		}},
	})
}
