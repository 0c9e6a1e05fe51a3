package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/elemental-suite/elemental/acctest/awsemu"
	"github.com/elemental-suite/elemental/acctest/gcpemu"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/internal/publish/gcp"
)

// amiRun is one AMI publication at one upload concurrency.
type amiRun struct {
	Concurrency  int
	Wall         time.Duration
	Sent, Blocks int64
	Disk, Alloc  int64
	SourceToAMI  time.Duration // set on the run that also built the disk
	CoreWall     time.Duration
}

// gceRun is one GCE image publication.
type gceRun struct {
	Wall                   time.Duration
	Sent, DiskTar, Data    int64
	RawApparent, RawAlloca int64
}

type publishResults struct {
	Input      string
	SourceRun  amiRun     // core build + publish, from the source reference
	Streamed   *streamRun // the same with no disk file: blocks straight from the core
	AMI        []amiRun
	GCE        gceRun
	Concurrent []int
}

// publishBench builds in's disk (timed as part of source → AMI) and
// publishes it to the emulators.
func (r *runner) publishBench(ctx context.Context, in input, concs []int, runs int) (*publishResults, error) {
	emu := awsemu.New(awsemu.Options{Delay: time.Millisecond})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIABENCH", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return publish.NewRetryer(10, 50*time.Millisecond) },
	}
	d, err := r.scratch("publish")
	if err != nil {
		return nil, err
	}
	defer r.clean(d)
	res := &publishResults{Input: in.Name, Concurrent: concs}

	// Source reference → registered AMI: the core build then Publish at
	// the default concurrency.
	start := time.Now()
	cmd := exec.CommandContext(ctx, r.bin, "core", "-source", in.ref(), "-out", d, "-name", "publish")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building the disk to publish: %w", err)
	}
	built := time.Since(start)
	disk := filepath.Join(d, "publish.raw")
	run, err := publishAMI(ctx, cfg, disk, 0, "bench-source")
	if err != nil {
		return nil, err
	}
	run.SourceToAMI, run.CoreWall = time.Since(start), built
	res.SourceRun = run
	r.log("publish: source → AMI %.1fs (core %.1fs)", run.SourceToAMI.Seconds(), built.Seconds())
	if res.Streamed, err = r.streamBench(ctx, in, srv.URL); err != nil {
		return nil, err
	}
	r.log("publish: source → AMI streamed %.1fs, peak RSS %s, files %s", res.Streamed.Sample.Wall.Seconds(),
		human(res.Streamed.Sample.MaxRSS), human(res.Streamed.Sample.PeakFiles))

	for _, c := range concs {
		var best *amiRun
		for i := range runs {
			run, err := publishAMI(ctx, cfg, disk, c, fmt.Sprintf("bench-%d-%d", c, i))
			if err != nil {
				return nil, err
			}
			r.log("publish: AMI at concurrency %d: %.2fs, sent %s", c, run.Wall.Seconds(), human(run.Sent))
			if best == nil || run.Wall < best.Wall {
				best = &run
			}
		}
		res.AMI = append(res.AMI, *best)
	}
	g, err := publishGCE(ctx, disk)
	if err != nil {
		return nil, err
	}
	r.log("publish: GCE image %.2fs, sent %s", g.Wall.Seconds(), human(g.Sent))
	res.GCE = g
	return res, nil
}

func publishAMI(ctx context.Context, cfg aws.Config, disk string, conc int, name string) (amiRun, error) {
	run := amiRun{Concurrency: conc}
	var err error
	if run.Disk, run.Alloc, err = fileSizes(disk); err != nil {
		return run, err
	}
	start := time.Now()
	res, err := publish.Publish(ctx, cfg, disk, publish.Spec{Name: name, UploadConcurrency: conc}, nil)
	if err != nil {
		return run, fmt.Errorf("publishing AMI %s: %w", name, err)
	}
	run.Wall = time.Since(start)
	run.Sent, run.Blocks = res.BytesUploaded, res.BlocksUploaded
	if err := publish.Delete(ctx, cfg, res, true); err != nil {
		return run, fmt.Errorf("deleting AMI %s: %w", name, err)
	}
	return run, nil
}

func publishGCE(ctx context.Context, disk string) (gceRun, error) {
	var run gceRun
	emu, err := gcpemu.Start(gcpemu.Options{Buckets: []string{"bench"}, OpDelay: 10 * time.Millisecond})
	if err != nil {
		return run, fmt.Errorf("starting the gcp emulator: %w", err)
	}
	defer emu.Close()
	c, err := gcp.NewClients(ctx, gcp.ClientOptions{StorageEndpoint: emu.URL(), ComputeEndpoint: emu.URL(), WithoutAuthentication: true})
	if err != nil {
		return run, fmt.Errorf("creating gcp clients: %w", err)
	}
	defer c.Close()
	if run.RawApparent, run.RawAlloca, err = fileSizes(disk); err != nil {
		return run, err
	}
	start := time.Now()
	res, err := gcp.Publish(ctx, c, disk, gcp.Spec{ProjectID: "bench", Bucket: "bench", ImageName: "bench-disk"}, nil)
	if err != nil {
		return run, fmt.Errorf("publishing the GCE image: %w", err)
	}
	run.Wall = time.Since(start)
	run.Sent, run.DiskTar, run.Data = res.BytesUploaded, res.DiskSize, res.DataSize
	return run, nil
}
