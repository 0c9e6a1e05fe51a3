package elemental

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// stepPrepareOutputDir makes sure the output directory exists and holds no
// earlier build unless -force is given.
type stepPrepareOutputDir struct {
	Dir   string
	Force bool

	created bool
}

var _ multistep.Step = (*stepPrepareOutputDir)(nil)

func (s *stepPrepareOutputDir) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	entries, err := os.ReadDir(s.Dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return diskbuild.Halt(state, fmt.Errorf("creating output directory %s: %w", s.Dir, err))
		}
		s.created = true
	case err != nil:
		return diskbuild.Halt(state, fmt.Errorf("reading output directory %s: %w", s.Dir, err))
	case len(entries) > 0 && !s.Force:
		return diskbuild.Halt(state, fmt.Errorf("output directory %s exists and is not empty: remove it or run with -force", s.Dir))
	case len(entries) > 0:
		diskbuild.UI(state).Say(fmt.Sprintf("Output directory %s exists: -force given, its disk files will be replaced", s.Dir))
	}
	return multistep.ActionContinue
}

// Cleanup removes the output directory it created when the build did not
// finish. A directory that existed before is left (StepBuildDisk removes
// the files it wrote).
func (s *stepPrepareOutputDir) Cleanup(state multistep.StateBag) {
	if !s.created || !diskbuild.Failed(state) {
		return
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		diskbuild.UI(state).Error(fmt.Sprintf("removing output directory %s: %v", s.Dir, err))
	}
}
