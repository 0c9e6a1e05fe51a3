package gce

import (
	"context"
	"fmt"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/elemental-suite/elemental/internal/installer"
	publishgcp "github.com/elemental-suite/elemental/internal/publish/gcp"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// Artifact is the Compute Engine image one build created.
type Artifact struct {
	// ImageName is the image's name, also its Id.
	ImageName string
	// ProjectID is the image's project.
	ProjectID string
	// SelfLink is the image's URL.
	SelfLink string
	// StateData holds the build's generated data.
	StateData map[string]any

	disk    *installer.Result
	clients publishgcp.Clients
}

var _ packersdk.Artifact = (*Artifact)(nil)

func newArtifact(res *publishgcp.Result, project string, c publishgcp.Clients, disk *installer.Result, generated any) *Artifact {
	return &Artifact{ImageName: res.ImageName, ProjectID: project, SelfLink: res.SelfLink, disk: disk, clients: c,
		StateData: map[string]any{"generated_data": generated, "ObjectURI": res.ObjectURI}}
}

// BuilderId returns BuilderID.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files is empty: the image lives in GCE.
func (a *Artifact) Files() []string { return nil }

// Id is the image name, like googlecompute's.
func (a *Artifact) Id() string { return a.ImageName }

// String names the image.
func (a *Artifact) String() string {
	return fmt.Sprintf("A disk image was created in the %q project: %s", a.ProjectID, a.ImageName)
}

// State returns generated data and the HCP Packer registry image.
func (a *Artifact) State(name string) any {
	if name == registryimage.ArtifactStateURI {
		labels := map[string]any{"self_link": a.SelfLink, "project_id": a.ProjectID}
		src := ""
		if a.disk != nil {
			src = a.disk.Digest
			labels["source_image"] = a.disk.Source
			labels["generation"] = a.disk.Generation.String()
			labels["kernel_version"] = a.disk.KernelVersion
			labels["os_version"] = diskbuild.OSVersion(a.disk.OSRelease)
		}
		img, err := registryimage.FromArtifact(a, registryimage.WithProvider("gce"),
			registryimage.WithRegion("global"), registryimage.WithSourceID(src), registryimage.SetLabels(labels))
		if err != nil {
			return nil
		}
		return img
	}
	return a.StateData[name]
}

// Destroy deletes the image.
func (a *Artifact) Destroy() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := publishgcp.Delete(ctx, a.clients, a.ProjectID, a.ImageName); err != nil {
		return fmt.Errorf("destroying image %s: %w", a.ImageName, err)
	}
	return nil
}
