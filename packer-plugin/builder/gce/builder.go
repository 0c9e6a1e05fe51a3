package gce

import (
	"context"
	"errors"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/packerbuilderdata"

	publishgcp "github.com/elemental-suite/elemental/internal/publish/gcp"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// BuilderID identifies the image artifacts of this builder.
const BuilderID = "elemental-suite.elemental.gcp"

// EnvComputeEndpoint is the variable compute_endpoint defaults to.
const EnvComputeEndpoint = "GOOGLE_COMPUTE_CUSTOM_ENDPOINT"

// Builder is the `elemental-gcp` builder.
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

// Run builds the raw disk and publishes it as a GCE image.
func (b *Builder) Run(ctx context.Context, ui packersdk.Ui, hook packersdk.Hook) (packersdk.Artifact, error) {
	clients, err := publishgcp.NewClients(ctx, b.specs.clients)
	if err != nil {
		return nil, err
	}
	state := new(multistep.BasicStateBag)
	state.Put(diskbuild.StateUI, ui)
	state.Put(diskbuild.StateHook, hook)
	generated := &packerbuilderdata.GeneratedData{State: state}
	steps := []multistep.Step{
		new(diskbuild.StepCreateWorkDir),
		&diskbuild.StepBuildDisk{Spec: b.specs.disk, GeneratedData: generated},
		new(commonsteps.StepProvision),
		&stepPublishGCE{Spec: b.specs.image, Clients: clients},
	}
	b.runner = commonsteps.NewRunnerWithPauseFn(steps, b.config.PackerConfig, ui, state)
	b.runner.Run(ctx, state)
	if err, ok := state.GetOk(diskbuild.StateError); ok {
		clients.Close()
		return nil, err.(error)
	}
	if _, ok := state.GetOk(multistep.StateCancelled); ok {
		clients.Close()
		return nil, errors.New("build was cancelled")
	}
	res, ok := state.Get(stateImage).(*publishgcp.Result)
	if !ok {
		clients.Close()
		return nil, errors.New("build published no image")
	}
	return newArtifact(res, b.specs.image.ProjectID, clients, diskbuild.Result(state), state.Get("generated_data")), nil
}
