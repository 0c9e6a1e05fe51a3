package diskbuild_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/packerbuilderdata"

	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

func TestStepBuildDisk(t *testing.T) {
	tests := []struct {
		name      string
		buildErr  error
		halt      bool
		wantFile  bool
		wantState bool
	}{
		{name: "success keeps the disk", wantFile: true, wantState: true},
		{name: "later failure removes the disk", halt: true, wantFile: false, wantState: true},
		{name: "build error halts", buildErr: errors.New("boom")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			disk := filepath.Join(work, "disk.raw")
			state := new(multistep.BasicStateBag)
			state.Put(diskbuild.StateUI, packersdk.TestUi(t))
			state.Put(diskbuild.StateWorkDir, work)
			var gotDir string
			step := &diskbuild.StepBuildDisk{
				Spec:          installer.Spec{Source: "reg/os:1"},
				GeneratedData: &packerbuilderdata.GeneratedData{State: state},
				Build: func(_ context.Context, s installer.Spec, opts ...installer.Option) (*installer.Result, error) {
					gotDir = s.OutputDir
					if tc.buildErr != nil {
						return nil, tc.buildErr
					}
					if err := os.WriteFile(disk, []byte("disk"), 0o644); err != nil {
						return nil, err
					}
					return &installer.Result{Source: s.Source, Digest: "sha256:abc", Generation: inspect.V2,
						KernelVersion: "6.1", OSRelease: map[string]string{"VERSION": "5.0"}, Outputs: []installer.Output{{Path: disk}}}, nil
				},
			}
			action := step.Run(context.Background(), state)
			if gotDir != work {
				t.Errorf("built into %q, want the work directory %q", gotDir, work)
			}
			if (action == multistep.ActionHalt) != (tc.buildErr != nil) {
				t.Fatalf("Run = %v with build error %v", action, tc.buildErr)
			}
			if tc.buildErr != nil {
				if err, _ := state.Get(diskbuild.StateError).(error); !errors.Is(err, tc.buildErr) {
					t.Errorf("state error = %v, want it to wrap %v", err, tc.buildErr)
				}
				return
			}
			gd := state.Get("generated_data").(map[string]any)
			if gd["SourceImageDigest"] != "sha256:abc" || gd["Generation"] != "v2" || gd["KernelVersion"] != "6.1" || gd["OSVersion"] != "5.0" {
				t.Errorf("generated data = %v", gd)
			}
			if tc.halt {
				state.Put(multistep.StateHalted, true)
			}
			step.Cleanup(state)
			if _, err := os.Stat(disk); (err == nil) != tc.wantFile {
				t.Errorf("disk exists = %v, want %v", err == nil, tc.wantFile)
			}
		})
	}
}

// countingUI counts the bytes read through its progress tracker.
type countingUI struct {
	packersdk.Ui
	mu    sync.Mutex
	total int64
	read  int64
}

func (u *countingUI) TrackProgress(_ string, _, total int64, r io.ReadCloser) io.ReadCloser {
	u.mu.Lock()
	u.total = total
	u.mu.Unlock()
	return &countingReader{u: u, r: r}
}

type countingReader struct {
	u *countingUI
	r io.ReadCloser
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.u.mu.Lock()
	c.u.read += int64(n)
	c.u.mu.Unlock()
	return n, err
}
func (c *countingReader) Close() error { return c.r.Close() }

func TestBarFeedsTracker(t *testing.T) {
	ui := &countingUI{Ui: packersdk.TestUi(t)}
	bar := diskbuild.NewBar(ui, "upload", 10<<20)
	for _, done := range []int64{1 << 20, 4 << 20, 3 << 20, 10 << 20} { // 3 MiB is a step back, ignored
		bar.Set(done)
	}
	bar.Close()
	bar.Close() // idempotent
	if ui.total != 10<<20 || ui.read != 10<<20 {
		t.Errorf("tracker saw %d of %d bytes, want all 10 MiB", ui.read, ui.total)
	}
}
