package diskbuild_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/packerbuilderdata"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// TestStepPrepareDisk prepares a derivative from a registry: the prepared
// build lands in the state with the generated data, the layer cache in the
// work directory and no disk file anywhere; a bad source halts.
func TestStepPrepareDisk(t *testing.T) {
	img, err := imagetest.Image(imagetest.Derivative(2, "4.5")...)
	if err != nil {
		t.Fatal(err)
	}
	host := imagetest.Registry(t)
	imagetest.Push(t, host+"/os:1", img)
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		source  string
		wantErr string
	}{
		{name: "remote source", source: host + "/os:1"},
		{name: "missing image halts", source: host + "/os:missing", wantErr: "preparing the disk from " + host + "/os:missing: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			state := new(multistep.BasicStateBag)
			state.Put(diskbuild.StateUI, packersdk.TestUi(t))
			state.Put(diskbuild.StateWorkDir, work)
			step := &diskbuild.StepPrepareDisk{Spec: installer.Spec{Source: tc.source, Insecure: true},
				GeneratedData: &packerbuilderdata.GeneratedData{State: state}}
			action := step.Run(context.Background(), state)
			defer step.Cleanup(state)
			if tc.wantErr != "" {
				err, _ := state.Get(diskbuild.StateError).(error)
				if action != multistep.ActionHalt || err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || diskbuild.Prepared(state) != nil {
					t.Fatalf("Run = %v, error %v; want a halt with %q and no prepared build", action, err, tc.wantErr)
				}
				return
			}
			p := diskbuild.Prepared(state)
			if action != multistep.ActionContinue || p == nil {
				t.Fatalf("Run = %v, prepared %v: %v", action, p, state.Get(diskbuild.StateError))
			}
			gd := state.Get("generated_data").(map[string]any)
			if gd["SourceImageDigest"] != digest.String() || gd["Generation"] != "v2" || gd["KernelVersion"] != imagetest.KernelVersion || gd["OSVersion"] != "4.5" {
				t.Errorf("generated data = %v", gd)
			}
			var files []string
			filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error { //nolint:errcheck // a listing
				if err == nil && !d.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if len(files) == 0 {
				t.Error("the layer cache is not in the work directory")
			}
			for _, f := range files {
				if strings.Contains(filepath.Base(f), ".raw") {
					t.Errorf("preparing wrote the disk file %s", f)
				}
			}
		})
	}
}
