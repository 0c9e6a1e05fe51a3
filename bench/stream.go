package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/elemental-suite/elemental/internal/installer"
	publish "github.com/elemental-suite/elemental/internal/publish/aws"
)

// streamResult is what the stream child reports.
type streamResult struct {
	Sent, Blocks   int64
	PeakBuffered   int64 // most 512 KiB blocks held at once by the assembler
	HandedAtClose  int64
	DiskSize       int64
	PrepareSeconds float64
}

// runStream is the "stream" child: installer.Prepare, then the disk goes
// block by block into an AMI at the emulator at -endpoint, with no disk
// file (the EBS direct path of the Packer and Terraform AMI targets).
func runStream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	source := fs.String("source", "", "installer source reference")
	endpoint := fs.String("endpoint", "", "AWS endpoint URL (the emulator)")
	name := fs.String("name", "bench-stream", "AMI name")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	p, err := installer.Prepare(ctx, installer.Spec{Source: *source, SourceDateEpoch: epoch})
	if err != nil {
		return err
	}
	defer p.Close()
	prepared := time.Since(start)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIABENCH", "secret", ""),
		BaseEndpoint: aws.String(*endpoint),
		Retryer:      func() aws.Retryer { return publish.NewRetryer(10, 50*time.Millisecond) },
	}
	res, err := publish.PublishSource(ctx, cfg, p, publish.Spec{Name: *name}, nil)
	if err != nil {
		return err
	}
	st := p.Result().Streamed
	out := streamResult{Sent: res.BytesUploaded, Blocks: res.BlocksUploaded, PeakBuffered: st.PeakPartial,
		HandedAtClose: st.AtClose, DiskSize: p.Size(), PrepareSeconds: prepared.Seconds()}
	if err := publish.Delete(ctx, cfg, res, true); err != nil {
		return fmt.Errorf("deleting AMI %s: %w", *name, err)
	}
	return writeJSON(*jsonOut, out)
}

// streamRun is one measured source → AMI run with no disk file.
type streamRun struct {
	streamResult
	Sample sample
}

// streamBench measures the stream child against the emulator at url: wall,
// CPU, peak RSS and the peak size of the files in its TMPDIR (the layer
// cache of a remote source; nothing for a local layout).
func (r *runner) streamBench(ctx context.Context, in input, url string) (*streamRun, error) {
	d, err := r.scratch("stream")
	if err != nil {
		return nil, err
	}
	defer r.clean(d)
	js := filepath.Join(d, "result.json")
	cmd := command(ctx, d, r.bin, "stream", "-source", in.ref(), "-endpoint", url, "-json", js)
	cmd.Env = append(os.Environ(), "TMPDIR="+d)
	cmd.Stderr = os.Stderr
	s, err := measure(ctx, cmd, d, true)
	if err != nil {
		return nil, fmt.Errorf("streaming %s to an AMI: %w", in.Name, err)
	}
	run := &streamRun{Sample: s}
	if err := readJSON(js, "stream", &run.streamResult); err != nil {
		return nil, err
	}
	return run, nil
}
