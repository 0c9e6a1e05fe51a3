package ami

import (
	"context"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/elemental-suite/elemental/internal/installer"
	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// Artifact is the set of AMIs one build registered, one per region.
type Artifact struct {
	// Amis maps region to AMI ID.
	Amis map[string]string
	// Snapshots maps region to root snapshot ID.
	Snapshots map[string]string
	// StateData holds the build's generated data.
	StateData map[string]any

	disk *installer.Result
	aws  awssdk.Config
	// delete replaces publishaws.Delete in tests.
	delete func(context.Context, awssdk.Config, *publishaws.Result, bool) error
}

var _ packersdk.Artifact = (*Artifact)(nil)

func newArtifact(res *publishaws.Result, cfg awssdk.Config, disk *installer.Result, generated any) *Artifact {
	return &Artifact{Amis: res.AMIs, Snapshots: res.Snapshots, disk: disk, aws: cfg,
		StateData: map[string]any{"generated_data": generated}}
}

// BuilderId returns BuilderID.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files is empty: the AMIs live in AWS.
func (a *Artifact) Files() []string { return nil }

// Id is "region:ami-…,region:ami-…" sorted by region, like amazon's.
func (a *Artifact) Id() string { return amiList(a.Amis) }

// String lists the AMIs.
func (a *Artifact) String() string { return "AMIs were created: " + a.Id() }

// State returns generated data and the HCP Packer registry images, one per
// region.
func (a *Artifact) State(name string) any {
	if name == registryimage.ArtifactStateURI {
		imgs, err := registryimage.FromMappedData(a.Amis, func(k, v any) (*registryimage.Image, error) {
			region, _ := k.(string)
			id, _ := v.(string)
			return &registryimage.Image{ImageID: id, ProviderName: "aws", ProviderRegion: region,
				SourceImageID: a.sourceID(), Labels: a.labels()}, nil
		})
		if err != nil {
			return nil
		}
		return imgs
	}
	return a.StateData[name]
}

func (a *Artifact) sourceID() string {
	if a.disk == nil {
		return ""
	}
	return a.disk.Digest
}

func (a *Artifact) labels() map[string]string {
	if a.disk == nil {
		return nil
	}
	return map[string]string{
		"source_image": a.disk.Source, "source_image_digest": a.disk.Digest,
		"generation": a.disk.Generation.String(), "kernel_version": a.disk.KernelVersion,
		"os_version": diskbuild.OSVersion(a.disk.OSRelease),
	}
}

// Destroy deregisters the AMIs and deletes their snapshots.
func (a *Artifact) Destroy() error {
	del := a.delete
	if del == nil {
		del = publishaws.Delete
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := del(ctx, a.aws, &publishaws.Result{AMIs: a.Amis, Snapshots: a.Snapshots}, true); err != nil {
		return fmt.Errorf("destroying AMIs %s: %w", a.Id(), err)
	}
	return nil
}
