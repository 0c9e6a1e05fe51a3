package provider

import (
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// awsImageModel is the aws block of elemental_image.
type awsImageModel struct {
	Regions       types.List   `tfsdk:"regions"`
	Name          types.String `tfsdk:"name"`
	Description   types.String `tfsdk:"description"`
	ShareAccounts types.List   `tfsdk:"share_accounts"`
	Public        types.Bool   `tfsdk:"public"`
	Tags          types.Map    `tfsdk:"tags"`
	BootMode      types.String `tfsdk:"boot_mode"`
	IMDSSupport   types.String `tfsdk:"imds_support"`
	DeprecateAt   types.String `tfsdk:"deprecate_at"`
	Encrypted     types.Bool   `tfsdk:"encrypted"`
	KMSKeyID      types.String `tfsdk:"kms_key_id"`
	ParentSnap    types.String `tfsdk:"parent_snapshot_id"`
}

// gcpImageModel is the gcp block of elemental_image.
type gcpImageModel struct {
	Project         types.String `tfsdk:"project"`
	Bucket          types.String `tfsdk:"bucket"`
	ImageName       types.String `tfsdk:"image_name"`
	Family          types.String `tfsdk:"family"`
	Description     types.String `tfsdk:"description"`
	Labels          types.Map    `tfsdk:"labels"`
	GuestOSFeatures types.List   `tfsdk:"guest_os_features"`
	DeprecateAt     types.String `tfsdk:"deprecate_at"`
}

func optString(desc string, v ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, MarkdownDescription: desc, Validators: v}
}

func awsImageBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Publish the disk as an AMI in each region (EBS direct APIs snapshot + RegisterImage). " +
			"Credentials and endpoints come from the provider's `aws` block. When `aws` is the only target " +
			"(no `disk` or `gcp` block), the disk is streamed into the snapshot as it is built, in whole 512 KiB " +
			"blocks: no disk file is written and no local space is needed for it.",
		Validators:    []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("regions"))},
		PlanModifiers: []planmodifier.Object{replaceObject()},
		Attributes: map[string]schema.Attribute{
			"regions": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()},
				MarkdownDescription: "Regions to publish in (required); the first one builds the snapshot, the others get copies."},
			"name":        optString("AMI name prefix (default `elemental`); the AMI is named `<name>-<id>`."),
			"description": optString("AMI description."),
			"share_accounts": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "AWS account IDs given launch permission."},
			"public": schema.BoolAttribute{Optional: true, MarkdownDescription: "Make the AMI public (launch permission for `all`)."},
			"tags": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Tags on the AMI and its snapshot."},
			"boot_mode": optString("Boot mode: `uefi` (default), `uefi-preferred` or `legacy-bios`.",
				stringvalidator.OneOf("uefi", "uefi-preferred", "legacy-bios")),
			"imds_support": optString("`v2.0` to require IMDSv2 on instances launched from the AMI.",
				stringvalidator.OneOf("v2.0")),
			"deprecate_at": optString("RFC 3339 time at which the AMI is deprecated."),
			"encrypted":    schema.BoolAttribute{Optional: true, MarkdownDescription: "Encrypt the snapshots."},
			"kms_key_id":   optString("KMS key for encrypted snapshots (default: the account's EBS key)."),
			"parent_snapshot_id": optString("A snapshot (for example the previous version's `aws_snapshot_ids` value) to upload over "+
				"incrementally: blocks equal to the parent's are not sent. The encryption must match the parent's.",
				stringvalidator.RegexMatches(regexp.MustCompile(`^snap-`), "must be a snapshot id (snap-…)")),
		},
	}
}

func gcpImageBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Publish the disk as a Compute Engine image (upload to Cloud Storage + images.insert). " +
			"Credentials and endpoints come from the provider's `gcp` block.",
		Validators:    []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("bucket"))},
		PlanModifiers: []planmodifier.Object{replaceObject()},
		Attributes: map[string]schema.Attribute{
			"project":     optString("Project (default: the provider's)."),
			"bucket":      schema.StringAttribute{Optional: true, MarkdownDescription: "Bucket the disk tarball is uploaded to, deleted after the import (required)."},
			"image_name":  optString("Image name prefix (default `elemental`); the image is named `<image_name>-<id>`."),
			"family":      optString("Image family."),
			"description": optString("Image description."),
			"labels": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Labels on the image."},
			"guest_os_features": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Guest OS features (default `UEFI_COMPATIBLE`)."},
			"deprecate_at": optString("RFC 3339 time at which the image is marked DEPRECATED."),
		},
	}
}
