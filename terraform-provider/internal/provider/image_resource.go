package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

// Default timeouts of elemental_image: a build reads every layer twice and
// writes the disk; publishing uploads it and waits for the cloud.
const (
	DefaultImageCreateTimeout = 60 * time.Minute
	DefaultImageDeleteTimeout = 20 * time.Minute
)

var (
	_ resource.Resource                = (*imageResource)(nil)
	_ resource.ResourceWithConfigure   = (*imageResource)(nil)
	_ resource.ResourceWithImportState = (*imageResource)(nil)
)

type imageResource struct{ data *providerData }

// NewImageResource returns the elemental_image resource.
func NewImageResource() resource.Resource { return &imageResource{} }

func (r *imageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (r *imageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// configureData type-checks the provider data handed to a resource.
func configureData(v any, diags *diag.Diagnostics) *providerData {
	if v == nil {
		return nil
	}
	pd, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected Resource Configure Type",
			fmt.Sprintf("Expected *providerData, got %T. Please report this issue to the provider developers.", v))
	}
	return pd
}

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m imageModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := m.Timeouts.Create(ctx, DefaultImageCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.build(ctx, &m); err != nil {
		resp.Diagnostics.AddError("Unable to build image", timeoutHint(ctx, err, timeout))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// build runs toSpec → installer.Run → publish → fromResult, or, when AWS
// is the only target that needs the disk, buildStreamed.
func (r *imageResource) build(ctx context.Context, m *imageModel) error {
	if m.Digest.IsUnknown() || m.Digest.IsNull() {
		dig, err := r.data.resolve(ctx, m.Source.ValueString(), valueOr(m.Platform, "linux/amd64"))
		if err != nil {
			return err
		}
		m.Digest = types.StringValue(dig)
	}
	m.ID = types.StringValue(buildID(*m))
	stream, err := streamsDisk(ctx, m)
	if err != nil {
		return err
	}
	if stream {
		return r.buildStreamed(ctx, m)
	}
	diskFmts, err := diskFormats(ctx, m.Disk)
	if err != nil {
		return err
	}
	formats := slices.Clone(diskFmts)
	for _, f := range r.cloudFormats(m) {
		if !slices.Contains(formats, f) {
			formats = append(formats, f)
		}
	}
	dir, cleanup, err := buildDir(m.Disk)
	if err != nil {
		return err
	}
	defer cleanup()
	base := m.ID.ValueString()
	if m.Disk != nil {
		base = artifactName(m.Disk.Name, "elemental", m.ID.ValueString())
	}
	spec, err := toSpec(ctx, *m, r.data, dir, base, formats)
	if err != nil {
		return err
	}
	tflog.Info(ctx, "building image", map[string]any{"source": spec.Source, "id": base})
	res, err := installer.Run(ctx, spec, installer.WithProgress(logProgress(ctx)))
	if err != nil {
		return err
	}
	if res.Digest != m.Digest.ValueString() {
		_ = removeFiles(outputPaths(res.Outputs, nil))
		return fmt.Errorf("%s resolved to %s at plan time but %s was built; plan again", m.Source.ValueString(), m.Digest.ValueString(), res.Digest)
	}
	if err := r.publish(ctx, m, rawOutput(res.Outputs), nil); err != nil {
		_ = removeFiles(outputPaths(res.Outputs, nil))
		return err
	}
	return fromResult(ctx, m, res, diskFmts)
}

// fromResult fills the computed attributes from the build; disk files of
// formats only the cloud targets needed are removed.
func fromResult(ctx context.Context, m *imageModel, res *installer.Result, diskFmts []diskformat.Format) error {
	m.Generation = types.StringValue(res.Generation.String())
	m.KernelVersion = types.StringValue(res.KernelVersion)
	m.DiskFiles, m.DiskSHA256 = types.MapNull(types.StringType), types.MapNull(types.StringType)
	if m.Disk == nil {
		return nil
	}
	var kept []installer.Output
	for _, o := range res.Outputs {
		if slices.Contains(diskFmts, o.Format) {
			kept = append(kept, o)
		}
	}
	if err := removeFiles(outputPaths(res.Outputs, diskFmts)); err != nil {
		return err
	}
	paths, sums, err := diskOutputs(kept)
	if err != nil {
		return err
	}
	var d1, d2 diag.Diagnostics
	m.DiskFiles, d1 = types.MapValueFrom(ctx, types.StringType, paths)
	m.DiskSHA256, d2 = types.MapValueFrom(ctx, types.StringType, sums)
	d1.Append(d2...)
	return diagErr(d1)
}

// outputPaths lists the outputs whose format is not in keep.
func outputPaths(outs []installer.Output, keep []diskformat.Format) map[string]string {
	m := map[string]string{}
	for _, o := range outs {
		if !slices.Contains(keep, o.Format) {
			m[o.Format.String()] = o.Path
		}
	}
	return m
}

// buildDir is the disk directory, or a temporary one when only cloud
// targets are asked for.
func buildDir(disk *diskModel) (string, func(), error) {
	if disk != nil {
		dir := disk.Directory.ValueString()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("creating disk directory: %w", err)
		}
		return dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "elemental-image-")
	if err != nil {
		return "", nil, fmt.Errorf("creating build directory: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m imageModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	gone, err := r.goneArtifacts(ctx, m)
	if err != nil {
		resp.Diagnostics.AddError("Unable to read image", err.Error())
		return
	}
	// The resource stays in state, so that what remains of the build
	// (the snapshot of a deregistered AMI, the AMIs in other regions, the
	// disk files) is still known and deleted by the rebuild or a destroy.
	var mark []byte
	if len(gone) > 0 {
		resp.Diagnostics.AddWarning("Image artifacts deleted outside Terraform",
			fmt.Sprintf("Image %s will be rebuilt: %s no longer exist(s). The next apply deletes what remains "+
				"of it (AMIs, their snapshots, the Compute Engine image, disk files) and builds it again.",
				m.ID.ValueString(), strings.Join(gone, ", ")))
		mark = []byte(`true`)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, goneKey, mark)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// goneArtifacts names the artifacts recorded in state that no longer exist.
func (r *imageResource) goneArtifacts(ctx context.Context, m imageModel) ([]string, error) {
	files := map[string]string{}
	if !m.DiskFiles.IsNull() && !m.DiskFiles.IsUnknown() {
		if err := diagErr(m.DiskFiles.ElementsAs(ctx, &files, false)); err != nil {
			return nil, err
		}
	}
	gone, err := missingFiles(files)
	if err != nil {
		return nil, err
	}
	cloud, err := r.goneCloud(ctx, m)
	return append(gone, cloud...), err
}

func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state imageModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	imported, diags := req.Private.GetKey(ctx, importedKey)
	resp.Diagnostics.Append(diags...)
	if len(imported) > 0 {
		if err := r.adopt(ctx, &plan, state.ID.ValueString()); err != nil {
			resp.Diagnostics.AddError("Unable to adopt imported image", err.Error())
			return
		}
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedKey, nil)...)
	}
	if gone, _ := req.Private.GetKey(ctx, goneKey); len(gone) > 0 {
		if err := r.rebuild(ctx, &plan, state); err != nil {
			resp.Diagnostics.AddError("Unable to rebuild image", err.Error())
			return
		}
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, goneKey, nil)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// goneKey (private state) marks an image some of whose artifacts were
// deleted out of band: Read sets it, the next plan is an update, and
// Update rebuilds.
const goneKey = "gone"

// rebuild deletes what remains of the build in state (AMIs, the
// snapshots recorded for them even when their AMI is gone, the Compute
// Engine image, disk files) and builds and publishes it again, within
// the create timeout.
func (r *imageResource) rebuild(ctx context.Context, plan *imageModel, state imageModel) error {
	timeout, diags := plan.Timeouts.Create(ctx, DefaultImageCreateTimeout)
	if err := diagErr(diags); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tflog.Info(ctx, "rebuilding image after out-of-band deletion", map[string]any{"id": state.ID.ValueString()})
	if err := r.unpublish(ctx, state); err != nil {
		return fmt.Errorf("deleting what remains of image %s: %s", state.ID.ValueString(), timeoutHint(ctx, err, timeout))
	}
	if err := removeFiles(stringMap(ctx, state.DiskFiles)); err != nil {
		return err
	}
	if err := r.build(ctx, plan); err != nil {
		return errors.New(timeoutHint(ctx, err, timeout))
	}
	return nil
}

func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m imageModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.RetainOnDestroy.ValueBool() {
		tflog.Info(ctx, "retain_on_destroy: keeping the image's artifacts", map[string]any{"id": m.ID.ValueString()})
		return
	}
	timeout, diags := m.Timeouts.Delete(ctx, DefaultImageDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.unpublish(ctx, m); err != nil {
		resp.Diagnostics.AddError("Unable to delete published image", timeoutHint(ctx, err, timeout))
		return
	}
	files := map[string]string{}
	if !m.DiskFiles.IsNull() {
		resp.Diagnostics.Append(m.DiskFiles.ElementsAs(ctx, &files, false)...)
	}
	if err := removeFiles(files); err != nil {
		resp.Diagnostics.AddError("Unable to delete disk files", err.Error())
	}
}

// ImportState takes the build ID (the suffix of the artifact names). The
// next apply adopts the artifacts the configuration describes, after
// checking that the configuration produces the same build ID.
func (r *imageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !buildIDPattern.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("%q: want the image's build ID, 12 lowercase hex digits (the suffix of its artifact names).", req.ID))
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedKey, []byte(`true`))...)
}

// timeoutHint says that the timeout ran out when it did.
func timeoutHint(ctx context.Context, err error, timeout time.Duration) string {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Sprintf("%v\n\nThe timeout (%s) was exceeded; raise it in the timeouts attribute.", err, timeout)
	}
	return err.Error()
}
