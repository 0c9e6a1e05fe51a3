package ami

import (
	"context"
	"errors"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/packerbuilderdata"

	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// BuilderID identifies the AMI artifacts of this builder.
const BuilderID = "elemental-suite.elemental.aws"

// Builder is the `elemental-aws` builder.
type Builder struct {
	config Config
	specs  prepared
	runner multistep.Runner
}

var _ packersdk.Builder = (*Builder)(nil)

// ConfigSpec returns the HCL2 schema of Config.
func (b *Builder) ConfigSpec() hcldec.ObjectSpec { return b.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes and checks the configuration, reporting every invalid
// field at once.
func (b *Builder) Prepare(raws ...any) ([]string, []string, error) {
	specs, warns, err := b.config.prepare(raws...)
	if err != nil {
		return nil, warns, err
	}
	b.specs = specs
	return diskbuild.GeneratedDataKeys(), warns, nil
}

// Run builds the disk and publishes it as an AMI: streamed straight into
// the snapshot with the EBS direct APIs (no disk file), or written to a raw
// file in the work directory for the S3 import.
func (b *Builder) Run(ctx context.Context, ui packersdk.Ui, hook packersdk.Hook) (packersdk.Artifact, error) {
	cfg, err := b.config.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	state := new(multistep.BasicStateBag)
	state.Put(diskbuild.StateUI, ui)
	state.Put(diskbuild.StateHook, hook)
	generated := &packerbuilderdata.GeneratedData{State: state}
	steps := []multistep.Step{
		new(diskbuild.StepCreateWorkDir),
		b.diskStep(generated),
		new(commonsteps.StepProvision),
		&stepPublishAMI{Spec: b.specs.ami, AWS: cfg},
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
	res, ok := state.Get(stateAMIs).(*publishResult)
	if !ok {
		return nil, errors.New("build published no AMI")
	}
	return newArtifact(res, cfg, diskbuild.Result(state), state.Get("generated_data")), nil
}

// diskStep is the step that readies the disk: with the EBS direct APIs
// only prepared (stepPublishAMI streams it), for the S3 import written to
// a raw file in the work directory.
func (b *Builder) diskStep(generated *packerbuilderdata.GeneratedData) multistep.Step {
	if b.specs.ami.ImportMethod == publishaws.ImportS3 {
		return &diskbuild.StepBuildDisk{Spec: b.specs.disk, GeneratedData: generated}
	}
	return &diskbuild.StepPrepareDisk{Spec: b.specs.disk, GeneratedData: generated}
}
