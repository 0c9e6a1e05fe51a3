//go:generate packer-sdc struct-markdown ../../.sdc/packer-plugin-elemental/builder/ami/config.go
//go:generate packer-sdc mapstructure-to-hcl2 -type Config,AccessConfig,AssumeRoleConfig,DeregistrationProtection,RootDevice

package ami

import (
	"github.com/hashicorp/packer-plugin-sdk/common"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// Config is the `elemental-aws` builder's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	diskbuild.Config    `mapstructure:",squash"`
	AccessConfig        `mapstructure:",squash"`

	// The name of the AMI, 3 to 128 characters. Required. Template
	// functions such as `{{timestamp}}` work, as in packer-plugin-amazon.
	AMIName string `mapstructure:"ami_name" required:"true"`
	// The AMI's description, at most 255 characters.
	AMIDescription string `mapstructure:"ami_description" required:"false"`
	// Regions to copy the AMI to, besides the build region.
	AMIRegions []string `mapstructure:"ami_regions" required:"false"`
	// Account IDs allowed to launch the AMI.
	AMIUsers []string `mapstructure:"ami_users" required:"false"`
	// Groups allowed to launch the AMI; `all` makes it public.
	AMIGroups []string `mapstructure:"ami_groups" required:"false"`
	// Organization ARNs allowed to launch the AMI.
	AMIOrgArns []string `mapstructure:"ami_org_arns" required:"false"`
	// Organizational unit ARNs allowed to launch the AMI.
	AMIOuArns []string `mapstructure:"ami_ou_arns" required:"false"`
	// Account IDs allowed to create volumes from the AMI's snapshots.
	SnapshotUsers []string `mapstructure:"snapshot_users" required:"false"`
	// Groups allowed to create volumes from the snapshots (`all`).
	SnapshotGroups []string `mapstructure:"snapshot_groups" required:"false"`
	// Key/value tags on the AMIs. The source, its digest, the generation
	// and the kernel version are added as `elemental:*` provenance tags,
	// which replace tags of the same key (a warning says so).
	// At most 44 tags (AWS allows 50 per resource; the build adds 6); keys
	// up to 128 characters and not starting with `aws:`, values up to 256.
	Tags map[string]string `mapstructure:"tags" required:"false"`
	// Same as [`tags`](#tags) but as a repeatable block with a `key` and a
	// `value` field, as in packer-plugin-amazon; in HCL2 a
	// [`dynamic` block](/packer/docs/templates/hcl_templates/expressions#dynamic-blocks)
	// builds them from a collection. The blocks are merged into `tags`: a
	// block's value wins over the map's for the same key (a warning says
	// so), and a later block over an earlier one.
	Tag config.KeyValues `mapstructure:"tag" required:"false"`
	// Key/value tags on the snapshots, with the limits of `tags`; the
	// provenance tags are added here too.
	SnapshotTags map[string]string `mapstructure:"snapshot_tags" required:"false"`
	// Same as [`snapshot_tags`](#snapshot_tags) but as a repeatable block
	// with a `key` and a `value` field, merged into `snapshot_tags` as `tag`
	// blocks are into `tags`.
	SnapshotTag config.KeyValues `mapstructure:"snapshot_tag" required:"false"`
	// Encrypt the snapshots (copies in other regions too). Default false.
	EncryptBoot bool `mapstructure:"encrypt_boot" required:"false"`
	// KMS key for encrypt_boot (default: the account's EBS default key).
	// With `import_method = "ebs-direct"` (the default) it must be a key
	// ARN, `arn:aws:kms:REGION:ACCOUNT:key/ID`, as StartSnapshot takes no
	// key ID or alias; `s3-import` also takes a key ID, an alias or an
	// alias ARN.
	KMSKeyID string `mapstructure:"kms_key_id" required:"false"`
	// KMS keys per region, for encrypted copies; any form `kms_key_id`
	// takes. The build region's entry wins over `kms_key_id` there (and
	// must then be a key ARN with `ebs-direct`).
	RegionKMSKeyIDs map[string]string `mapstructure:"region_kms_key_ids" required:"false"`
	// `uefi` (default), `uefi-preferred` or `legacy-bios`. Elemental disks
	// boot through shim and GRUB on UEFI; the other two modes (uefi-preferred
	// falls back to BIOS on instance types without UEFI) need BIOS boot code
	// in the disk's MBR, which the core's UEFI-only disks lack, so the
	// publish refuses them for such a disk.
	BootMode string `mapstructure:"boot_mode" required:"false"`
	// Enable enhanced networking (ENA). Default true.
	ENASupport config.Trilean `mapstructure:"ena_support" required:"false"`
	// Enable SR-IOV networking (`sriovNetSupport = simple`). Default false.
	SriovSupport bool `mapstructure:"sriov_support" required:"false"`
	// `v2.0` makes instances launched from the AMI require IMDSv2.
	IMDSSupport string `mapstructure:"imds_support" required:"false"`
	// `v2.0` gives instances an NitroTPM; needs `boot_mode = "uefi"`.
	TPMSupport string `mapstructure:"tpm_support" required:"false"`
	// Base64 UEFI variable store (from `python3 uefivars.py`), for Secure
	// Boot keys.
	UEFIData string `mapstructure:"uefi_data" required:"false"`
	// The AMI's root device: its name, and the volume type, size and
	// deletion of the volumes instances launched from it get, as
	// packer-plugin-amazon's `ami_root_device` (the snapshot is always
	// the disk built here).
	AMIRootDevice RootDevice `mapstructure:"ami_root_device" required:"false"`
	// RFC 3339 time at which the AMIs are deprecated, for example
	// `2027-01-01T00:00:00Z`.
	DeprecateAt string `mapstructure:"deprecate_at" required:"false"`
	// Deregistration protection of the AMIs.
	DeregistrationProtection DeregistrationProtection `mapstructure:"deregistration_protection" required:"false"`
	// Deregister an existing AMI of the same name first. Packer's `-force`
	// sets it.
	AMIForceDeregister bool `mapstructure:"force_deregister" required:"false"`
	// With force_deregister, also delete the old AMI's snapshots.
	AMIForceDeleteSnapshot bool `mapstructure:"force_delete_snapshot" required:"false"`
	// Deregister the build-region AMI once it is copied to `ami_regions`.
	AMISkipBuildRegion bool `mapstructure:"skip_save_build_region" required:"false"`
	// Parallel block (or multipart part) uploads. Default 16.
	UploadConcurrency int `mapstructure:"upload_concurrency" required:"false"`
	// Deadline of each EBS direct block request (PutSnapshotBlock, and
	// GetSnapshotBlock against `parent_snapshot_id`), such as `5m`: a
	// stalled request is abandoned and retried. Default `2m`.
	RequestTimeout string `mapstructure:"request_timeout" required:"false"`
	// How long the `ebs-direct` snapshot may wait for its next block or
	// its completion before EBS cancels it (StartSnapshot's Timeout), such
	// as `3h`: whole minutes from `10m` to `72h`. Default `2h`.
	SnapshotTimeout string `mapstructure:"snapshot_timeout" required:"false"`
	// A snapshot (`snap-…`, for example the previous version's) to upload
	// over incrementally with `ebs-direct`: blocks equal to the parent's
	// are not sent (compared by checksum), blocks the parent holds and the
	// disk does not are written as zeros. The encryption must match the
	// parent's.
	ParentSnapshotID string `mapstructure:"parent_snapshot_id" required:"false"`
	// `ebs-direct` (default: the disk is streamed, block by block as the
	// core writes it, straight into a snapshot through the EBS direct APIs;
	// no disk file is written and no bucket or vmimport role is needed) or
	// `s3-import` (the raw disk is written to a temporary directory,
	// uploaded to `s3_bucket`, then imported with ImportSnapshot).
	ImportMethod string `mapstructure:"import_method" required:"false"`
	// Bucket for `import_method = "s3-import"`; the object is deleted
	// after the import.
	S3Bucket string `mapstructure:"s3_bucket" required:"false"`

	ctx interpolate.Context
}

// RootDevice is the `ami_root_device` block: the root volume of instances
// launched from the AMI.
type RootDevice struct {
	// Device name, `/dev/xvda` by default.
	DeviceName string `mapstructure:"device_name" required:"false"`
	// Volume type: `gp3` (default), `gp2`, `io1`, `io2`, `st1`, `sc1` or
	// `standard`.
	VolumeType string `mapstructure:"volume_type" required:"false"`
	// Volume size in GiB, at least the disk size (default: the disk size
	// rounded up to GiB).
	VolumeSize int64 `mapstructure:"volume_size" required:"false"`
	// Delete the volume when the instance terminates. Default true (unlike
	// packer-plugin-amazon, whose default is false): a published OS image
	// should not leave a volume behind per terminated instance.
	DeleteOnTermination config.Trilean `mapstructure:"delete_on_termination" required:"false"`
}

// DeregistrationProtection is packer-plugin-amazon's
// `deregistration_protection` block: it keeps the AMIs from being
// deregistered until the protection is lifted.
type DeregistrationProtection struct {
	// Protect the AMIs from deregistration.
	Enabled bool `mapstructure:"enabled" required:"false"`
	// Keep the protection for 24 hours after it is lifted.
	WithCooldown bool `mapstructure:"with_cooldown" required:"false"`
}
