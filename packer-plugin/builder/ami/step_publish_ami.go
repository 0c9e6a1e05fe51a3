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

	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
	"github.com/elemental-suite/elemental/packer-plugin/version"
)

// stateAMIs holds the *publishResult of stepPublishAMI.
const stateAMIs = "elemental_amis"

// publishResult is what stepPublishAMI made.
type publishResult = publishaws.Result

// stepPublishAMI publishes the disk as an AMI: the *installer.Prepared
// of StepPrepareDisk streamed block by block (EBS direct, no disk file), or
// else the raw disk file of StepBuildDisk.
//
// Produces:
//
//	stateAMIs *publishaws.Result
//	diskbuild.StateResult *installer.Result (when streamed)
type stepPublishAMI struct {
	Spec publishaws.Spec
	AWS  awssdk.Config
	// Publish, PublishSource and Delete replace the publisher in tests.
	Publish       func(context.Context, awssdk.Config, string, publishaws.Spec, func(publishaws.Event)) (*publishaws.Result, error)
	PublishSource func(context.Context, awssdk.Config, publishaws.Source, publishaws.Spec, func(publishaws.Event)) (*publishaws.Result, error)
	Delete        func(context.Context, awssdk.Config, *publishaws.Result, bool) error
}

var _ multistep.Step = (*stepPublishAMI)(nil)

func (s *stepPublishAMI) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := diskbuild.UI(state)
	spec := s.Spec
	spec.SuiteVersion = "packer-plugin-elemental " + version.PluginVersion.FormattedVersion()
	start := time.Now()
	var res *publishaws.Result
	var err error
	if p := diskbuild.Prepared(state); p != nil {
		res, err = s.stream(ctx, state, p, spec)
	} else {
		res, err = s.publishFile(ctx, state, spec)
	}
	if err != nil {
		return diskbuild.Halt(state, err)
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

// stream publishes the prepared disk through the EBS direct APIs: the
// core writes it block by block into the snapshot, no disk file is made.
// The build's result, known once the stream ends, goes to StateResult.
func (s *stepPublishAMI) stream(ctx context.Context, state multistep.StateBag, p *installer.Prepared, spec publishaws.Spec) (*publishaws.Result, error) {
	ui := diskbuild.UI(state)
	in := p.Inspection()
	spec.Provenance = provenance(in.Source, in.Digest, in.Report.Generation, in.Report.KernelVersion)
	publish := s.PublishSource
	if publish == nil {
		publish = publishaws.PublishSource
	}
	ui.Say(fmt.Sprintf("Publishing the disk of %s as AMI %q in %s...", p.Name(), spec.Name, region(spec, s.AWS)))
	prog := &amiProgress{ui: ui, streaming: true}
	res, err := publish(ctx, s.AWS, p, spec, prog.event)
	prog.close()
	if err != nil {
		return nil, fmt.Errorf("publishing AMI %q: %w", spec.Name, err)
	}
	disk := p.Result()
	if disk == nil {
		return nil, fmt.Errorf("publishing AMI %q: the disk of %s was never streamed", spec.Name, p.Name())
	}
	state.Put(diskbuild.StateResult, disk)
	if st := disk.Streamed; st != nil {
		ui.Message(fmt.Sprintf("Streamed %d blocks of the %d MiB disk, at most %d held in memory at once", st.Emitted, disk.DiskSize/diskbuild.MiB, st.PeakPartial))
	}
	return res, nil
}

// publishFile uploads the raw disk file StepBuildDisk wrote.
func (s *stepPublishAMI) publishFile(ctx context.Context, state multistep.StateBag, spec publishaws.Spec) (*publishaws.Result, error) {
	disk := diskbuild.Result(state)
	if disk == nil || len(disk.Outputs) == 0 {
		return nil, fmt.Errorf("publishing the AMI: no disk was built")
	}
	spec.Provenance = provenance(disk.Source, disk.Digest, disk.Generation, disk.KernelVersion)
	publish := s.Publish
	if publish == nil {
		publish = publishaws.Publish
	}
	ui := diskbuild.UI(state)
	ui.Say(fmt.Sprintf("Publishing %s as AMI %q in %s...", filepath.Base(disk.Outputs[0].Path), spec.Name, region(spec, s.AWS)))
	prog := &amiProgress{ui: ui}
	res, err := publish(ctx, s.AWS, disk.Outputs[0].Path, spec, prog.event)
	prog.close()
	if err != nil {
		return nil, fmt.Errorf("publishing AMI %q: %w", spec.Name, err)
	}
	return res, nil
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
func provenance(source, digest string, gen inspect.Generation, kernel string) map[string]string {
	if len(source) > 256 {
		source = source[:256]
	}
	return map[string]string{
		tagSource:        source,
		tagSourceDigest:  digest,
		tagGeneration:    gen.String(),
		tagKernelVersion: kernel,
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
// A streamed disk has no bar (its data size is unknown until it is
// written): a line every few seconds says how much went up.
type amiProgress struct {
	ui        packersdk.Ui
	streaming bool
	bar       *diskbuild.Bar
	last      time.Time
}

func (p *amiProgress) event(e publishaws.Event) {
	switch {
	case e.Stage == "upload" && p.streaming:
		if time.Since(p.last) >= 5*time.Second {
			p.last = time.Now()
			p.ui.Message(fmt.Sprintf("%d MiB streamed to %s", e.Done/diskbuild.MiB, e.ID))
		}
		return
	case e.Stage == "upload":
		if p.bar == nil && e.Total > 0 {
			p.ui.Message(fmt.Sprintf("Uploading %d MiB to %s", e.Total/diskbuild.MiB, e.ID))
			p.bar = diskbuild.NewBar(p.ui, e.ID, e.Total)
		}
		if p.bar != nil {
			p.bar.Set(e.Done)
		}
		return
	case e.Stage == "snapshot" && p.streaming:
		p.last = time.Now()
		p.ui.Message(fmt.Sprintf("Streaming the disk to snapshot %s in %s (no local disk file)", e.ID, e.Region))
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
