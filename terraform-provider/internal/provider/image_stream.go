package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/elemental-suite/elemental/internal/installer"
	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
)

// streamsDisk reports whether the disk goes straight from the build into
// the EBS snapshot: AWS with the EBS direct APIs is the only target that
// needs it (no disk block keeps files, no gcp block uploads a tarball).
// The S3 import method reads a file at random offsets and keeps the file
// path.
func streamsDisk(ctx context.Context, m *imageModel) (bool, error) {
	if m.AWS == nil || m.Disk != nil || m.GCP != nil {
		return false, nil
	}
	spec, err := toAWSSpec(ctx, *m, "")
	if err != nil {
		return false, err
	}
	return spec.ImportMethod == "" || spec.ImportMethod == awspub.ImportEBSDirect, nil
}

// buildStreamed builds the disk while it is uploaded: installer.Prepare
// opens, verifies, inspects and plans the derivative, the digest is
// checked before anything is uploaded, and the publisher reads the disk
// as whole blocks from the build. No disk file or build directory exists
// at any time; on failure or cancellation the publisher deletes what it
// created, and Close removes the layer cache.
func (r *imageResource) buildStreamed(ctx context.Context, m *imageModel) error {
	spec, err := toSpec(ctx, *m, r.data, "", m.ID.ValueString(), nil)
	if err != nil {
		return err
	}
	tflog.Info(ctx, "building image", map[string]any{"source": spec.Source, "id": m.ID.ValueString()})
	p, err := installer.Prepare(ctx, spec, installer.WithProgress(logProgress(ctx)))
	if err != nil {
		return err
	}
	defer p.Close()
	if got := p.Inspection().Digest; got != m.Digest.ValueString() {
		return fmt.Errorf("%s resolved to %s at plan time but %s was opened; plan again", m.Source.ValueString(), m.Digest.ValueString(), got)
	}
	tflog.Info(ctx, "streaming the disk into the EBS snapshot as it is built: no disk file is written",
		map[string]any{"id": m.ID.ValueString(), "disk_size": p.Size()})
	if err := r.publish(ctx, m, "", p); err != nil {
		return err
	}
	res := p.Result()
	if res == nil {
		return errors.New("the disk was published but its build result is missing")
	}
	return fromResult(ctx, m, res, nil)
}
