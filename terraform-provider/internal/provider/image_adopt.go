package provider

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/elemental-suite/elemental/internal/installer"
)

var buildIDPattern = regexp.MustCompile(`^[0-9a-f]{12}$`)

// adopt fills the state of an imported image from its configuration and
// the artifacts that exist, without building: the configuration must
// produce the imported build ID, and every artifact must be there.
func (r *imageResource) adopt(ctx context.Context, m *imageModel, importedID string) error {
	if id := buildID(*m); id != importedID {
		return fmt.Errorf("the configuration describes build %s (digest %s), not the imported %s; "+
			"import the ID this configuration builds, or remove the resource from state and let Terraform build it",
			id, m.Digest.ValueString(), importedID)
	}
	m.ID = types.StringValue(importedID)
	if m.Generation.IsUnknown() || m.Generation.IsNull() || m.KernelVersion.IsUnknown() || m.KernelVersion.IsNull() {
		spec, err := toSpec(ctx, *m, r.data, "", "", nil)
		if err != nil && spec.Source == "" {
			return err
		}
		insp, err := installer.Inspect(ctx, spec, installer.WithProgress(logProgress(ctx)))
		if err != nil {
			return err
		}
		m.Generation = types.StringValue(insp.Report.Generation.String())
		m.KernelVersion = types.StringValue(insp.Report.KernelVersion)
	}
	if err := adoptDisk(ctx, m); err != nil {
		return err
	}
	return r.adoptCloud(ctx, m)
}

func adoptDisk(ctx context.Context, m *imageModel) error {
	m.DiskFiles, m.DiskSHA256 = types.MapNull(types.StringType), types.MapNull(types.StringType)
	if m.Disk == nil {
		return nil
	}
	formats, err := diskFormats(ctx, m.Disk)
	if err != nil {
		return err
	}
	files := expectedDiskFiles(m.Disk, formats, m.ID.ValueString())
	gone, err := missingFiles(files)
	if err != nil {
		return err
	}
	if len(gone) > 0 {
		return fmt.Errorf("disk files of build %s are missing: %v", m.ID.ValueString(), gone)
	}
	sums := map[string]string{}
	for f, p := range files {
		if sums[f], err = fileSHA256(p); err != nil {
			return err
		}
	}
	var d1, d2 diag.Diagnostics
	m.DiskFiles, d1 = types.MapValueFrom(ctx, types.StringType, files)
	m.DiskSHA256, d2 = types.MapValueFrom(ctx, types.StringType, sums)
	d1.Append(d2...)
	return diagErr(d1)
}
