package elemental

import (
	"context"
	"errors"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/packerbuilderdata"

	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// BuilderID identifies the disk artifacts of this builder.
const BuilderID = "elemental-suite.elemental"

// Builder is the `elemental` builder.
type Builder struct {
	config Config
	spec   installer.Spec
	runner multistep.Runner
}

var _ packersdk.Builder = (*Builder)(nil)

// ConfigSpec returns the HCL2 schema of Config.
func (b *Builder) ConfigSpec() hcldec.ObjectSpec { return b.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes and checks the configuration, reporting every invalid
// field at once.
func (b *Builder) Prepare(raws ...any) ([]string, []string, error) {
	spec, warns, err := b.config.prepare(raws...)
	if err != nil {
		return nil, warns, err
	}
	b.spec = spec
	return diskbuild.GeneratedDataKeys(), warns, nil
}

// Run builds the disk files.
func (b *Builder) Run(ctx context.Context, ui packersdk.Ui, hook packersdk.Hook) (packersdk.Artifact, error) {
	state := new(multistep.BasicStateBag)
	state.Put(diskbuild.StateUI, ui)
	state.Put(diskbuild.StateHook, hook)
	generated := &packerbuilderdata.GeneratedData{State: state}
	steps := []multistep.Step{
		&stepPrepareOutputDir{Dir: b.config.OutputDirectory, Force: b.config.PackerForce},
		&diskbuild.StepBuildDisk{Spec: b.spec, GeneratedData: generated},
		new(commonsteps.StepProvision),
	}
	b.runner = commonsteps.NewRunnerWithPauseFn(steps, b.config.PackerConfig, ui, state)
	b.runner.Run(ctx, state)
	if err, ok := state.GetOk(diskbuild.StateError); ok {
		return nil, err.(error)
	}
	if _, ok := state.GetOk(multistep.StateCancelled); ok {
		return nil, errors.New("build was cancelled")
	}
	if _, ok := state.GetOk(multistep.StateHalted); ok {
		return nil, errors.New("build was halted")
	}
	res := diskbuild.Result(state)
	if res == nil {
		return nil, errors.New("build produced no disk")
	}
	return newArtifact(res, b.config.OutputDirectory, state.Get("generated_data")), nil
}
