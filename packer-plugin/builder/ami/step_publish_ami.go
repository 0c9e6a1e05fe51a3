package ami

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/elemental-suite/elemental/internal/installer"
	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
	"github.com/elemental-suite/elemental/packer-plugin/version"
)

// stateAMIs holds the *publishResult of stepPublishAMI.
const stateAMIs = "elemental_amis"

// publishResult is what stepPublishAMI made.
type publishResult = publishaws.Result

// stepPublishAMI uploads the raw disk of StepBuildDisk and registers it.
//
// Produces:
//
//	stateAMIs *publishaws.Result
type stepPublishAMI struct {
	Spec publishaws.Spec
	AWS  awssdk.Config
	// Publish and Delete replace the publisher in tests.
	Publish func(context.Context, awssdk.Config, string, publishaws.Spec, func(publishaws.Event)) (*publishaws.Result, error)
	Delete  func(context.Context, awssdk.Config, *publishaws.Result, bool) error
}

var _ multistep.Step = (*stepPublishAMI)(nil)

func (s *stepPublishAMI) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := diskbuild.UI(state)
	disk := diskbuild.Result(state)
	if disk == nil || len(disk.Outputs) == 0 {
		return diskbuild.Halt(state, fmt.Errorf("publishing the AMI: no disk was built"))
	}
	publish := s.Publish
	if publish == nil {
		publish = publishaws.Publish
	}
	spec := s.Spec
	spec.Provenance = provenance(disk)
	spec.SuiteVersion = "packer-plugin-elemental " + version.PluginVersion.FormattedVersion()
	start := time.Now()
	ui.Say(fmt.Sprintf("Publishing %s as AMI %q in %s...", filepath.Base(disk.Outputs[0].Path), spec.Name, region(spec, s.AWS)))
	p := &amiProgress{ui: ui}
	res, err := publish(ctx, s.AWS, disk.Outputs[0].Path, spec, p.event)
	p.close()
	if err != nil {
		return diskbuild.Halt(state, fmt.Errorf("publishing AMI %q: %w", spec.Name, err))
	}
	state.Put(stateAMIs, res)
	ui.Say(fmt.Sprintf("Published %s (%d MiB uploaded) in %s", amiList(res.AMIs), res.BytesUploaded/diskbuild.MiB,
		time.Since(start).Round(100*time.Millisecond)))
	if spec.ParentSnapshotID != "" {
		ui.Say(fmt.Sprintf("Over parent %s: %d blocks unchanged, %d MiB not sent", spec.ParentSnapshotID,
			res.BlocksInherited, res.BytesSaved/diskbuild.MiB))
	}
	return multistep.ActionContinue
}

// Cleanup deletes the AMIs and snapshots when a later step failed or the
// build was cancelled. Publish removes its own leftovers when it fails.
func (s *stepPublishAMI) Cleanup(state multistep.StateBag) {
	res, ok := state.Get(stateAMIs).(*publishaws.Result)
	if !ok || !diskbuild.Failed(state) {
		return
	}
	del := s.Delete
	if del == nil {
		del = publishaws.Delete
	}
	ui := diskbuild.UI(state)
	ui.Say("Deleting the AMIs of the failed build: " + amiList(res.AMIs))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := del(ctx, s.AWS, res, true); err != nil {
		ui.Error(err.Error())
	}
}

func region(spec publishaws.Spec, cfg awssdk.Config) string {
	if spec.Region != "" {
		return spec.Region
	}
	return cfg.Region
}

// provenance tags every AMI and snapshot with where it came from.
func provenance(r *installer.Result) map[string]string {
	src := r.Source
	if len(src) > 256 {
		src = src[:256]
	}
	return map[string]string{
		tagSource:        src,
		tagSourceDigest:  r.Digest,
		tagGeneration:    r.Generation.String(),
		tagKernelVersion: r.KernelVersion,
	}
}

// amiList is "region:ami,region:ami" sorted by region, as amazon's
// artifacts print it.
func amiList(amis map[string]string) string {
	parts := make([]string, 0, len(amis))
	for r, id := range amis {
		parts = append(parts, r+":"+id)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// amiProgress shows upload bytes as a bar and the other stages as lines.
type amiProgress struct {
	ui  packersdk.Ui
	bar *diskbuild.Bar
}

func (p *amiProgress) event(e publishaws.Event) {
	if e.Stage == "upload" {
		if p.bar == nil && e.Total > 0 {
			p.ui.Message(fmt.Sprintf("Uploading %d MiB to %s", e.Total/diskbuild.MiB, e.ID))
			p.bar = diskbuild.NewBar(p.ui, e.ID, e.Total)
		}
		if p.bar != nil {
			p.bar.Set(e.Done)
		}
		return
	}
	p.close()
	msg := e.Stage + " in " + e.Region
	if e.ID != "" {
		msg += ": " + e.ID
	}
	p.ui.Message(msg)
}

func (p *amiProgress) close() {
	if p.bar != nil {
		p.bar.Close()
		p.bar = nil
	}
}
