package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
	gcppub "github.com/elemental-suite/elemental/internal/publish/gcp"
)

// cloudFormats are the disk formats the cloud targets upload: both take
// the sparse raw disk.
func (r *imageResource) cloudFormats(m *imageModel) []diskformat.Format {
	if m.AWS != nil || m.GCP != nil {
		return []diskformat.Format{diskformat.Raw}
	}
	return nil
}

func rawOutput(outs []installer.Output) string {
	for _, o := range outs {
		if o.Format == diskformat.Raw {
			return o.Path
		}
	}
	return ""
}

// publish uploads the build to every cloud target and records the
// results. When a later target fails, the earlier ones are deleted. The
// disk is the raw file at raw, or, for AWS alone, stream (a disk that is
// built while it is uploaded; raw is then empty).
func (r *imageResource) publish(ctx context.Context, m *imageModel, raw string, stream awspub.Source) error {
	m.AWSAMIs, m.AWSSnapshotIDs = types.MapNull(types.StringType), types.MapNull(types.StringType)
	m.GCPSelfLink = types.StringNull()
	if m.AWS != nil {
		if err := r.publishAWS(ctx, m, raw, stream); err != nil {
			return err
		}
	}
	if m.GCP != nil {
		if err := r.publishGCP(ctx, m, raw); err != nil {
			if uerr := r.unpublish(context.WithoutCancel(ctx), *m); uerr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up the AMIs: %w", uerr))
			}
			return err
		}
	}
	return nil
}

// publishAWS publishes stream, or the raw file at raw when stream is nil.
// On any error, cancellation included, the publisher has deleted what it
// created.
func (r *imageResource) publishAWS(ctx context.Context, m *imageModel, raw string, stream awspub.Source) error {
	spec, err := toAWSSpec(ctx, *m, suiteVersion(r.data))
	if err != nil {
		return err
	}
	cfg, err := r.data.AWS.awsConfig(ctx)
	if err != nil {
		return err
	}
	src := stream
	if src == nil {
		f, err := awspub.OpenFile(raw)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	res, err := awspub.PublishSource(ctx, cfg, src, spec, func(e awspub.Event) {
		tflog.Info(ctx, "aws "+e.Stage, map[string]any{"region": e.Region, "id": e.ID, "done": e.Done, "total": e.Total})
	})
	if err != nil {
		return fmt.Errorf("publishing AMI %s: %w", spec.Name, err)
	}
	var d1, d2 diag.Diagnostics
	m.AWSAMIs, d1 = types.MapValueFrom(ctx, types.StringType, res.AMIs)
	m.AWSSnapshotIDs, d2 = types.MapValueFrom(ctx, types.StringType, res.Snapshots)
	d1.Append(d2...)
	return diagErr(d1)
}

func (r *imageResource) publishGCP(ctx context.Context, m *imageModel, raw string) error {
	spec, err := toGCPSpec(ctx, *m, r.data.GCP.Project, suiteVersion(r.data))
	if err != nil {
		return err
	}
	cl, err := r.data.GCP.gcpClients(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The name belongs to this build ID: an image of that name is a
	// leftover of the same build (e.g. after drift), so replace it.
	if err := gcppub.Delete(ctx, cl, spec.ProjectID, spec.ImageName); err != nil {
		return err
	}
	res, err := gcppub.Publish(ctx, cl, raw, spec, func(e gcppub.Event) {
		tflog.Info(ctx, "gcp publish", map[string]any{"event": fmt.Sprintf("%+v", e)})
	})
	if err != nil {
		return fmt.Errorf("publishing Compute Engine image %s: %w", spec.ImageName, err)
	}
	m.GCPSelfLink = types.StringValue(res.SelfLink)
	return nil
}

// unpublish deletes what publish created: AMIs and their snapshots, and
// the Compute Engine image.
func (r *imageResource) unpublish(ctx context.Context, m imageModel) error {
	var errs []error
	if amis, snaps := stringMap(ctx, m.AWSAMIs), stringMap(ctx, m.AWSSnapshotIDs); len(amis) > 0 {
		cfg, err := r.data.AWS.awsConfig(ctx)
		if err == nil {
			err = awspub.Delete(ctx, cfg, &awspub.Result{AMIs: amis, Snapshots: snaps}, true)
		}
		errs = append(errs, err)
	}
	if project, image, ok := parseSelfLink(m.GCPSelfLink.ValueString()); ok {
		cl, err := r.data.GCP.gcpClients(ctx)
		if err == nil {
			err = gcppub.Delete(ctx, cl, project, image)
			cl.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// goneCloud names the published images that no longer exist.
func (r *imageResource) goneCloud(ctx context.Context, m imageModel) ([]string, error) {
	var gone []string
	if amis := stringMap(ctx, m.AWSAMIs); len(amis) > 0 {
		cfg, err := r.data.AWS.awsConfig(ctx)
		if err != nil {
			return nil, err
		}
		for region, ami := range amis {
			ok, err := awspub.Exists(ctx, cfg, region, ami)
			if err != nil {
				return nil, err
			}
			if !ok {
				gone = append(gone, fmt.Sprintf("AMI %s in %s", ami, region))
			}
		}
	}
	if project, image, ok := parseSelfLink(m.GCPSelfLink.ValueString()); ok {
		cl, err := r.data.GCP.gcpClients(ctx)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		exists, err := gcppub.Exists(ctx, cl, project, image)
		if err != nil {
			return nil, err
		}
		if !exists {
			gone = append(gone, "Compute Engine image "+project+"/"+image)
		}
	}
	return gone, nil
}

// adoptCloud finds the published images of an imported build.
func (r *imageResource) adoptCloud(ctx context.Context, m *imageModel) error {
	m.AWSAMIs, m.AWSSnapshotIDs = types.MapNull(types.StringType), types.MapNull(types.StringType)
	m.GCPSelfLink = types.StringNull()
	if m.AWS != nil || m.GCP != nil {
		return errors.New("importing images published to AWS or Google Cloud is not supported; " +
			"remove the resource from state and let Terraform publish a new build, or import it without the aws and gcp blocks")
	}
	return nil
}

func stringMap(ctx context.Context, v types.Map) map[string]string {
	out := map[string]string{}
	if !v.IsNull() && !v.IsUnknown() {
		_ = v.ElementsAs(ctx, &out, false)
	}
	return out
}

// parseSelfLink splits ".../projects/P/global/images/N".
func parseSelfLink(link string) (project, image string, ok bool) {
	parts := strings.Split(link, "/")
	for i := 0; i+4 < len(parts); i++ {
		if parts[i] == "projects" && parts[i+2] == "global" && parts[i+3] == "images" {
			return parts[i+1], parts[i+4], true
		}
	}
	return "", "", false
}

func architecture(platform string, arm, x86 string) string {
	if platform == "linux/arm64" {
		return arm
	}
	return x86
}

func parseTime(v types.String, what string) (time.Time, error) {
	if v.IsNull() || v.ValueString() == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v.ValueString())
	if err != nil {
		return t, fmt.Errorf("%s: want an RFC 3339 time: %w", what, err)
	}
	return t, nil
}

// suiteVersion names the provider build on the images it publishes.
func suiteVersion(d *providerData) string {
	return "terraform-provider-elemental " + d.Version
}
