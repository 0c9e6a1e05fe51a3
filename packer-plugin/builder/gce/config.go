//go:generate packer-sdc struct-markdown ../../.sdc/packer-plugin-elemental/builder/gce/config.go
//go:generate packer-sdc mapstructure-to-hcl2 -type Config

package gce

import (
	"github.com/hashicorp/packer-plugin-sdk/common"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// Config is the `elemental-gcp` builder's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	diskbuild.Config    `mapstructure:",squash"`

	// The project the image is created in.
	ProjectID string `mapstructure:"project_id" required:"true"`
	// The bucket the `disk.raw` archive is uploaded to.
	Bucket string `mapstructure:"bucket" required:"true"`
	// Object name of the archive. Default `<image_name>.tar.gz`.
	GCSObjectName string `mapstructure:"gcs_object_name" required:"false"`
	// Name of the image: 1 to 63 of `[a-z0-9-]`, starting with a letter.
	ImageName string `mapstructure:"image_name" required:"true"`
	// Image family.
	ImageFamily string `mapstructure:"image_family" required:"false"`
	// Image description.
	ImageDescription string `mapstructure:"image_description" required:"false"`
	// Image labels. The source digest and generation are added.
	ImageLabels map[string]string `mapstructure:"image_labels" required:"false"`
	// Guest OS features. Default `["UEFI_COMPATIBLE"]`; add `GVNIC`,
	// `SECURE_BOOT` as the derivative supports them.
	ImageGuestOsFeatures []string `mapstructure:"image_guest_os_features" required:"false"`
	// Storage locations of the image (a region or multi-region).
	ImageStorageLocations []string `mapstructure:"image_storage_locations" required:"false"`
	// `X86_64` or `ARM64`. Default from `platform`.
	ImageArchitecture string `mapstructure:"image_architecture" required:"false"`
	// Licenses to attach (`projects/P/global/licenses/L`).
	ImageLicenses []string `mapstructure:"image_licenses" required:"false"`
	// Secure Boot platform key file (PEM or DER certificate, or raw).
	ImagePlatformKey string `mapstructure:"image_platform_key" required:"false"`
	// Secure Boot key exchange key files.
	ImageKeyExchangeKey []string `mapstructure:"image_key_exchange_key" required:"false"`
	// Secure Boot signature database files.
	ImageSignaturesDB []string `mapstructure:"image_signatures_db" required:"false"`
	// Secure Boot forbidden signature database files.
	ImageForbiddenSignaturesDB []string `mapstructure:"image_forbidden_signatures_db" required:"false"`
	// RFC 3339 time at which the image is deprecated.
	DeprecateAt string `mapstructure:"deprecate_at" required:"false"`
	// RFC 3339 time at which the image becomes obsolete.
	ObsoleteAt string `mapstructure:"obsolete_at" required:"false"`
	// RFC 3339 time at which the image is marked deleted.
	DeleteAt string `mapstructure:"delete_at" required:"false"`
	// Keep the archive in the bucket after the image is created.
	SkipClean bool `mapstructure:"skip_clean" required:"false"`
	// Deflate level of the `disk.raw` archive, 1 (fastest) to 9 (smallest),
	// as the compress post-processor's `compression_level`. Default 6.
	CompressionLevel int `mapstructure:"compression_level" required:"false"`
	// Size of each resumable upload request, for example `64MiB`: a
	// multiple of 256 KiB, and the memory the upload buffers. Default
	// `16MiB`.
	UploadChunkSize string `mapstructure:"upload_chunk_size" required:"false"`

	// Service account key or other credentials file (default: Application
	// Default Credentials).
	CredentialsFile string `mapstructure:"credentials_file" required:"false"`
	// Credentials JSON itself. Kept out of the logs.
	CredentialsJSON string `mapstructure:"credentials_json" required:"false"`
	// Older name of credentials_file.
	AccountFile string `mapstructure:"account_file" required:"false"`
	// Service account to impersonate.
	ImpersonateServiceAccount string `mapstructure:"impersonate_service_account" required:"false"`
	// Compute API endpoint (an emulator or private endpoint). Defaults to
	// `GOOGLE_COMPUTE_CUSTOM_ENDPOINT`, as in terraform-provider-google.
	ComputeEndpoint string `mapstructure:"compute_endpoint" required:"false"`
	// Cloud Storage endpoint; `STORAGE_EMULATOR_HOST` also works.
	StorageEndpoint string `mapstructure:"storage_endpoint" required:"false"`
	// Send no credentials (emulators only).
	SkipAuthentication bool `mapstructure:"skip_authentication" required:"false"`

	ctx interpolate.Context
}
