package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/oci"
)

var (
	_ datasource.DataSource              = (*derivativeDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*derivativeDataSource)(nil)
)

type derivativeDataSource struct{ data *providerData }

// NewDerivativeDataSource returns the elemental_derivative data source.
func NewDerivativeDataSource() datasource.DataSource { return &derivativeDataSource{} }

type derivativeModel struct {
	Source          types.String `tfsdk:"source"`
	CosignPublicKey types.String `tfsdk:"cosign_public_key"`
	Platform        types.String `tfsdk:"platform"`
	Generation      types.String `tfsdk:"generation"`
	ID              types.String `tfsdk:"id"`
	Digest          types.String `tfsdk:"digest"`
	KernelVersion   types.String `tfsdk:"kernel_version"`
	OSRelease       types.Map    `tfsdk:"os_release"`
	Platforms       types.List   `tfsdk:"platforms"`
}

func (d *derivativeDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_derivative"
}

func (d *derivativeDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Resolves an Elemental derivative reference to its manifest digest and validates it " +
			"the way a build would: toolkit generation, kernel, initrd, GRUB files, EFI binaries and the " +
			"`elemental` binary. A derivative that lacks parts is an error naming every missing part. " +
			"Reading the derivative reads its layers; set the provider's `cache_dir` to keep them between plans.",
		Attributes: map[string]schema.Attribute{
			"source": schema.StringAttribute{Required: true,
				MarkdownDescription: "The derivative: `registry/repo:tag`, `registry/repo@sha256:…`, `oci-layout:DIR[:TAG]` or `docker-archive:FILE[:REF]`."},
			"cosign_public_key": schema.StringAttribute{Optional: true,
				MarkdownDescription: "A cosign public key (PEM, e.g. `file(\"cosign.pub\")`). When set, reading fails unless the " +
					"derivative carries a valid cosign signature by this key for its index or platform manifest digest " +
					"(tag `sha256-<digest>.sig` beside the image). `docker-archive:` sources cannot be verified."},
			"platform": schema.StringAttribute{Optional: true,
				Validators:          []validator.String{stringvalidator.OneOf("linux/amd64", "linux/arm64")},
				MarkdownDescription: "Platform to pick from a multi-platform index (default `linux/amd64`)."},
			"generation": schema.StringAttribute{Optional: true, Computed: true,
				Validators:          []validator.String{stringvalidator.OneOf("v1", "v2")},
				MarkdownDescription: "Toolkit generation, `v1` or `v2`. Detected from the image unless set."},
			"id":             schema.StringAttribute{Computed: true, MarkdownDescription: "Same as `digest`."},
			"digest":         schema.StringAttribute{Computed: true, MarkdownDescription: "Manifest digest of the picked platform image (`sha256:…`)."},
			"kernel_version": schema.StringAttribute{Computed: true, MarkdownDescription: "Kernel version (the `/lib/modules` directory of the kernel the toolkit boots)."},
			"os_release": schema.MapAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Key/value pairs of the image's `/etc/os-release`."},
			"platforms": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Platforms the reference offers (one entry for a single-platform image)."},
		},
	}
}

func (d *derivativeDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	pd, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Data Source Configure Type",
			fmt.Sprintf("Expected *providerData, got %T. Please report this issue to the provider developers.", req.ProviderData))
		return
	}
	d.data = pd
}

func (d *derivativeDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m derivativeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || d.data == nil {
		return
	}
	platform := valueOr(m.Platform, "linux/amd64")
	gen, err := inspect.ParseGeneration(m.Generation.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Invalid generation", err.Error())
		return
	}
	spec := installer.Spec{Source: m.Source.ValueString(), Platform: platform, Generation: gen,
		Username: d.data.Registry.Username, Password: d.data.Registry.Password,
		Insecure: d.data.Registry.Insecure, CacheDir: d.data.CacheDir}
	if k := m.CosignPublicKey.ValueString(); k != "" {
		spec.Verify = &installer.Verification{PublicKey: []byte(k), KeyOrigin: "cosign_public_key"}
	}
	insp, err := installer.Inspect(ctx, spec, installer.WithProgress(logProgress(ctx)))
	if err != nil {
		addInspectError(&resp.Diagnostics, spec.Source, err)
		return
	}
	platforms, err := listPlatforms(ctx, spec.Source, d.data, insp.Platform)
	if err != nil {
		resp.Diagnostics.AddError("Unable to list platforms", err.Error())
		return
	}
	m.ID = types.StringValue(insp.Digest)
	m.Digest = m.ID
	m.Generation = types.StringValue(insp.Report.Generation.String())
	m.KernelVersion = types.StringValue(insp.Report.KernelVersion)
	osr, diags := types.MapValueFrom(ctx, types.StringType, insp.Report.OSRelease)
	resp.Diagnostics.Append(diags...)
	pl, diags := types.ListValueFrom(ctx, types.StringType, platforms)
	resp.Diagnostics.Append(diags...)
	m.OSRelease, m.Platforms = osr, pl
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// addInspectError reports a validation failure with every missing part,
// or any other error as it is.
func addInspectError(diags interface{ AddError(string, string) }, source string, err error) {
	var miss *inspect.MissingError
	if errors.As(err, &miss) {
		diags.AddError("Derivative is incomplete", fmt.Sprintf("%s: %s", source, miss.Error()))
		return
	}
	diags.AddError("Unable to read derivative", err.Error())
}

// listPlatforms lists the platforms a registry reference offers; local
// image forms hold one image, so they offer the one that was opened.
func listPlatforms(ctx context.Context, source string, d *providerData, opened string) ([]string, error) {
	if strings.HasPrefix(source, oci.LayoutPrefix) || strings.HasPrefix(source, oci.ArchivePrefix) {
		return []string{opened}, nil
	}
	var nopts []name.Option
	if d.Registry.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(source, nopts...)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", source, err)
	}
	auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	if d.Registry.Username != "" {
		auth = remote.WithAuth(&authn.Basic{Username: d.Registry.Username, Password: d.Registry.Password})
	}
	desc, err := remote.Get(ref, auth, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("fetching manifest of %s: %w", source, err)
	}
	if !desc.MediaType.IsIndex() {
		return []string{opened}, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", source, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", source, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" || seen[m.Platform.String()] {
			continue
		}
		seen[m.Platform.String()] = true
		out = append(out, m.Platform.String())
	}
	sort.Strings(out)
	return out, nil
}

// logProgress sends installer progress to the Terraform log.
func logProgress(ctx context.Context) func(installer.Event) {
	return func(e installer.Event) {
		tflog.Info(ctx, e.Message, map[string]any{"phase": string(e.Phase), "bytes": e.Bytes, "files": e.Files})
	}
}

// valueOr returns v's value, or def when v is null, unknown or empty.
func valueOr(v types.String, def string) string {
	if v.IsNull() || v.IsUnknown() || v.ValueString() == "" {
		return def
	}
	return v.ValueString()
}
