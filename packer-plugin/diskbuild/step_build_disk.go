package diskbuild

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/packerbuilderdata"

	"github.com/elemental-suite/elemental/internal/installer"
)

// StepBuildDisk turns the derivative into disk files with the core.
//
// Produces:
//
//	StateResult *installer.Result
//	generated data SourceImageDigest, Generation, KernelVersion, OSVersion
type StepBuildDisk struct {
	// Spec is what to build; an empty OutputDir means StateWorkDir.
	Spec          installer.Spec
	GeneratedData *packerbuilderdata.GeneratedData
	// Build replaces installer.Run in tests.
	Build func(context.Context, installer.Spec, ...installer.Option) (*installer.Result, error)
}

var _ multistep.Step = (*StepBuildDisk)(nil)

// Run builds the disk.
func (s *StepBuildDisk) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := UI(state)
	build := s.Build
	if build == nil {
		build = installer.Run
	}
	spec := s.Spec
	if spec.OutputDir == "" {
		spec.OutputDir, _ = state.Get(StateWorkDir).(string)
	}
	start := time.Now()
	ui.Say(fmt.Sprintf("Building the disk from %s...", spec.Source))
	res, err := build(ctx, spec, installer.WithProgress(newReporter(ui).event))
	if err != nil {
		return Halt(state, fmt.Errorf("building the disk from %s: %w", spec.Source, err))
	}
	state.Put(StateResult, res)
	for _, w := range res.Warnings {
		ui.Message("Warning: " + w)
	}
	putGenerated(s.GeneratedData, res.Digest, res.Generation.String(), res.KernelVersion, res.OSRelease)
	ui.Say(fmt.Sprintf("Built a %d MiB %s disk from %s (toolkit %s, kernel %s) in %s",
		res.DiskSize/MiB, res.Platform, res.Digest, res.Generation, res.KernelVersion, round(time.Since(start))))
	return multistep.ActionContinue
}

// Cleanup removes the disk files of a build that did not finish. The core
// already removes its partial files when it fails itself.
func (s *StepBuildDisk) Cleanup(state multistep.StateBag) {
	res := Result(state)
	if res == nil || !Failed(state) {
		return
	}
	for _, o := range res.Outputs {
		if err := os.Remove(o.Path); err != nil && !os.IsNotExist(err) {
			UI(state).Error(fmt.Sprintf("removing %s: %v", o.Path, err))
		}
	}
}

// reporter turns core progress events into UI messages, at most one
// "files written" line every few seconds.
type reporter struct {
	ui   packersdk.Ui
	last time.Time
}

func newReporter(ui packersdk.Ui) *reporter { return &reporter{ui: ui} }

func (r *reporter) event(e installer.Event) {
	switch e.Phase {
	case installer.PhaseWrite:
		if e.Files == 0 {
			r.ui.Message(e.Message)
			return
		}
		if time.Since(r.last) < 3*time.Second {
			return
		}
		r.last = time.Now()
		r.ui.Message(fmt.Sprintf("%d entries written (%s)", e.Files, round(e.Elapsed)))
	case installer.PhaseOpen:
		r.ui.Message("Opening " + e.Message)
	case installer.PhasePartition:
		r.ui.Message("Partition " + e.Message)
	case installer.PhaseConvert:
		r.ui.Message(fmt.Sprintf("Wrote %s (%s)", e.Message, round(e.Elapsed)))
	case installer.PhaseDone:
	default:
		if e.Elapsed > 0 {
			r.ui.Message(fmt.Sprintf("%s (%s)", e.Message, round(e.Elapsed)))
			return
		}
		r.ui.Message(e.Message)
	}
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
