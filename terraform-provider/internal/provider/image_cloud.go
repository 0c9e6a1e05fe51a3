package provider

import (
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	awspub "github.com/elemental-suite/elemental/internal/publish/aws"
)

// awsImageModel is the aws block of elemental_image. Names follow
// terraform-provider-aws's aws_ami where it has the concept, else
// packer-plugin-amazon's.
type awsImageModel struct {
	Regions          types.List   `tfsdk:"regions"`
	Name             types.String `tfsdk:"name"`
	Description      types.String `tfsdk:"description"`
	ShareAccounts    types.List   `tfsdk:"share_accounts"`
	Public           types.Bool   `tfsdk:"public"`
	OrgARNs          types.List   `tfsdk:"organization_arns"`
	OUARNs           types.List   `tfsdk:"organizational_unit_arns"`
	SnapshotAccounts types.List   `tfsdk:"snapshot_share_accounts"`
	SnapshotPublic   types.Bool   `tfsdk:"snapshot_public"`
	Tags             types.Map    `tfsdk:"tags"`
	SnapshotTags     types.Map    `tfsdk:"snapshot_tags"`
	BootMode         types.String `tfsdk:"boot_mode"`
	ENASupport       types.Bool   `tfsdk:"ena_support"`
	SriovNetSupport  types.String `tfsdk:"sriov_net_support"`
	IMDSSupport      types.String `tfsdk:"imds_support"`
	TPMSupport       types.String `tfsdk:"tpm_support"`
	UEFIData         types.String `tfsdk:"uefi_data"`
	RootDeviceName   types.String `tfsdk:"root_device_name"`
	VolumeType       types.String `tfsdk:"volume_type"`
	VolumeSize       types.Int64  `tfsdk:"volume_size"`
	DeleteOnTerm     types.Bool   `tfsdk:"delete_on_termination"`
	DeprecateAt      types.String `tfsdk:"deprecate_at"`
	DeregProtection  types.Object `tfsdk:"deregistration_protection"`
	Encrypted        types.Bool   `tfsdk:"encrypted"`
	KMSKeyID         types.String `tfsdk:"kms_key_id"`
	RegionKMSKeyIDs  types.Map    `tfsdk:"region_kms_key_ids"`
	SkipBuildRegion  types.Bool   `tfsdk:"skip_save_build_region"`
	ParentSnap       types.String `tfsdk:"parent_snapshot_id"`
	ImportMethod     types.String `tfsdk:"import_method"`
	S3Bucket         types.String `tfsdk:"s3_bucket"`
	Concurrency      types.Int64  `tfsdk:"upload_concurrency"`
	RequestTimeout   types.String `tfsdk:"request_timeout"`
	SnapshotTimeout  types.String `tfsdk:"snapshot_timeout"`
}

// deregProtectionModel is aws.deregistration_protection.
type deregProtectionModel struct {
	Enabled      types.Bool `tfsdk:"enabled"`
	WithCooldown types.Bool `tfsdk:"with_cooldown"`
}

var deregProtectionTypes = map[string]attr.Type{"enabled": types.BoolType, "with_cooldown": types.BoolType}

// gcpImageModel is the gcp block of elemental_image. Names follow
// terraform-provider-google's google_compute_image.
type gcpImageModel struct {
	Project          types.String `tfsdk:"project"`
	Bucket           types.String `tfsdk:"bucket"`
	ObjectName       types.String `tfsdk:"object_name"`
	SkipClean        types.Bool   `tfsdk:"skip_clean"`
	ImageName        types.String `tfsdk:"image_name"`
	Family           types.String `tfsdk:"family"`
	Description      types.String `tfsdk:"description"`
	Labels           types.Map    `tfsdk:"labels"`
	GuestOSFeatures  types.List   `tfsdk:"guest_os_features"`
	StorageLocations types.List   `tfsdk:"storage_locations"`
	Licenses         types.List   `tfsdk:"licenses"`
	Shielded         types.Object `tfsdk:"shielded_instance_initial_state"`
	DeprecateAt      types.String `tfsdk:"deprecate_at"`
	ObsoleteAt       types.String `tfsdk:"obsolete_at"`
	DeleteAt         types.String `tfsdk:"delete_at"`
	CompressionLevel types.Int64  `tfsdk:"compression_level"`
	UploadChunkSize  types.String `tfsdk:"upload_chunk_size"`
}

// shieldedModel is gcp.shielded_instance_initial_state.
type shieldedModel struct {
	PK   types.String `tfsdk:"pk"`
	KEKs types.List   `tfsdk:"keks"`
	DBs  types.List   `tfsdk:"dbs"`
	DBXs types.List   `tfsdk:"dbxs"`
}

var shieldedTypes = map[string]attr.Type{"pk": types.StringType, "keks": types.ListType{ElemType: types.StringType},
	"dbs": types.ListType{ElemType: types.StringType}, "dbxs": types.ListType{ElemType: types.StringType}}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// kmsKeyARNRE is what StartSnapshot's KmsKeyArn takes: a key ARN, no
	// key ID or alias.
	kmsKeyARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]*:[0-9]{12}:key/.+$`)
	// kmsKeyRE is a KMS key ID (single- or multi-region), an alias, or the
	// ARN of either.
	kmsKeyRE = regexp.MustCompile(`^((arn:aws[a-z-]*:kms:[a-z0-9-]*:[0-9]{12}:)?(key/)?(mrk-)?[a-f0-9][a-f0-9-]+|(arn:aws[a-z-]*:kms:[a-z0-9-]*:[0-9]{12}:)?alias/[a-zA-Z0-9:/_-]+)$`)
)

func optString(desc string, v ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, MarkdownDescription: desc, Validators: v}
}

func optStrings(desc string, v ...validator.String) schema.ListAttribute {
	return schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: desc,
		Validators: []validator.List{listvalidator.ValueStringsAre(v...)}}
}

func optBool(desc string) schema.BoolAttribute {
	return schema.BoolAttribute{Optional: true, MarkdownDescription: desc}
}

func optTags(desc string) schema.MapAttribute {
	return schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: desc,
		Validators: []validator.Map{mapvalidator.SizeAtMost(44), mapvalidator.KeysAre(stringvalidator.LengthBetween(1, 128)),
			mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(256))}}
}

func accountIDs(desc string) schema.ListAttribute {
	return optStrings(desc, stringvalidator.RegexMatches(accountRE, "must be a 12-digit AWS account ID"))
}

func kmsKey() validator.String {
	return stringvalidator.RegexMatches(kmsKeyRE, "must be a KMS key ID, alias/NAME, or a key or alias ARN")
}

func awsImageBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Publish the disk as an AMI in each region (EBS direct APIs snapshot + RegisterImage). " +
			"Credentials and endpoints come from the provider's `aws` block. When `aws` is the only target " +
			"(no `disk` or `gcp` block) and `import_method` is `ebs-direct`, the disk is streamed into the snapshot " +
			"as it is built, in whole 512 KiB blocks: no disk file is written and no local space is needed for it.",
		Validators:    []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("regions"))},
		PlanModifiers: []planmodifier.Object{replaceObject()},
		Attributes:    awsImageAttributes(),
	}
}

func awsImageAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"regions": schema.ListAttribute{Optional: true, ElementType: types.StringType,
			Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(),
				listvalidator.ValueStringsAre(stringvalidator.RegexMatches(regionRE, "must be an AWS region name such as us-east-1"))},
			MarkdownDescription: "Regions to publish in (required); the first one builds the snapshot, the others get copies."},
		"name": optString("AMI name prefix (default `elemental`); the AMI is named `<name>-<id>`. Up to 115 letters, digits, "+
			"spaces and `( ) [ ] . / - ' @ _`.", stringvalidator.LengthBetween(1, 115),
			stringvalidator.RegexMatches(regexp.MustCompile(`^[a-zA-Z0-9()\[\] ./\-'@_]+$`), "may hold only letters, digits, spaces and ( ) [ ] . / - ' @ _")),
		"description": optString("AMI description.", stringvalidator.LengthAtMost(255)),
		"share_accounts": accountIDs("AWS account IDs given launch permission (`ami_users` in Packer, " +
			"`account_id` of `aws_ami_launch_permission`)."),
		"public": optBool("Make the AMI public (launch permission for the group `all`). Not with `encrypted`."),
		"organization_arns": optStrings("Organization ARNs given launch permission.",
			stringvalidator.RegexMatches(regexp.MustCompile(`^arn:aws[a-z-]*:organizations::`), "must be an organization ARN")),
		"organizational_unit_arns": optStrings("Organizational unit ARNs given launch permission.",
			stringvalidator.RegexMatches(regexp.MustCompile(`^arn:aws[a-z-]*:organizations::`), "must be an organizational unit ARN")),
		"snapshot_share_accounts": accountIDs("AWS account IDs given create-volume permission on the snapshots."),
		"snapshot_public":         optBool("Give everyone create-volume permission on the snapshots. Not with `encrypted`."),
		"tags": optTags("Tags on the AMIs, and on their snapshots unless `snapshot_tags` is set. At most 44 " +
			"(`elemental:*` provenance tags are added)."),
		"snapshot_tags": optTags("Tags on the snapshots (default: `tags`)."),
		"boot_mode": optString("Boot mode: `uefi` (default), `uefi-preferred` or `legacy-bios`. The last two (`uefi-preferred` "+
			"boots through BIOS on instance types without UEFI) need BIOS boot code in the disk's MBR, which the core's UEFI-only "+
			"disks lack, so publishing refuses them for such a disk.",
			stringvalidator.OneOf("uefi", "uefi-preferred", "legacy-bios")),
		"ena_support":       optBool("Enable enhanced networking (ENA). Default `true`."),
		"sriov_net_support": optString("`simple` enables SR-IOV (Intel 82599 VF) networking.", stringvalidator.OneOf("simple")),
		"imds_support": optString("`v2.0` to require IMDSv2 on instances launched from the AMI.",
			stringvalidator.OneOf("v2.0")),
		"tpm_support": optString("`v2.0` gives instances a NitroTPM; needs `boot_mode` `uefi`.", stringvalidator.OneOf("v2.0")),
		"uefi_data":   optString("Base64 UEFI variable store (Secure Boot keys); not with `boot_mode` `legacy-bios`.", base64Content()),
		"root_device_name": optString("Root device name (default `/dev/xvda`).",
			stringvalidator.RegexMatches(regexp.MustCompile(`^/dev/[a-z0-9]+$`), "must be a device such as /dev/xvda or /dev/sda1")),
		"volume_type": optString("Root volume type (default `gp3`).",
			stringvalidator.OneOf("standard", "gp2", "gp3", "io1", "io2", "sc1", "st1")),
		"volume_size": schema.Int64Attribute{Optional: true, Validators: []validator.Int64{int64validator.Between(1, 65536)},
			MarkdownDescription: "Root volume size in GiB (default: the disk size rounded up)."},
		"delete_on_termination": optBool("Delete the root volume when an instance launched from the AMI terminates. Default `true`."),
		"deprecate_at":          optString("RFC 3339 time at which the AMI is deprecated (`deprecation_time` of `aws_ami`).", rfc3339Time()),
		"deregistration_protection": schema.SingleNestedAttribute{Optional: true,
			MarkdownDescription: "Deregistration protection of the AMIs. Destroying the resource lifts it first.",
			Attributes: map[string]schema.Attribute{
				"enabled": optBool("Protect the AMIs from deregistration."),
				"with_cooldown": optBool("Keep the protection for 24 hours after it is lifted: destroying or replacing the " +
					"image then fails for 24 hours unless `retain_on_destroy` is set (a plan warning says so)."),
			}},
		"encrypted":  optBool("Encrypt the snapshots (copies too)."),
		"kms_key_id": optString("KMS key for encrypted snapshots (default: the account's EBS key); needs `encrypted`.", kmsKey()),
		"region_kms_key_ids": schema.MapAttribute{Optional: true, ElementType: types.StringType,
			Validators: []validator.Map{mapvalidator.ValueStringsAre(kmsKey())},
			MarkdownDescription: "Region → KMS key for the encrypted snapshot in that region (one of `regions`); needs `encrypted`. " +
				"The first region's entry wins over `kms_key_id` there (and must then be a key ARN with `ebs-direct`)."},
		"skip_save_build_region": optBool("Deregister the AMI in the first region once it is copied to the others."),
		"parent_snapshot_id": optString("A snapshot (for example the previous version's `aws_snapshot_ids` value) to upload over "+
			"incrementally: blocks equal to the parent's are not sent. The encryption must match the parent's. Needs `import_method` `ebs-direct`.",
			stringvalidator.RegexMatches(regexp.MustCompile(`^snap-`), "must be a snapshot id (snap-…)")),
		"import_method": optString("`ebs-direct` (default: EBS direct APIs, no bucket) or `s3-import` (upload to `s3_bucket`, then "+
			"ImportSnapshot, for accounts that forbid the EBS direct APIs; the object is deleted afterwards).",
			stringvalidator.OneOf(awspub.ImportEBSDirect, awspub.ImportS3)),
		"s3_bucket": optString("Bucket for `import_method` `s3-import`."),
		"upload_concurrency": schema.Int64Attribute{Optional: true, Validators: []validator.Int64{int64validator.Between(1, 1024)},
			MarkdownDescription: "Parallel block or part uploads (default 16)."},
		"request_timeout": optString("Deadline of each EBS direct block request (PutSnapshotBlock, and GetSnapshotBlock "+
			"against `parent_snapshot_id`), such as `5m`: a stalled request is abandoned and retried. Default `2m`.",
			durationString(time.Nanosecond, 0, 0, "a positive duration such as 5m")),
		"snapshot_timeout": optString("How long the `ebs-direct` snapshot may wait for its next block or its completion "+
			"before EBS cancels it (StartSnapshot's `Timeout`), such as `3h`: whole minutes from `10m` to `72h`. Default `2h`.",
			durationString(10*time.Minute, 72*time.Hour, time.Minute, "whole minutes from 10m to 72h")),
	}
}

func gcpImageBlock() schema.SingleNestedBlock {
	rfc := func(desc string) schema.StringAttribute { return optString(desc, rfc3339Time()) }
	return schema.SingleNestedBlock{
		MarkdownDescription: "Publish the disk as a Compute Engine image (upload to Cloud Storage + images.insert). " +
			"Credentials and endpoints come from the provider's `gcp` block.",
		Validators:    []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("bucket"))},
		PlanModifiers: []planmodifier.Object{replaceObject()},
		Attributes: map[string]schema.Attribute{
			"project":     optString("Project (default: the provider's)."),
			"bucket":      schema.StringAttribute{Optional: true, MarkdownDescription: "Bucket the disk tarball is uploaded to, deleted after the import unless `skip_clean` (required)."},
			"object_name": optString("Object name of the tarball (default `<image name>.tar.gz`)."),
			"skip_clean":  optBool("Keep the tarball in the bucket after the image is created."),
			"image_name":  optString("Image name prefix (default `elemental`); the image is named `<image_name>-<id>`."),
			"family":      optString("Image family."),
			"description": optString("Image description."),
			"labels": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Labels on the image."},
			"guest_os_features": optStrings("Guest OS features (default `UEFI_COMPATIBLE`; an empty list sets none), e.g. `GVNIC`, `SECURE_BOOT`.",
				stringvalidator.RegexMatches(regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`), "must be a feature type such as UEFI_COMPATIBLE")),
			"storage_locations": optStrings("Cloud Storage locations of the image (a region or multi-region).",
				stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z][a-z0-9-]*$`), "must be a lower-case region or multi-region such as eu")),
			"licenses": optStrings("Licenses to attach (`projects/P/global/licenses/L`).",
				stringvalidator.RegexMatches(regexp.MustCompile(`(^|/)projects/[^/]+/global/licenses/[^/]+$`), "must be projects/PROJECT/global/licenses/NAME")),
			"shielded_instance_initial_state": schema.SingleNestedAttribute{Optional: true,
				MarkdownDescription: "Secure Boot variables of the image. Each value is a PEM certificate or base64 content " +
					"(e.g. `filebase64(\"db.der\")`: a DER certificate or an EFI signature list).",
				Attributes: map[string]schema.Attribute{
					"pk":   optString("Platform key.", pemOrBase64Content()),
					"keks": optStrings("Key exchange keys.", pemOrBase64Content()),
					"dbs":  optStrings("Signature database entries.", pemOrBase64Content()),
					"dbxs": optStrings("Forbidden signature database entries.", pemOrBase64Content()),
				}},
			"deprecate_at": rfc("RFC 3339 time at which the image is marked DEPRECATED."),
			"obsolete_at":  rfc("RFC 3339 time at which the image is marked OBSOLETE (not before `deprecate_at`)."),
			"delete_at":    rfc("RFC 3339 time at which the image is marked DELETED (not before `obsolete_at`)."),
			"compression_level": schema.Int64Attribute{Optional: true, Validators: []validator.Int64{int64validator.Between(1, 9)},
				MarkdownDescription: "Deflate level of the tarball, 1 (fastest) to 9 (smallest). Default 6."},
			"upload_chunk_size": optString("Size of each resumable upload request, e.g. `64MiB`: a multiple of 256 KiB up to 1 GiB, "+
				"and the memory the upload buffers. Default `16MiB`.", chunkSizeString()),
		},
	}
}
