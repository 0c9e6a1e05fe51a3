package provider_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/acctest/gcpemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
)

const streamEpoch = 1700000000

func streamConfig(awsURL, gcpURL, ref string, withGCP bool) string {
	gcp := ""
	if withGCP {
		gcp = `
  gcp {
    bucket = "uploads"
  }`
	}
	return providerConfig(awsURL, gcpURL) + fmt.Sprintf(`
resource "elemental_image" "s" {
  source            = %[1]q
  source_date_epoch = %[2]d
  aws {
    regions = ["us-east-1"]
  }%[3]s
}
`, ref, streamEpoch, gcp)
}

// TestAccImageStreamed publishes with TMPDIR pointed at a watched
// directory. AWS alone: the disk goes from the build straight into the
// snapshot, and no disk file or build directory ever appears. AWS with
// Google Cloud: the raw file is built as before. Either way the snapshot,
// read back with GetSnapshotBlock, is the disk installer.Run writes from
// the same source and options, byte for byte, after the create and after
// the rebuild that follows an out-of-band deregistration, and a destroy
// leaves nothing in the emulators.
func TestAccImageStreamed(t *testing.T) {
	testAccPreCheck(t)
	for _, tc := range []struct {
		name     string
		withGCP  bool
		wantFile bool
	}{
		{name: "aws only streams", withGCP: false, wantFile: false},
		{name: "aws and gcp build a file", withGCP: true, wantFile: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := imagetest.Registry(t) + "/elemental/stream"
			img, err := imagetest.Image(imagetest.Derivative(2, "A")...)
			if err != nil {
				t.Fatal(err)
			}
			imagetest.Push(t, repo+":stable", img)
			dig, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			// The provider builds the tag pinned to its digest, and the
			// disk's state file records that reference.
			local := localDisk(t, repo+"@"+dig.String())
			emu := awsemu.New(awsemu.Options{Delay: 10 * time.Millisecond})
			srv := awsemu.NewServer(emu)
			t.Cleanup(srv.Close)
			gcpEmu, err := gcpemu.Start(gcpemu.Options{Buckets: []string{"uploads"}, OpDelay: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = gcpEmu.Close() })
			// terraform's working directories stay out of the watched one.
			t.Setenv("TF_ACC_TEMP_DIR", t.TempDir())
			watched := t.TempDir()
			t.Setenv("TMPDIR", watched)
			w := watchDir(watched)
			addr := "elemental_image.s"
			cfg := streamConfig(srv.URL, gcpEmu.URL(), repo+":stable", tc.withGCP)
			var ami string
			check := func(s *terraform.State) error {
				a := s.RootModule().Resources[addr].Primary.Attributes
				if a["disk_files.%"] != "" && a["disk_files.%"] != "0" {
					return fmt.Errorf("disk_files recorded without a disk block: %v", a)
				}
				ami = a["aws_amis.us-east-1"]
				if res := emu.Resources(); !slices.Equal(res.Images, []string{ami}) || !slices.Equal(res.Snapshots, []string{a["aws_snapshot_ids.us-east-1"]}) {
					return fmt.Errorf("emulator holds %+v, state records %s and %s", res, ami, a["aws_snapshot_ids.us-east-1"])
				}
				return sameDisk(srv.URL, a["aws_snapshot_ids.us-east-1"], local)
			}
			resource.Test(t, resource.TestCase{
				TerraformVersionChecks:   versionChecks,
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				CheckDestroy: func(*terraform.State) error {
					if res := emu.Resources(); !res.Empty() {
						return fmt.Errorf("AWS resources left: %+v", res)
					}
					if imgs := gcpEmu.Images(gcpProject); len(imgs) > 0 {
						return fmt.Errorf("%d Compute Engine images left", len(imgs))
					}
					return nil
				},
				Steps: []resource.TestStep{
					{Config: cfg, Check: check},
					{ // the AMI is deregistered out of band: the update deletes its
						// snapshot and builds and publishes again, the same way
						PreConfig: func() { deregister(t, srv.URL, "us-east-1", ami, false) },
						Config:    cfg,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						}},
						Check: check,
					},
				},
			})
			seen := w.close()
			checkTmpFiles(t, seen, tc.wantFile)
			left, err := walkNames(watched)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("left in TMPDIR after destroy: %v", left)
			}
		})
	}
}

// checkTmpFiles checks what the watcher saw: the layer cache (so the
// provider did use TMPDIR), and a disk file exactly when one is wanted.
func checkTmpFiles(t *testing.T, seen []string, wantFile bool) {
	t.Helper()
	var disks []string
	cache := false
	for _, p := range seen {
		if isDiskFile(p) {
			disks = append(disks, p)
		}
		cache = cache || strings.HasPrefix(p, "elemental-layers-")
	}
	if !cache {
		t.Fatalf("the watcher never saw the provider's layer cache in TMPDIR (saw %v): the test watched the wrong place", seen)
	}
	switch {
	case wantFile && len(disks) == 0:
		t.Errorf("no disk file seen in TMPDIR; the file path was not taken (saw %v)", seen)
	case !wantFile && len(disks) > 0:
		t.Errorf("a streamed build created disk files %v", disks)
	}
	t.Logf("seen in TMPDIR during apply and destroy: %d paths, disk files %v", len(seen), disks)
}

// isDiskFile: a build directory, or a disk file (partial or finished) of
// any format.
func isDiskFile(p string) bool {
	if strings.HasPrefix(p, "elemental-image-") || strings.Contains(p, ".raw") {
		return true
	}
	return slices.ContainsFunc(diskformat.Formats(), func(f diskformat.Format) bool { return strings.HasSuffix(p, f.Ext()) })
}

// localDisk builds the reference disk with installer.Run from ref with the
// options the configuration sets, before TMPDIR is redirected, and
// returns its path.
func localDisk(t *testing.T, ref string) string {
	t.Helper()
	res, err := installer.Run(context.Background(), installer.Spec{Source: ref, Platform: "linux/amd64", OutputDir: t.TempDir(),
		Name: "local", SourceDateEpoch: streamEpoch, Insecure: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return res.Outputs[0].Path
}

// sameDisk reads the snapshot back through the SDK with
// awsemu.ReadSnapshot and compares it with the raw disk at path block by
// block (awsemu.SnapshotData.CompareFile): the blocks held equal the
// disk's, the others are zeros in the disk, and the volume is the disk
// rounded up to whole GiB.
func sameDisk(url, snap, path string) error {
	if snap == "" {
		return fmt.Errorf("no snapshot recorded")
	}
	got, err := awsemu.ReadSnapshot(context.Background(), awsemu.Config(url), "us-east-1", snap)
	if err != nil {
		return err
	}
	return got.CompareFile(path)
}

// dirWatch walks a directory every few milliseconds and records every
// path it saw, relative to the directory.
type dirWatch struct {
	stop, done chan struct{}
	mu         sync.Mutex
	seen       map[string]bool
	walks      int
}

func watchDir(dir string) *dirWatch {
	w := &dirWatch{stop: make(chan struct{}), done: make(chan struct{}), seen: map[string]bool{}}
	go func() {
		defer close(w.done)
		for {
			names, _ := walkNames(dir) // a path removed mid-walk is not an error worth stopping for
			w.mu.Lock()
			for _, n := range names {
				w.seen[n] = true
			}
			w.walks++
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return w
}

// close stops the watcher and returns what it saw, sorted.
func (w *dirWatch) close() []string {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.seen))
	for p := range w.seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// walkNames lists every path under dir, relative to it.
func walkNames(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}
