package gce

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/elemental-suite/elemental/internal/installer"
	publishgcp "github.com/elemental-suite/elemental/internal/publish/gcp"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
	"github.com/elemental-suite/elemental/packer-plugin/version"
)

// stateImage holds the *publishgcp.Result of stepPublishGCE.
const stateImage = "elemental_gce_image"

// stepPublishGCE uploads the raw disk of StepBuildDisk to Cloud Storage
// and creates the image from it.
//
// Produces:
//
//	stateImage *publishgcp.Result
type stepPublishGCE struct {
	Spec    publishgcp.Spec
	Clients publishgcp.Clients
}

var _ multistep.Step = (*stepPublishGCE)(nil)

func (s *stepPublishGCE) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := diskbuild.UI(state)
	disk := diskbuild.Result(state)
	if disk == nil || len(disk.Outputs) == 0 {
		return diskbuild.Halt(state, fmt.Errorf("publishing the image: no disk was built"))
	}
	spec := s.Spec
	spec.Provenance = provenance(disk)
	spec.Source, spec.SourceDigest = disk.Source, disk.Digest
	spec.SuiteVersion = "packer-plugin-elemental " + version.PluginVersion.FormattedVersion()
	start := time.Now()
	ui.Say(fmt.Sprintf("Publishing image %s in project %s through gs://%s...", spec.ImageName, spec.ProjectID, spec.Bucket))
	p := &gceProgress{ui: ui}
	res, err := publishgcp.Publish(ctx, s.Clients, disk.Outputs[0].Path, spec, p.event)
	p.close()
	if res != nil {
		state.Put(stateImage, res)
	}
	if err != nil {
		return diskbuild.Halt(state, fmt.Errorf("publishing image %s: %w", spec.ImageName, err))
	}
	ui.Say(fmt.Sprintf("Published image %s (%d MiB uploaded) in %s", res.ImageName, res.BytesUploaded/diskbuild.MiB,
		time.Since(start).Round(100*time.Millisecond)))
	return multistep.ActionContinue
}

// Cleanup deletes the image when a later step failed or the build was
// cancelled. Publish removes its own leftovers when it fails.
func (s *stepPublishGCE) Cleanup(state multistep.StateBag) {
	res, ok := state.Get(stateImage).(*publishgcp.Result)
	if !ok || !diskbuild.Failed(state) {
		return
	}
	ui := diskbuild.UI(state)
	ui.Say("Deleting image " + res.ImageName + " of the failed build")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := publishgcp.Delete(ctx, s.Clients, s.Spec.ProjectID, res.ImageName); err != nil {
		ui.Error(err.Error())
	}
}

// provenance labels the image with where it came from (the publisher
// sanitises the values).
func provenance(r *installer.Result) map[string]string {
	return map[string]string{
		"elemental-source-digest": r.Digest,
		"elemental-generation":    r.Generation.String(),
		"elemental-os-version":    diskbuild.OSVersion(r.OSRelease),
	}
}

// gceProgress shows upload bytes as a bar and the other phases as lines.
type gceProgress struct {
	ui  packersdk.Ui
	bar *diskbuild.Bar
}

func (p *gceProgress) event(e publishgcp.Event) {
	if e.Phase == publishgcp.PhaseUpload {
		if p.bar == nil && e.Total > 0 {
			p.bar = diskbuild.NewBar(p.ui, "upload", e.Total)
		}
		if p.bar != nil {
			p.bar.Set(e.Bytes)
		}
		return
	}
	p.close()
	if e.Message != "" {
		p.ui.Message(fmt.Sprintf("%s: %s", e.Phase, e.Message))
	} else {
		p.ui.Message(e.Phase.String())
	}
}

func (p *gceProgress) close() {
	if p.bar != nil {
		p.bar.Close()
		p.bar = nil
	}
}
