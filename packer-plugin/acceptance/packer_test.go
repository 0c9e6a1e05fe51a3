package acceptance_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/imagetest"
)

const pluginSource = "github.com/elemental-suite/elemental"

// env is what every packer run needs: the plugin installed into a private
// plugin directory.
type env struct {
	root      string // repository root
	packer    string
	pluginDir string
	derivRef  string
	derivVer  string
}

var (
	setupOnce sync.Once
	setupEnv  *env
	setupErr  error
)

func newEnv(t *testing.T) *env {
	t.Helper()
	if os.Getenv("PACKER_ACC") == "" {
		t.Skip("acceptance test: set PACKER_ACC=1 (make testacc)")
	}
	setupOnce.Do(func() { setupEnv, setupErr = setup() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return setupEnv
}

// setup finds packer, builds and installs the plugin and writes the test
// derivative. Its files live in a directory removed by TestMain.
func setup() (*env, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	e := &env{root: root, pluginDir: filepath.Join(workDir, "plugins"), derivVer: "1.2.3"}
	if e.packer, err = findPacker(root); err != nil {
		return nil, err
	}
	bin := os.Getenv("PLUGIN_BIN")
	if bin == "" {
		bin = filepath.Join(workDir, "packer-plugin-elemental")
		cmd := exec.Command("go", "build", "-o", bin, "./packer-plugin")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the plugin: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(e.packer, "plugins", "install", "--path", bin, pluginSource)
	cmd.Env = e.environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("installing the plugin: %v\n%s", err, out)
	}
	img, err := imagetest.Image(imagetest.Derivative(2, e.derivVer)...)
	if err != nil {
		return nil, err
	}
	layout := filepath.Join(workDir, "derivative")
	if err := imagetest.WriteLayout(layout, img, "test"); err != nil {
		return nil, err
	}
	e.derivRef = "oci-layout:" + layout + ":test"
	return e, nil
}

func findPacker(root string) (string, error) {
	if p := os.Getenv("PACKER"); p != "" {
		return p, nil
	}
	if p := filepath.Join(root, "bin", "packer"); fileExists(p) {
		return p, nil
	}
	p, err := exec.LookPath("packer")
	if err != nil {
		return "", fmt.Errorf("no packer binary: run make packer (or set PACKER): %w", err)
	}
	return p, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

var workDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "packer-acc-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func (e *env) environ(extra ...string) []string {
	out := append(os.Environ(), "PACKER_PLUGIN_PATH="+e.pluginDir, "CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1")
	return append(out, extra...)
}

func (e *env) example(name string) string {
	return filepath.Join(e.root, "examples", "packer", name)
}

// run runs packer with args in dir and returns its output, giving up
// after 3 minutes.
func (e *env) run(t *testing.T, dir string, extraEnv []string, args ...string) (string, error) {
	t.Helper()
	return e.runWithin(t, 3*time.Minute, dir, extraEnv, args...)
}

// runWithin is run with its own time limit.
func (e *env) runWithin(t *testing.T, limit time.Duration, dir string, extraEnv []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.packer, args...)
	cmd.Dir = dir
	cmd.Env = e.environ(extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// start runs packer in the background, calling onLine for each output line.
func (e *env) start(t *testing.T, dir string, extraEnv []string, onLine func(string), args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(e.packer, args...)
	cmd.Dir = dir
	cmd.Env = e.environ(extraEnv...)
	// Its own process group, so that an interrupt reaches packer and its
	// plugins as a terminal's Ctrl-C does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			onLine(sc.Text())
		}
		done <- all.String()
	}()
	go func() { cmd.Wait(); pw.Close() }() //nolint:errcheck // the exit status is read from ProcessState
	return cmd, done
}

func TestValidateExamples(t *testing.T) {
	e := newEnv(t)
	files, err := filepath.Glob(e.example("*.pkr.hcl"))
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v %v, want at least 4", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := e.run(t, t.TempDir(), nil, "validate", "-var", "source_image="+e.derivRef, f)
			if err != nil || !strings.Contains(out, "The configuration is valid") {
				t.Fatalf("packer validate %s: %v\n%s", f, err, out)
			}
		})
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	tpl := filepath.Join(dir, "bad.pkr.hcl")
	if err := os.WriteFile(tpl, []byte(`
source "elemental" "bad" {
  platform  = "linux/s390x"
  formats   = ["iso"]
  disk_size = "8X"
  recovery { filesystem = "btrfs" }
}
source "elemental-aws" "bad" {
  source_image = "reg/os:1"
  ami_name     = "x"
  boot_mode    = "bios"
  tags         = { "aws:name" = "v" }
  tag {
    key   = ""
    value = "v"
  }
  snapshot_tag {
    key   = "aws:x"
    value = "y"
  }
}
source "elemental-gcp" "bad" {
  source_image = "reg/os:1"
  project_id   = "p"
  bucket       = "b"
  image_name   = "Bad_Name"
  image_labels = { "Bad Key" = "V!" }
}
build { sources = ["source.elemental.bad", "source.elemental-aws.bad", "source.elemental-gcp.bad"] }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.run(t, dir, nil, "validate", tpl)
	if err == nil {
		t.Fatalf("packer validate accepted a bad template:\n%s", out)
	}
	for _, want := range []string{"source_image: required", `platform "linux/s390x"`, `formats[0]: "iso" is not a format`,
		`disk_size: size "8X"`, `recovery.filesystem "btrfs"`,
		"ami_name: required, 3 to 128 characters", `boot_mode "bios"`, `tags["aws:name"]: key "aws:name": the aws: prefix is reserved`,
		"tag[0]: key is empty", `snapshot_tag[0]: key "aws:x": the aws: prefix is reserved`,
		`image_name "Bad_Name"`, `image_labels: label key "Bad Key"`, `image_labels: label "Bad Key" value "V!"`} {
		if !strings.Contains(out, want) {
			t.Errorf("packer validate output lacks %q:\n%s", want, out)
		}
	}
}
