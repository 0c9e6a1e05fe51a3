package diskbuild

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/packerbuilderdata"

	"github.com/elemental-suite/elemental/internal/installer"
)

// StatePrepared holds the *installer.Prepared of StepPrepareDisk.
const StatePrepared = "elemental_prepared"

// StepPrepareDisk opens, verifies, inspects and plans the disk without
// writing it, for a later step that streams its blocks where they go (the
// EBS direct upload): no disk file is ever made.
//
// Produces:
//
//	StatePrepared *installer.Prepared (closed by Cleanup)
//	generated data SourceImageDigest, Generation, KernelVersion, OSVersion
type StepPrepareDisk struct {
	// Spec is what to build. An empty CacheDir means StateWorkDir, so the
	// layer cache of a remote source lives in the work directory.
	Spec          installer.Spec
	GeneratedData *packerbuilderdata.GeneratedData

	prepared *installer.Prepared
}

var _ multistep.Step = (*StepPrepareDisk)(nil)

// Run prepares the disk.
func (s *StepPrepareDisk) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := UI(state)
	spec := s.Spec
	if spec.CacheDir == "" {
		spec.CacheDir, _ = state.Get(StateWorkDir).(string)
	}
	start := time.Now()
	ui.Say(fmt.Sprintf("Preparing the disk from %s...", spec.Source))
	p, err := installer.Prepare(ctx, spec, installer.WithProgress(newReporter(ui).event))
	if err != nil {
		return Halt(state, fmt.Errorf("preparing the disk from %s: %w", spec.Source, err))
	}
	s.prepared = p
	state.Put(StatePrepared, p)
	in := p.Inspection()
	for _, w := range in.Report.Warnings {
		ui.Message("Warning: " + w)
	}
	putGenerated(s.GeneratedData, in.Digest, in.Report.Generation.String(), in.Report.KernelVersion, in.Report.OSRelease)
	ui.Say(fmt.Sprintf("Prepared a %d MiB %s disk from %s (toolkit %s, kernel %s) in %s; it is written as it uploads",
		p.Size()/MiB, in.Platform, in.Digest, in.Report.Generation, in.Report.KernelVersion, round(time.Since(start))))
	return multistep.ActionContinue
}

// Cleanup closes the prepared build, whatever the outcome: a stream
// writes once, and Close removes a layer cache of its own.
func (s *StepPrepareDisk) Cleanup(state multistep.StateBag) {
	if s.prepared == nil {
		return
	}
	if err := s.prepared.Close(); err != nil {
		UI(state).Error(fmt.Sprintf("closing the prepared disk of %s: %v", s.prepared.Name(), err))
	}
	s.prepared = nil
}

// Prepared returns the build StepPrepareDisk prepared, or nil when the
// build has none (a disk built into files instead).
func Prepared(state multistep.StateBag) *installer.Prepared {
	p, _ := state.Get(StatePrepared).(*installer.Prepared)
	return p
}

// putGenerated fills the generated data a build exports; gd may be nil.
func putGenerated(gd *packerbuilderdata.GeneratedData, digest, generation, kernel string, osRelease map[string]string) {
	if gd == nil {
		return
	}
	gd.Put(GenSourceImageDigest, digest)
	gd.Put(GenGeneration, generation)
	gd.Put(GenKernelVersion, kernel)
	gd.Put(GenOSVersion, OSVersion(osRelease))
}
