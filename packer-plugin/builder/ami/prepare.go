package ami

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// prepared is what Prepare hands to Run.
type prepared struct {
	disk installer.Spec
	ami  publishaws.Spec
}

// prepare decodes raws and maps them onto the disk and AMI specs,
// reporting every problem at once.
func (c *Config) prepare(raws ...any) (prepared, []string, error) {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType: BuilderID, Interpolate: true, InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return prepared{}, nil, err
	}
	c.Config.FilterSecrets()
	c.AccessConfig.filterSecrets()
	disk, errs := c.Config.Spec()
	disk.Formats = []diskformat.Format{diskformat.Raw}
	disk.Name = "disk"
	disk.OutputDir = os.TempDir() // only to validate; Run uses a work directory
	errs = append(errs, diskbuild.Validate(disk, nil)...)
	disk.OutputDir = ""
	errs = append(errs, c.AccessConfig.validate()...)
	tagWarns, tagErrs := c.mergeTags()
	errs = append(errs, tagErrs...)
	spec, amiErrs := c.amiSpec()
	errs = append(errs, amiErrs...)
	errs = append(errs, c.validate()...)
	warns := append(c.Config.Warnings(), tagWarns...)
	if slices.Contains(c.AMIGroups, "all") {
		warns = append(warns, "ami_groups contains all: the AMI will be public")
	}
	return prepared{disk: disk, ami: spec}, warns, diskbuild.MultiError(errs)
}

// amiSpec maps the amazon-named fields onto publish/aws.Spec; validate
// checks them.
func (c *Config) amiSpec() (publishaws.Spec, []error) {
	var errs []error
	s := publishaws.Spec{
		Region: c.Region, Name: c.AMIName, Description: c.AMIDescription,
		Architecture: "x86_64", BootMode: c.BootMode,
		ENASupport: c.ENASupport.ToBoolPointer(), SriovSupport: &c.SriovSupport,
		IMDSSupport: c.IMDSSupport, TPMSupport: c.TPMSupport, UEFIData: c.UEFIData,
		Encrypted: c.EncryptBoot, KMSKeyID: c.buildRegionKey(),
		Regions: c.AMIRegions, RegionKMSKeyIDs: c.RegionKMSKeyIDs, SkipSaveBuildRegion: c.AMISkipBuildRegion,
		LaunchUsers: c.AMIUsers, LaunchGroups: c.AMIGroups, OrgARNs: c.AMIOrgArns, OUARNs: c.AMIOuArns,
		SnapshotUsers: c.SnapshotUsers, SnapshotGroups: c.SnapshotGroups,
		Tags: c.Tags, SnapshotTags: c.SnapshotTags,
		DeregistrationProtection: c.DeregistrationProtection.Enabled,
		ProtectionCooldown:       c.DeregistrationProtection.WithCooldown,
		ForceDeregister:          c.AMIForceDeregister || c.PackerForce,
		ForceDeleteSnapshot:      c.AMIForceDeleteSnapshot,
		ImportMethod:             c.ImportMethod, S3Bucket: c.S3Bucket, UploadConcurrency: c.UploadConcurrency,
		ParentSnapshotID: c.ParentSnapshotID,
		RootDeviceName:   c.AMIRootDevice.DeviceName, VolumeType: c.AMIRootDevice.VolumeType,
		VolumeSizeGiB:       int32(c.AMIRootDevice.VolumeSize),
		DeleteOnTermination: c.AMIRootDevice.DeleteOnTermination != config.TriFalse,
	}
	if c.Platform == "linux/arm64" {
		s.Architecture = "arm64"
	}
	s.RequestTimeout, _ = parseTimeout(c.RequestTimeout) // validate reports errors
	s.SnapshotTimeout, _ = parseTimeout(c.SnapshotTimeout)
	if c.DeprecateAt != "" {
		t, err := time.Parse(time.RFC3339, c.DeprecateAt)
		if err != nil {
			errs = append(errs, fmt.Errorf("deprecate_at %q: want an RFC 3339 time such as 2027-01-01T00:00:00Z", c.DeprecateAt))
		}
		s.DeprecateAt = t
	}
	return s, errs
}
