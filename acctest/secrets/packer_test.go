package secrets

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// packerTemplate publishes the derivative as an AMI; every secret comes
// from a sensitive variable set through PKR_VAR_*, as the docs advise.
const packerTemplate = `
packer {
  required_plugins {
    elemental = {
      source  = "github.com/elemental-suite/elemental"
      version = ">= 0.0.0"
    }
  }
}

variable "source_image" { type = string }
variable "endpoint" { type = string }
variable "work" { type = string }
variable "registry_password" {
  type      = string
  sensitive = true
}
variable "access_key" {
  type      = string
  sensitive = true
}
variable "secret_key" {
  type      = string
  sensitive = true
}
variable "token" {
  type      = string
  sensitive = true
}

source "elemental-aws" "ami" {
  source_image        = var.source_image
  registry_username   = "` + registryUser + `"
  registry_password   = var.registry_password
  registry_insecure   = true
  cache_dir           = "${var.work}/cache"
  region              = "us-east-1"
  access_key          = var.access_key
  secret_key          = var.secret_key
  token               = var.token
  custom_endpoint_ec2 = var.endpoint
  max_retries         = 2
  ami_name            = "elemental-secrets-{{timestamp}}"
}

build {
  sources = ["source.elemental-aws.ami"]

  post-processor "manifest" {
    output = "${var.work}/out/manifest.json"
  }
}
`

// findPacker is $PACKER, ./bin/packer (make packer) or packer on PATH.
func findPacker(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PACKER"); p != "" {
		return p
	}
	if p := filepath.Join(repoRoot(t), "bin", "packer"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("packer")
	if err != nil {
		t.Skipf("needs packer: run make packer or set PACKER: %v", err)
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestPackerBuildLeaksNoSecret runs packer build of elemental-aws with the
// registry password and AWS keys, then scans everything it left.
func TestPackerBuildLeaksNoSecret(t *testing.T) {
	if os.Getenv("PACKER_ACC") == "" {
		t.Skip("acceptance test: set PACKER_ACC=1 (needs packer: make packer)")
	}
	packer := findPacker(t)
	c := newCreds(t)
	work := t.TempDir()
	if k := os.Getenv("SECRETS_KEEP"); k != "" {
		work = k
	}
	dirs := mkdirs(t, work, "home", "tmp", "plugins", "cache", "out")
	home, tmp, plugins := dirs[0], dirs[1], dirs[2]
	bin := os.Getenv("PLUGIN_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "packer-plugin-elemental")
		goBuild(t, "./packer-plugin", bin)
	}
	ref, reg := authRegistry(t, c)
	awsURL, emu, aws := awsGate(t, c)
	tpl := filepath.Join(work, "secrets.pkr.hcl")
	if err := os.WriteFile(tpl, []byte(packerTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv("HOME="+home, "TMPDIR="+tmp, "PACKER_PLUGIN_PATH="+plugins, "PACKER_CACHE_DIR="+filepath.Join(work, "packer-cache"),
		"CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1", "PACKER_LOG=1", "PACKER_LOG_PATH="+filepath.Join(work, "packer.log"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL_EBS="+awsURL, "AWS_ENDPOINT_URL_S3="+awsURL,
		"PKR_VAR_source_image="+ref, "PKR_VAR_endpoint="+awsURL, "PKR_VAR_work="+work,
		"PKR_VAR_registry_password="+c.RegistryPassword, "PKR_VAR_access_key="+c.AccessKey,
		"PKR_VAR_secret_key="+c.SecretKey, "PKR_VAR_token="+c.SessionToken)
	run := func(step string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, packer, args...)
		cmd.Dir, cmd.Env = work, env
		var err error
		if cmd.Stdout, err = os.Create(filepath.Join(work, step+".stdout")); err != nil {
			t.Fatal(err)
		}
		if cmd.Stderr, err = os.Create(filepath.Join(work, step+".stderr")); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Run(); err != nil {
			out, _ := os.ReadFile(filepath.Join(work, step+".stdout"))
			errOut, _ := os.ReadFile(filepath.Join(work, step+".stderr"))
			return fmt.Errorf("packer %s: %w\n%s%s", step, err, out, errOut)
		}
		return nil
	}
	if err := run("install", "plugins", "install", "--path", bin, "github.com/elemental-suite/elemental"); err != nil {
		t.Fatal(err)
	}
	if err := run("build", "build", "-timestamp-ui", tpl); err != nil {
		t.Error(err) // the scan below still runs: a failed build must not leak either
	}
	checkGate(t, "the registry", reg, false)
	checkGate(t, "the AWS emulator", aws, true)
	if res := emu.Resources(); len(res.Images) != 1 {
		t.Errorf("AWS emulator holds images %v, want one AMI", res.Images)
	}
	manifest, err := os.ReadFile(filepath.Join(work, "out", "manifest.json"))
	if err != nil || !strings.Contains(string(manifest), `"artifact_id": "us-east-1:ami-`) {
		t.Errorf("manifest: %v\n%s", err, manifest)
	}
	log, err := os.ReadFile(filepath.Join(work, "packer.log"))
	if err != nil || !strings.Contains(string(log), "packer-plugin-elemental") {
		t.Errorf("PACKER_LOG file lacks the plugin's log: %v (%d bytes)", err, len(log))
	}
	checkNoLeak(t, c, work)
}
