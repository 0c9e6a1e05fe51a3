package provider

import (
	"context"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// imageModel is the state of elemental_image.
type imageModel struct {
	ID              types.String   `tfsdk:"id"`
	Source          types.String   `tfsdk:"source"`
	CosignPublicKey types.String   `tfsdk:"cosign_public_key"`
	Platform        types.String   `tfsdk:"platform"`
	Generation      types.String   `tfsdk:"generation"`
	CloudConfig     types.List     `tfsdk:"cloud_config"`
	DiskSize        types.String   `tfsdk:"disk_size"`
	RecoveryFS      types.String   `tfsdk:"recovery_fs"`
	GrubEntryName   types.String   `tfsdk:"grub_entry_name"`
	NoGrow          types.Bool     `tfsdk:"no_grow"`
	SourceDateEpoch types.Int64    `tfsdk:"source_date_epoch"`
	RetainOnDestroy types.Bool     `tfsdk:"retain_on_destroy"`
	Sizes           *sizesModel    `tfsdk:"partition_sizes"`
	Disk            *diskModel     `tfsdk:"disk"`
	AWS             *awsImageModel `tfsdk:"aws"`
	GCP             *gcpImageModel `tfsdk:"gcp"`
	Timeouts        timeouts.Value `tfsdk:"timeouts"`
	Digest          types.String   `tfsdk:"digest"`
	KernelVersion   types.String   `tfsdk:"kernel_version"`
	DiskFiles       types.Map      `tfsdk:"disk_files"`
	DiskSHA256      types.Map      `tfsdk:"disk_sha256"`
	AWSAMIs         types.Map      `tfsdk:"aws_amis"`
	AWSSnapshotIDs  types.Map      `tfsdk:"aws_snapshot_ids"`
	GCPSelfLink     types.String   `tfsdk:"gcp_image_self_link"`
}

type sizesModel struct {
	EFI        types.String `tfsdk:"efi"`
	OEM        types.String `tfsdk:"oem"`
	Recovery   types.String `tfsdk:"recovery"`
	State      types.String `tfsdk:"state"`
	Persistent types.String `tfsdk:"persistent"`
}

type diskModel struct {
	Directory types.String `tfsdk:"directory"`
	Name      types.String `tfsdk:"name"`
	Formats   types.List   `tfsdk:"formats"`
}

func formatNames() []string {
	var out []string
	for _, f := range diskformat.Formats() {
		out = append(out, f.String())
	}
	return out
}

func (r *imageResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	sizeAttr := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc,
			Validators:    []validator.String{sizeString()},
			PlanModifiers: []planmodifier.String{replaceString()}}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One immutable image version: builds an Elemental derivative into a bootable GPT disk " +
			"once, then keeps it as a local disk file (`disk`), an AMI in each AWS region (`aws`) and a " +
			"Compute Engine image (`gcp`). Every input forces a new image. `source` is resolved to a digest " +
			"at plan time, so a tag that moved plans a replacement. Artifact names carry the `id`, which is " +
			"unique per digest and build settings, so `create_before_destroy` works.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Build ID: the first 12 hex digits of a SHA-256 over the digest and the build and " +
					"publishing settings. Artifact names end with it.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"source": schema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{replaceString()},
				MarkdownDescription: "The derivative: `registry/repo:tag`, `registry/repo@sha256:…`, `oci-layout:DIR[:TAG]` or `docker-archive:FILE[:REF]`."},
			"cosign_public_key": schema.StringAttribute{Optional: true,
				MarkdownDescription: "A cosign public key (PEM, e.g. `file(\"cosign.pub\")`). When set, a build refuses a derivative " +
					"without a valid cosign signature by this key for the digest built (tag `sha256-<digest>.sig` beside the image), " +
					"before anything is written. The platform manifest digest is what is built, so sign multi-platform images with " +
					"`cosign sign --recursive`. `docker-archive:` sources cannot be verified. Checked when the image is built; " +
					"changing it alone does not rebuild."},
			"platform": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("linux/amd64"),
				Validators:          []validator.String{stringvalidator.OneOf("linux/amd64", "linux/arm64")},
				PlanModifiers:       []planmodifier.String{replaceString()},
				MarkdownDescription: "Platform to build, `linux/amd64` (default) or `linux/arm64`."},
			"generation": schema.StringAttribute{Optional: true, Computed: true,
				Validators: []validator.String{stringvalidator.OneOf("v1", "v2")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(),
					replaceConfiguredString()},
				MarkdownDescription: "Toolkit generation `v1` or `v2`; detected from the image when not set."},
			"cloud_config": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				PlanModifiers:       []planmodifier.List{replaceList()},
				MarkdownDescription: "Cloud-config documents (YAML mappings) copied into the OEM partition as `90_custom.yaml`, `91_custom.yaml`, …"},
			"disk_size": sizeAttr("Total disk size, e.g. `8GiB` (default: just large enough; the last partition grows to the real disk on first boot)."),
			"recovery_fs": schema.StringAttribute{Optional: true, PlanModifiers: []planmodifier.String{replaceString()},
				Validators:          []validator.String{stringvalidator.OneOf("squashfs", "ext2")},
				MarkdownDescription: "Recovery image filesystem, `squashfs` (default) or `ext2`."},
			"grub_entry_name": schema.StringAttribute{Optional: true, PlanModifiers: []planmodifier.String{replaceString()},
				MarkdownDescription: "Boot menu name when the image's os-release has no `GRUB_ENTRY_NAME` (default `Elemental`)."},
			"no_grow": schema.BoolAttribute{Optional: true, PlanModifiers: []planmodifier.Bool{replaceBool()},
				MarkdownDescription: "Leave out the cloud-config that grows the last partition on first boot."},
			"source_date_epoch": schema.Int64Attribute{Optional: true, PlanModifiers: []planmodifier.Int64{replaceInt64()},
				MarkdownDescription: "Timestamp (Unix seconds) of everything the build creates (default: the image's creation time)."},
			"retain_on_destroy": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Keep the disk files, AMIs, snapshots and Compute Engine image when the resource is destroyed. " +
					"Apply a change to this value before `terraform destroy` can see it."},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Delete: true}),
			"digest": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Manifest digest `source` resolved to at plan time; the image is built from exactly this digest."},
			"kernel_version":      computedString("Kernel version of the image."),
			"disk_files":          computedMap("Disk format → path of the file written (with a `disk` block)."),
			"disk_sha256":         computedMap("Disk format → SHA-256 (hex) of the file written."),
			"aws_amis":            computedMap("AWS region → AMI ID."),
			"aws_snapshot_ids":    computedMap("AWS region → EBS snapshot ID backing the AMI."),
			"gcp_image_self_link": computedString("Self link of the Compute Engine image."),
		},
		Blocks: map[string]schema.Block{
			"partition_sizes": schema.SingleNestedBlock{
				MarkdownDescription: "Partition sizes, e.g. `2GiB`; unset ones are automatic.",
				PlanModifiers:       []planmodifier.Object{replaceObject()},
				Attributes: map[string]schema.Attribute{
					"efi": sizeAttr("EFI system partition."), "oem": sizeAttr("OEM partition."),
					"recovery": sizeAttr("Recovery partition."), "state": sizeAttr("State partition."),
					"persistent": sizeAttr("Persistent partition."),
				},
			},
			"disk": schema.SingleNestedBlock{
				MarkdownDescription: "Keep the disk as local files: `<directory>/<name>-<id><ext>`.",
				Validators:          []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("directory"))},
				PlanModifiers:       []planmodifier.Object{replaceObject()},
				Attributes: map[string]schema.Attribute{
					"directory": schema.StringAttribute{Optional: true,
						MarkdownDescription: "Directory for the disk files, created when missing (required)."},
					"name": schema.StringAttribute{Optional: true,
						MarkdownDescription: "File name prefix (default `elemental`)."},
					"formats": schema.ListAttribute{Optional: true, ElementType: types.StringType,
						Validators: []validator.List{listvalidator.UniqueValues(),
							listvalidator.ValueStringsAre(stringvalidator.OneOf(formatNames()...))},
						MarkdownDescription: "Formats to write: `raw` (default), `qcow2`, `vhd`, `vmdk`, `gce`."},
				},
			},
			"aws": awsImageBlock(),
			"gcp": gcpImageBlock(),
		},
	}
}

func computedString(desc string) schema.StringAttribute {
	return schema.StringAttribute{Computed: true, MarkdownDescription: desc,
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
}

func computedMap(desc string) schema.MapAttribute {
	return schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: desc,
		PlanModifiers: []planmodifier.Map{mapplanmodifier.UseStateForUnknown()}}
}
