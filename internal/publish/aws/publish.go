package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
)

const gib = int64(1) << 30

// cleanupTimeout bounds the deletion of leftovers after a failure.
const cleanupTimeout = 15 * time.Minute

// publisher carries the state of one Publish call.
type publisher struct {
	cfg      aws.Config
	spec     Spec
	run      string
	progress func(Event)

	// volumeDefaulted: spec.VolumeSizeGiB came from the disk size, so a
	// larger parent snapshot may raise it.
	volumeDefaulted bool

	mu   sync.Mutex // guards the fields below and progress calls
	ec2s map[string]*ec2.Client
	rec  record
	res  Result
}

// Publish uploads the raw disk at rawDisk and registers it as an AMI in
// spec.Region, then copies, shares, tags, deprecates and protects it as
// spec says. progress may be nil; it is never called concurrently. On any
// error, including ctx cancellation, every resource Publish created is
// deleted before it returns.
func Publish(ctx context.Context, cfg aws.Config, rawDisk string, spec Spec, progress func(Event)) (*Result, error) {
	src, err := OpenFile(rawDisk)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return PublishSource(ctx, cfg, src, spec, progress)
}

// PublishSource is Publish for any Source. The S3 import method needs a
// source that is also an io.ReaderAt (a FileSource is).
func PublishSource(ctx context.Context, cfg aws.Config, src Source, spec Spec, progress func(Event)) (_ *Result, err error) {
	spec, err = spec.normalize(cfg.Region)
	if err != nil {
		return nil, err
	}
	if src.Size() <= 0 {
		return nil, fmt.Errorf("raw disk %s is empty: %w", src.Name(), ErrInvalidSpec)
	}
	if _, ok := src.(io.ReaderAt); !ok && spec.ImportMethod == ImportS3 {
		return nil, fmt.Errorf("%s needs a random-access disk, and %s is not: %w", ImportS3, src.Name(), ErrInvalidSpec)
	}
	diskGiB := (src.Size() + gib - 1) / gib
	defaulted := spec.VolumeSizeGiB == 0
	if defaulted {
		spec.VolumeSizeGiB = int32(diskGiB)
	}
	if int64(spec.VolumeSizeGiB) < diskGiB {
		return nil, fmt.Errorf("volume size %d GiB is smaller than the %d GiB disk %s: %w", spec.VolumeSizeGiB, diskGiB, src.Name(), ErrInvalidSpec)
	}
	if err := checkBIOSFile(spec, src); err != nil {
		return nil, err
	}
	p := &publisher{cfg: withRetryer(cfg), spec: spec, run: uuid.NewString(), progress: progress, ec2s: map[string]*ec2.Client{}, volumeDefaulted: defaulted}
	p.res = Result{AMIs: map[string]string{}, Snapshots: map[string]string{}}
	defer func() {
		if err != nil {
			if cerr := p.cleanup(ctx); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up after failed publish of %q: %w", spec.Name, cerr))
			}
		}
	}()
	if err := p.publish(ctx, src); err != nil {
		return nil, fmt.Errorf("publishing %s as AMI %q: %w", src.Name(), spec.Name, err)
	}
	res := p.res
	return &res, nil
}

func (p *publisher) publish(ctx context.Context, src Source) error {
	var snap string
	var err error
	if ra, ok := src.(io.ReaderAt); ok && p.spec.ImportMethod == ImportS3 {
		snap, err = p.importS3(ctx, ra, src.Size())
	} else {
		snap, err = p.uploadDirect(ctx, src)
	}
	if err != nil {
		return err
	}
	ami, err := p.register(ctx, snap)
	if err != nil {
		return err
	}
	p.setResult(p.spec.Region, ami, snap)
	steps := []func(context.Context) error{p.copyRegions, p.dropBuildRegion, p.share, p.tagAll, p.deprecate, p.protect}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p *publisher) setResult(region, ami, snap string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.res.AMIs[region] = ami
	p.res.Snapshots[region] = snap
}

// regions returns the regions that hold an AMI of the result, build
// region first.
func (p *publisher) regions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.spec.targetRegions() {
		if _, ok := p.res.AMIs[r]; ok {
			out = append(out, r)
		}
	}
	return out
}

func (p *publisher) ami(region string) (ami, snap string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.res.AMIs[region], p.res.Snapshots[region]
}

func (p *publisher) emit(e Event) {
	if p.progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.progress(e)
}

// ec2 returns the EC2 client of a region.
func (p *publisher) ec2(region string) *ec2.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.ec2s[region]
	if !ok {
		c = ec2.NewFromConfig(p.cfg, func(o *ec2.Options) { o.Region = region })
		p.ec2s[region] = c
	}
	return c
}

func (p *publisher) ebs() *ebs.Client {
	return ebs.NewFromConfig(p.cfg, func(o *ebs.Options) { o.Region = p.spec.Region })
}

func (p *publisher) s3() *s3.Client {
	return s3.NewFromConfig(p.cfg, func(o *s3.Options) { o.Region = p.spec.Region })
}
