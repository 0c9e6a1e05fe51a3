package diskbuild

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// StateWorkDir holds the directory StepCreateWorkDir made.
const StateWorkDir = "elemental_work_dir"

// StepCreateWorkDir makes a temporary directory for what a build throws
// away once it is published: an intermediate disk file, or, when the disk
// is streamed (StepPrepareDisk), only the layer cache of a remote source.
//
// Produces:
//
//	StateWorkDir string
type StepCreateWorkDir struct {
	// Parent is where the directory goes (default: the system's temporary
	// directory).
	Parent string

	dir string
}

var _ multistep.Step = (*StepCreateWorkDir)(nil)

// Run creates the directory.
func (s *StepCreateWorkDir) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	dir, err := os.MkdirTemp(s.Parent, "packer-elemental-")
	if err != nil {
		return Halt(state, fmt.Errorf("creating a work directory: %w", err))
	}
	s.dir = dir
	state.Put(StateWorkDir, dir)
	return multistep.ActionContinue
}

// Cleanup removes the directory and the disk in it, whatever the outcome:
// the published image is the artifact, not the file.
func (s *StepCreateWorkDir) Cleanup(state multistep.StateBag) {
	if s.dir == "" {
		return
	}
	if err := os.RemoveAll(s.dir); err != nil {
		UI(state).Error(fmt.Sprintf("removing work directory %s: %v", s.dir, err))
	}
}
