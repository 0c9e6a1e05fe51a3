package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

var errCloudUnavailable = errors.New("publishing to clouds is not available in this build of the provider")

// cloudFormats are the disk formats the cloud targets upload.
func (r *imageResource) cloudFormats(m *imageModel) []diskformat.Format {
	var out []diskformat.Format
	if m.AWS != nil {
		out = append(out, diskformat.Raw)
	}
	if m.GCP != nil {
		out = append(out, diskformat.GCE)
	}
	return out
}

// publish uploads the build to every cloud target and records the results.
func (r *imageResource) publish(ctx context.Context, m *imageModel, outs []installer.Output) error {
	m.AWSAMIs, m.AWSSnapshotIDs = types.MapNull(types.StringType), types.MapNull(types.StringType)
	m.GCPSelfLink = types.StringNull()
	if m.AWS != nil || m.GCP != nil {
		return errCloudUnavailable
	}
	return nil
}

// unpublish deletes what publish created.
func (r *imageResource) unpublish(ctx context.Context, m imageModel) error { return nil }

// goneCloud names the published images that no longer exist.
func (r *imageResource) goneCloud(ctx context.Context, m imageModel) ([]string, error) {
	return nil, nil
}

// adoptCloud finds the published images of an imported build.
func (r *imageResource) adoptCloud(ctx context.Context, m *imageModel) error {
	m.AWSAMIs, m.AWSSnapshotIDs = types.MapNull(types.StringType), types.MapNull(types.StringType)
	m.GCPSelfLink = types.StringNull()
	if m.AWS != nil || m.GCP != nil {
		return errCloudUnavailable
	}
	return nil
}
