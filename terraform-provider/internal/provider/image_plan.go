package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ resource.ResourceWithModifyPlan = (*imageResource)(nil)

// ModifyPlan resolves source to a digest, so that a tag that moved since
// the last apply plans a replacement, and the build uses exactly the
// planned digest.
func (r *imageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var source, platform, prior types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("source"), &source)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("platform"), &platform)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("digest"), &prior)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	digest, replace, err := planDigest(ctx, r.data.resolve, source, platform, prior)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Unable to resolve source", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("digest"), digest)...)
	if replace {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("digest"))
	}
	imported, _ := req.Private.GetKey(ctx, importedKey)
	gone, _ := req.Private.GetKey(ctx, goneKey)
	if len(imported) > 0 || (len(gone) > 0 && !replace) {
		// Adopting an import, or rebuilding after an out-of-band
		// deletion (Update deletes what remains, then builds again).
		resp.Diagnostics.Append(unknownComputed(ctx, req, resp)...)
	}
}

// unknownComputed marks what adopting an imported image (whose state
// holds only the ID) or a rebuild fills in as unknown.
func unknownComputed(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) diag.Diagnostics {
	var diags diag.Diagnostics
	var gen types.String
	diags.Append(req.Config.GetAttribute(ctx, path.Root("generation"), &gen)...)
	if gen.IsNull() {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root("generation"), types.StringUnknown())...)
	}
	diags.Append(resp.Plan.SetAttribute(ctx, path.Root("kernel_version"), types.StringUnknown())...)
	diags.Append(resp.Plan.SetAttribute(ctx, path.Root("gcp_image_self_link"), types.StringUnknown())...)
	for _, a := range []string{"disk_files", "disk_sha256", "aws_amis", "aws_snapshot_ids"} {
		diags.Append(resp.Plan.SetAttribute(ctx, path.Root(a), types.MapUnknown(types.StringType))...)
	}
	return diags
}

// planDigest resolves source for platform. It stays unknown while source
// or platform are unknown; replace is true when a prior digest differs.
func planDigest(ctx context.Context, resolve func(context.Context, string, string) (string, error),
	source, platform, prior types.String) (types.String, bool, error) {
	if source.IsUnknown() || platform.IsUnknown() {
		return types.StringUnknown(), false, nil
	}
	d, err := resolve(ctx, source.ValueString(), valueOr(platform, "linux/amd64"))
	if err != nil {
		return types.StringUnknown(), false, err
	}
	replace := !prior.IsNull() && !prior.IsUnknown() && prior.ValueString() != d
	return types.StringValue(d), replace, nil
}

var _ resource.ResourceWithConfigValidators = (*imageResource)(nil)

// ConfigValidators: a build with nowhere to keep it would be thrown away.
func (r *imageResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.AtLeastOneOf(path.MatchRoot("disk"), path.MatchRoot("aws"), path.MatchRoot("gcp")),
	}
}
