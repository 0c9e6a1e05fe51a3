package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/gcpemu"
)

// terraformConfig reads the derivative, builds and publishes it as an AMI
// and moves a node to it over SSH. Secrets come from ephemeral, sensitive
// variables (TF_VAR_*), so a saved plan must not hold them either.
const terraformConfig = `
terraform {
  required_providers {
    elemental = { source = "elemental-suite/elemental" }
  }
}

variable "source_image" { type = string }
variable "aws_endpoint" { type = string }
variable "work" { type = string }
variable "ssh_port" { type = number }
variable "ssh_user" { type = string }
variable "host_key" { type = string }
variable "node_timeout" {
  type    = string
  default = "5m"
}

variable "registry_password" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "aws_access_key" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "aws_secret_key" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "aws_session_token" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "ssh_private_key" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "gcp_endpoint" { type = string }
variable "gcp_credentials" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "ssh_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

provider "elemental" {
  cache_dir = "${var.work}/cache"
  registry {
    username = "` + registryUser + `"
    password = var.registry_password
    insecure = true
  }
  aws {
    region        = "us-east-1"
    access_key    = var.aws_access_key
    secret_key    = var.aws_secret_key
    session_token = var.aws_session_token
    endpoints {
      ec2 = var.aws_endpoint
      ebs = var.aws_endpoint
      s3  = var.aws_endpoint
    }
  }
  gcp {
    project     = "` + gcpProject + `"
    credentials = var.gcp_credentials
    endpoints {
      compute = var.gcp_endpoint
      storage = var.gcp_endpoint
    }
  }
  ssh {
    private_key = var.ssh_private_key
  }
}

data "elemental_derivative" "d" {
  source = var.source_image
}

resource "elemental_image" "img" {
  source = var.source_image
  disk {
    directory = "${var.work}/out"
    formats   = ["raw"]
  }
  aws {
    name    = "elemental-secrets"
    regions = ["us-east-1"]
  }
  gcp {
    bucket     = "` + gcpBucket + `"
    image_name = "elemental-secrets"
  }
}

resource "elemental_node" "n" {
  host              = "127.0.0.1"
  image             = var.source_image
  insecure_registry = true
  reboot            = false
  ssh {
    port           = var.ssh_port
    user           = var.ssh_user
    host_key       = var.host_key
    private_key_wo = var.ssh_private_key
    password_wo    = var.ssh_password
  }
  timeouts = {
    create = var.node_timeout
    update = var.node_timeout # create alone is not honoured on create (the planned id is known)
  }
}

output "kernel" { value = data.elemental_derivative.d.kernel_version }
`

// tfEnv is what every terraform command of one run needs.
type tfEnv struct {
	work string
	env  []string
}

// run runs terraform args in the work directory, its output in
// <step>.stdout and <step>.stderr; it returns stdout and the exit code.
func (e *tfEnv) run(t *testing.T, step string, args ...string) (string, int, error) {
	t.Helper()
	return e.runWith(t, step, nil, args...)
}

// runWith is run with extra environment variables (secrets go there, not
// on the command line, which terraform logs).
func (e *tfEnv) runWith(t *testing.T, step string, extraEnv []string, args ...string) (string, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "terraform", args...)
	cmd.Dir, cmd.Env = e.work, append(e.env[:len(e.env):len(e.env)], extraEnv...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	for ext, s := range map[string]string{".stdout": stdout.String(), ".stderr": stderr.String()} {
		if werr := os.WriteFile(filepath.Join(e.work, step+ext), []byte(s), 0o644); werr != nil {
			t.Fatal(werr)
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.String(), exit.ExitCode(), fmt.Errorf("terraform %s: %w\n%s%s", step, err, stdout.String(), stderr.String())
	}
	if err != nil {
		return "", -1, fmt.Errorf("terraform %s: %w", step, err)
	}
	return stdout.String(), 0, nil
}

// newTFEnv builds the provider, writes a CLI config whose dev_overrides
// point at it, and the configuration with its variables.
func newTFEnv(t *testing.T, c *creds, work, ref, awsURL, gcpURL string, n *node) *tfEnv {
	t.Helper()
	dirs := mkdirs(t, work, "home", "tmp", "providers", "out", "cache")
	home, tmp, providers := dirs[0], dirs[1], dirs[2]
	if bin := os.Getenv("PROVIDER_BIN"); bin != "" {
		if err := os.Symlink(bin, filepath.Join(providers, "terraform-provider-elemental")); err != nil {
			t.Fatal(err)
		}
	} else {
		goBuild(t, "./terraform-provider", filepath.Join(providers, "terraform-provider-elemental"))
	}
	cli := filepath.Join(work, "dev.tfrc")
	cliConf := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"elemental-suite/elemental\" = %q\n  }\n  direct {}\n}\n", providers)
	if err := os.WriteFile(cli, []byte(cliConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(terraformConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv("HOME="+home, "TMPDIR="+tmp, "TF_CLI_CONFIG_FILE="+cli, "CHECKPOINT_DISABLE=1",
		"TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_LOG=trace", "TF_LOG_PATH="+filepath.Join(work, "terraform.log"),
		"AWS_EC2_METADATA_DISABLED=true",
		"TF_VAR_source_image="+ref, "TF_VAR_aws_endpoint="+awsURL, "TF_VAR_work="+work,
		fmt.Sprintf("TF_VAR_ssh_port=%d", n.port), "TF_VAR_ssh_user="+n.user, "TF_VAR_host_key="+n.hostKey,
		"TF_VAR_registry_password="+c.RegistryPassword, "TF_VAR_aws_access_key="+c.AccessKey,
		"TF_VAR_aws_secret_key="+c.SecretKey, "TF_VAR_aws_session_token="+c.SessionToken,
		"TF_VAR_ssh_private_key="+string(c.SSHKey), "TF_VAR_ssh_password="+c.SSHPassword,
		"TF_VAR_gcp_endpoint="+gcpURL, "TF_VAR_gcp_credentials="+c.GCP.JSON)
	return &tfEnv{work: work, env: env}
}

// TestTerraformLeaksNoSecret plans, applies, refreshes and destroys with
// every secret injected, then fails on purpose with a wrong registry
// password and a wrong AWS session token, and scans all output, logs,
// plans, state and disks.
func TestTerraformLeaksNoSecret(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (needs terraform 1.11+)")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skipf("needs terraform 1.11+ on PATH: %v", err)
	}
	t.Parallel()
	c := newCreds(t)
	work := t.TempDir()
	if k := os.Getenv("SECRETS_KEEP"); k != "" {
		work = k
	}
	nodeDir := mkdirs(t, work, "node")[0]
	n := startNode(t, nodeDir, c.SSHSigner)
	ref, reg := authRegistry(t, c)
	awsURL, emu, aws := awsGate(t, c)
	gcpURL, gcpCreds, gcp, gcpCount := gcpGate(t)
	c.GCP = gcpCreds
	e := newTFEnv(t, c, work, ref, awsURL, gcpURL, n)

	tfLifecycle(t, e, c, ref, n, gcp)
	if res := emu.Resources(); !res.Empty() {
		t.Errorf("after destroy the AWS emulator holds %+v", res)
	}
	checkGate(t, "the registry", reg, false)
	checkGate(t, "the AWS emulator", aws, true)
	checkGate(t, "the GCP emulator", gcpCount, true)
	if imgs := gcp.Images(gcpProject); len(imgs) != 0 {
		t.Errorf("after destroy %d GCE images are left", len(imgs))
	}
	tfFailures(t, e, c)
	if log, _ := os.ReadFile(n.log); !strings.Contains(string(log), "method password") {
		t.Errorf("sshd never saw a password attempt; its log:\n%.2000s", log)
	}
	if res := emu.Resources(); !res.Empty() {
		t.Errorf("after the failures and destroy the AWS emulator holds %+v", res)
	}
	for _, f := range []string{"tfplan", "terraform.tfstate", "terraform.tfstate.backup", "terraform.log", "node/calls"} {
		if !fileExists(filepath.Join(work, f)) {
			t.Errorf("%s is missing: the scan would miss what it holds", f)
		}
	}
	checkNoLeak(t, c, work)
}

// tfLifecycle is plan -out, show -json of the plan, apply, show -json,
// a refreshing plan and destroy, all with the right credentials.
func tfLifecycle(t *testing.T, e *tfEnv, c *creds, ref string, n *node, gcp *gcpemu.Emulator) {
	t.Helper()
	if _, _, err := e.run(t, "plan", "plan", "-out=tfplan"); err != nil {
		t.Fatal(err)
	}
	planJSON, _, err := e.run(t, "show-plan", "show", "-json", "tfplan")
	if err != nil || !json.Valid([]byte(planJSON)) {
		t.Fatalf("show -json tfplan: %v\n%.500s", err, planJSON)
	}
	if _, _, err := e.run(t, "apply", "apply", "tfplan"); err != nil {
		t.Fatal(err)
	}
	if imgs := gcp.Images(gcpProject); len(imgs) != 1 {
		t.Errorf("after apply the GCP emulator holds %d images, want 1", len(imgs))
	}
	// The disk files go with destroy: scan them now.
	if disks, _ := filepath.Glob(filepath.Join(e.work, "out", "*.raw")); len(disks) != 1 {
		t.Errorf("disk files %v, want one raw disk", disks)
	}
	checkNoLeak(t, c, filepath.Join(e.work, "out"))
	repo, _, _ := strings.Cut(ref, ":v1")
	if calls := n.calls(t); !strings.Contains(calls, "upgrade --system oci:"+repo+"@sha256:") {
		t.Errorf("the node was not upgraded; toolkit calls:\n%s", calls)
	}
	stateJSON, _, err := e.run(t, "show-state", "show", "-json")
	if err != nil || !strings.Contains(stateJSON, `"elemental_node"`) || !strings.Contains(stateJSON, `"ami-`) {
		t.Errorf("show -json lacks the node or the AMI: %v\n%.500s", err, stateJSON)
	}
	// A refresh reads the node (with the provider's key) and the AMI.
	if _, code, err := e.run(t, "replan", "plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after apply wants changes or failed (exit %d): %v", code, err)
	}
	if _, _, err := e.run(t, "destroy", "destroy", "-auto-approve"); err != nil {
		t.Error(err)
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// flat is terraform output without colours, diagnostic frames and line
// wrapping.
func flat(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(ansi.ReplaceAllString(s, ""), "│", " ")), " ")
}

// tfFailures runs a plan with a wrong registry password and an apply with
// a wrong session token: both must fail, saying why, without echoing
// either value; a destroy with the right credentials then cleans up.
func tfFailures(t *testing.T, e *tfEnv, c *creds) {
	t.Helper()
	_, _, err := e.runWith(t, "plan-badreg", []string{"TF_VAR_registry_password=" + c.WrongPassword}, "plan")
	if err == nil || !strings.Contains(flat(err.Error()), "UNAUTHORIZED: authentication required") {
		t.Errorf("plan with a wrong registry password: %v, want a 401 error", err)
	}
	_, _, err = e.runWith(t, "apply-badaws", []string{"TF_VAR_aws_session_token=" + c.WrongToken}, "apply", "-auto-approve")
	if err == nil || !strings.Contains(flat(err.Error()), "api error AuthFailure: wrong credentials") {
		t.Errorf("apply with a wrong AWS session token: %v, want AuthFailure", err)
	}
	if _, _, err := e.run(t, "destroy-final", "destroy", "-auto-approve"); err != nil {
		t.Error(err)
	}
	// A key sshd does not accept: the provider falls back to the password,
	// which sshd refuses too (the account has none it knows).
	bad := []string{"TF_VAR_ssh_private_key=" + string(c.WrongSSHKey), "TF_VAR_node_timeout=6s"}
	_, _, err = e.runWith(t, "apply-badssh", bad, "apply", "-auto-approve", "-target=elemental_node.n")
	if err == nil || !strings.Contains(flat(err.Error()), "unable to authenticate, attempted methods [none publickey password]") {
		t.Errorf("apply with a wrong SSH key and password: %v, want an authentication error", err)
	}
	if _, _, err := e.run(t, "destroy-last", "destroy", "-auto-approve"); err != nil {
		t.Error(err)
	}
}
