package acceptance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/derivative"
	"github.com/elemental-suite/elemental/acctest/qemu"
)

// Time limits of the boot test: a cold derivative build runs mmdebstrap,
// packer writes a whole Debian system, and a UEFI boot under TCG takes
// about 90 s on an idle 2-CPU machine (allow for a loaded one).
const (
	derivativeTimeout = 15 * time.Minute
	packerBuildLimit  = 15 * time.Minute
	bootTimeout       = 10 * time.Minute
)

// bootMarkerRE matches the line the test derivatives print once booted
// (acctest/derivative/recipe/booted.sh), digest included.
var bootMarkerRE = regexp.MustCompile(`ELEMENTAL-TEST-BOOTED version=(\S+) generation=(\S+) mode=(\S+) digest=(none|sha256:[0-9a-f]{64})`)

// bootTemplate builds one qcow2 disk with a cloud-config, and records the
// artifact in a manifest so that the test boots what Files() lists.
const bootTemplate = `
variable "source_image" { type = string }
variable "output_directory" { type = string }

source "elemental" "boot" {
  source_image     = var.source_image
  formats          = ["qcow2"]
  output_directory = var.output_directory
  output_name      = "boot"
  cloud_config     = <<-YAML
    # packer-acceptance-cloud-config
    stages:
      boot:
        - name: packer acceptance
  YAML
}

build {
  sources = ["source.elemental.boot"]
  post-processor "manifest" {
    output = "${var.output_directory}/manifest.json"
  }
}
`

// needBoot skips unless this machine can build the test derivatives and
// boot them, with the skips of acctest/boot.
func needBoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: builds a test derivative and boots the disk under QEMU (skipped with -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("boot test needs root (mmdebstrap and chroot build the test derivatives)")
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "mmdebstrap", "chroot", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("boot test needs %s: %v", tool, err)
		}
	}
	for _, f := range []string{qemu.DefaultOVMFCode, qemu.DefaultOVMFVars} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("boot test needs OVMF (Debian package ovmf): %v", err)
		}
	}
}

// manifestBuild is the part of packer's manifest the boot test reads.
type manifestBuild struct {
	BuilderType string `json:"builder_type"`
	ArtifactID  string `json:"artifact_id"`
	Files       []struct {
		Name string `json:"name"`
	} `json:"files"`
}

// readManifest returns the one build packer's manifest post-processor
// recorded in path.
func readManifest(t *testing.T, path string) manifestBuild {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the manifest: %v", err)
	}
	var m struct {
		Builds []manifestBuild `json:"builds"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest %s: %v", path, err)
	}
	if len(m.Builds) != 1 || len(m.Builds[0].Files) != 1 {
		t.Fatalf("manifest holds %+v, want one build with one file", m.Builds)
	}
	return m.Builds[0]
}

// TestBuildBoots builds the v2 test derivative (version A) into a qcow2
// disk with the real packer, boots the artifact's file under QEMU/OVMF and
// checks that the active system of exactly that image came up, carrying
// the template's cloud-config in its OEM partition. Run it under
// `flock /tmp/qemu.lock` when other QEMU tests may run.
func TestBuildBoots(t *testing.T) {
	e := newEnv(t)
	needBoot(t)
	ctx := t.Context()
	logFile, err := os.Create(filepath.Join(t.TempDir(), "derivative.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	buildCtx, cancel := context.WithTimeout(ctx, derivativeTimeout)
	built, err := derivative.Build(buildCtx, derivative.Variant{Generation: 2, Version: "A"}, derivative.Options{Log: logFile})
	cancel()
	if err != nil {
		t.Fatalf("building test derivative v2-A (log %s): %v", logFile.Name(), err)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	tpl := filepath.Join(dir, "boot.pkr.hcl")
	if err := os.WriteFile(tpl, []byte(bootTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	log, err := e.runWithin(t, packerBuildLimit, dir, nil, "build",
		"-var", "source_image=oci-layout:"+built.LayoutDir+":"+built.Tag, "-var", "output_directory="+out, tpl)
	if err != nil {
		t.Fatalf("packer build: %v\n%s", err, log)
	}
	t.Logf("packer build of %s took %s", built.Tag, time.Since(start).Round(time.Second))
	m := readManifest(t, filepath.Join(out, "manifest.json"))
	if m.BuilderType != "elemental" || m.ArtifactID != built.Digest {
		t.Errorf("manifest: builder %s, artifact id %s; want elemental, %s", m.BuilderType, m.ArtifactID, built.Digest)
	}
	disk := m.Files[0].Name
	if !filepath.IsAbs(disk) {
		disk = filepath.Join(dir, disk)
	}
	if got := qemuImg(t, "info", "--output=json", disk); !strings.Contains(got, `"format": "qcow2"`) {
		t.Fatalf("artifact file %s is not qcow2:\n%s", disk, got)
	}

	bootDisk(t, built, disk)
}

// bootDisk boots disk and checks the marker of the active system of
// built's image, then its OEM cloud-config over SSH.
func bootDisk(t *testing.T, built *derivative.Built, disk string) {
	t.Helper()
	key, err := os.ReadFile(built.SSHKey)
	if err != nil {
		t.Fatalf("reading the test derivative's SSH key: %v", err)
	}
	vm := qemu.StartT(t, qemu.Options{Disk: disk, MemoryMB: 1024, SSHKey: key, HostKey: []byte(built.HostKey)})
	t.Logf("VM started (%s), serial log %s", vm.Accel(), vm.LogPath())
	start := time.Now()
	line, err := vm.WaitFor(t.Context(), bootMarkerRE, bootTimeout)
	if err != nil {
		t.Fatalf("waiting for the booted marker: %v (serial log %s)", err, vm.LogPath())
	}
	t.Logf("booted in %s: %s", time.Since(start).Round(time.Second), strings.TrimSpace(line))
	got := bootMarkerRE.FindStringSubmatch(line)
	want := []string{"A", "2", "active", built.Digest}
	if fmt.Sprint(got[1:]) != fmt.Sprint(want) {
		t.Fatalf("marker %q: want version, generation, mode, digest %v", line, want)
	}
	cctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	oem, err := vm.Run(cctx, "cat /oem/90_custom.yaml")
	if err != nil {
		t.Fatalf("reading the OEM cloud-config in the guest: %v", err)
	}
	if !strings.Contains(oem, "packer-acceptance-cloud-config") {
		t.Errorf("/oem/90_custom.yaml in the guest lacks the template's cloud_config:\n%s", oem)
	}
}
