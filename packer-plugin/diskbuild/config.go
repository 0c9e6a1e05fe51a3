//go:generate packer-sdc struct-markdown ../.sdc/packer-plugin-elemental/diskbuild/config.go
//go:generate packer-sdc mapstructure-to-hcl2 -type Config,PartitionSizes,Recovery

package diskbuild

import (
	"fmt"
	"os"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
)

// Config says which derivative to build and how its disk is laid out. The
// three builders squash it into their own configuration.
type Config struct {
	// The Elemental derivative to install: a registry reference
	// (`registry.example.com/os/derivative:v1.2`), `oci-layout:DIR[:TAG]` or
	// `docker-archive:FILE[:REF]`.
	SourceImage string `mapstructure:"source_image" required:"true"`
	// The platform of the image to pick from a multi-platform index:
	// `linux/amd64` (default) or `linux/arm64`.
	Platform string `mapstructure:"platform" required:"false"`
	// User name for the registry. When neither this nor `registry_password`
	// is set, the Docker config (`~/.docker/config.json`) and its credential
	// helpers are used.
	RegistryUsername string `mapstructure:"registry_username" required:"false"`
	// Password or token for the registry. It is kept out of Packer's logs.
	RegistryPassword string `mapstructure:"registry_password" required:"false"`
	// Talk plain HTTP to the registry (a local test registry). Default false.
	RegistryInsecure bool `mapstructure:"registry_insecure" required:"false"`
	// Path to a cosign public key (PEM, the `cosign.pub` that `cosign
	// generate-key-pair` writes). When set, the build refuses a
	// `source_image` without a valid cosign signature by this key, looked
	// up beside the image (tag `sha256-<digest>.sig` in the same repository
	// or layout), before anything is written. `docker-archive:` sources
	// cannot be verified.
	CosignPublicKeyFile string `mapstructure:"cosign_public_key_file" required:"false"`
	// The toolkit generation the derivative follows: `auto` (default, detect
	// it from the image), `v1` (cOS / elemental-toolkit 1.x layout) or `v2`.
	Generation string `mapstructure:"generation" required:"false"`
	// Total disk size. A whole number is MiB; a suffix K, M, G or T (powers
	// of 1024) sets the unit, as in `"8G"` or `"20480M"`. Default: just
	// large enough for the partitions; the disk grows to the real device on
	// first boot unless `no_grow` is set.
	DiskSize string `mapstructure:"disk_size" required:"false"`
	// Partition sizes; every unset size is computed from the image.
	PartitionSizes PartitionSizes `mapstructure:"partition_sizes" required:"false"`
	// How the recovery system is stored.
	Recovery Recovery `mapstructure:"recovery" required:"false"`
	// Inline cloud-config (a YAML mapping, as yip reads it) written to the
	// OEM partition as `90_custom.yaml`.
	CloudConfig string `mapstructure:"cloud_config" required:"false"`
	// Cloud-config files copied to the OEM partition after `cloud_config`,
	// as `91_custom.yaml`, `92_custom.yaml`, … in the order given.
	CloudConfigFiles []string `mapstructure:"cloud_config_files" required:"false"`
	// Boot menu entry name when the image's os-release has no
	// `GRUB_ENTRY_NAME`. Default `Elemental`.
	GrubEntryName string `mapstructure:"grub_entry_name" required:"false"`
	// Leave out the OEM cloud-config that grows the last partition to the
	// real disk size on first boot. Default false.
	NoGrow bool `mapstructure:"no_grow" required:"false"`
	// Timestamp (Unix seconds) of everything the build creates, for
	// reproducible disks. Default: `SOURCE_DATE_EPOCH` from the environment,
	// otherwise the image's creation time.
	SourceDateEpoch int64 `mapstructure:"source_date_epoch" required:"false"`
	// Directory that keeps the compressed layers of a remote image between
	// the two passes over it. Default: a temporary directory removed after
	// the build.
	CacheDir string `mapstructure:"cache_dir" required:"false"`
}

// PartitionSizes is the `partition_sizes` block: it sets the size of single
// partitions. Each takes the units of `disk_size`; an unset size is
// computed from the image.
type PartitionSizes struct {
	// EFI system partition.
	EFI string `mapstructure:"efi" required:"false"`
	// OEM partition (cloud-config).
	OEM string `mapstructure:"oem" required:"false"`
	// Recovery partition.
	Recovery string `mapstructure:"recovery" required:"false"`
	// State partition (active and passive systems).
	State string `mapstructure:"state" required:"false"`
	// Persistent partition. When the disk size is set, the persistent
	// partition takes what is left.
	Persistent string `mapstructure:"persistent" required:"false"`
}

// Recovery is the `recovery` block: how the recovery system image is
// written. The recovery partition boots it to reset or repair the
// installed system.
type Recovery struct {
	// `squashfs` (default) or `ext2`.
	Filesystem string `mapstructure:"filesystem" required:"false"`
	// Compression of a squashfs recovery image: `gzip` (default) or `xz`;
	// GRUB reads only these.
	SquashfsCompression string `mapstructure:"squashfs_compression" required:"false"`
}

// FilterSecrets keeps the registry password out of Packer's logs and UI.
func (c *Config) FilterSecrets() {
	if c.RegistryPassword != "" {
		packersdk.LogSecretFilter.Set(c.RegistryPassword)
	}
}

// Spec maps the configuration onto an installer.Spec. Problems of this
// mapping (units, generation names, unreadable files) are returned all at
// once, each naming its field; the caller adds Spec.Validate() for the rest.
func (c *Config) Spec() (installer.Spec, []error) {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	spec := installer.Spec{
		Source: c.SourceImage, Platform: c.Platform,
		Username: c.RegistryUsername, Password: c.RegistryPassword, Insecure: c.RegistryInsecure,
		RecoveryFS: c.Recovery.Filesystem, SquashfsCompression: c.Recovery.SquashfsCompression,
		GrubEntryName: c.GrubEntryName, NoGrow: c.NoGrow,
		SourceDateEpoch: c.SourceDateEpoch, CacheDir: c.CacheDir,
	}
	g, err := inspect.ParseGeneration(c.Generation)
	if err != nil {
		add("generation %q: want auto, v1 or v2", c.Generation)
	}
	spec.Generation = g
	size := func(field, v string) int64 {
		n, err := ParseSize(v)
		if err != nil {
			add("%s: %v", field, err)
		}
		return n
	}
	spec.DiskSize = size("disk_size", c.DiskSize)
	p := c.PartitionSizes
	spec.Sizes = installer.Sizes{
		EFI: size("partition_sizes.efi", p.EFI), OEM: size("partition_sizes.oem", p.OEM),
		Recovery: size("partition_sizes.recovery", p.Recovery), State: size("partition_sizes.state", p.State),
		Persistent: size("partition_sizes.persistent", p.Persistent),
	}
	if c.CloudConfig != "" {
		spec.CloudConfigs = append(spec.CloudConfigs, installer.CloudConfig{Origin: "cloud_config", Data: []byte(c.CloudConfig)})
	}
	if c.CosignPublicKeyFile != "" {
		if key, err := os.ReadFile(c.CosignPublicKeyFile); err != nil {
			add("cosign_public_key_file: %w", err)
		} else {
			spec.Verify = &installer.Verification{PublicKey: key, KeyOrigin: "cosign_public_key_file " + c.CosignPublicKeyFile}
		}
	}
	for i, f := range c.CloudConfigFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			add("cloud_config_files[%d]: %w", i, err)
			continue
		}
		spec.CloudConfigs = append(spec.CloudConfigs, installer.CloudConfig{Origin: fmt.Sprintf("cloud_config_files[%d] %s", i, f), Data: data})
	}
	return spec, errs
}

// Warnings lists settings that are valid but probably not what was meant.
func (c *Config) Warnings() []string {
	var w []string
	if c.RegistryUsername == "" && c.RegistryPassword != "" {
		w = append(w, "registry_password is ignored without registry_username (the Docker config is used)")
	}
	if c.RegistryUsername != "" && c.RegistryPassword == "" {
		w = append(w, "registry_username without registry_password: an empty password is sent")
	}
	if c.NoGrow && c.DiskSize == "" {
		w = append(w, "no_grow without disk_size: the disk is only as large as its partitions and the persistent partition never grows")
	}
	return w
}

// MultiError gathers errs into the SDK's MultiError, or returns nil.
func MultiError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var m *packersdk.MultiError
	for _, e := range errs {
		m = packersdk.MultiErrorAppend(m, e)
	}
	return m
}
