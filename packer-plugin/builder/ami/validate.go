package ami

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	publishaws "github.com/elemental-suite/elemental/internal/publish/aws"
)

var (
	// amiNameRE is what EC2 accepts in an AMI name.
	amiNameRE = regexp.MustCompile(`^[a-zA-Z0-9()\[\] ./\-'@_]+$`)
	// accountRE is an AWS account ID.
	deviceRE  = regexp.MustCompile(`^/dev/[a-z0-9]+$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	// kmsKeyRE is a KMS key ID (single- or multi-region), an alias, or the
	// ARN of either, as CopyImage and CreateVolume take them.
	// kmsKeyARNRE is what StartSnapshot's KmsKeyArn takes: a key ARN, no
	// key ID or alias.
	kmsKeyARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]*:[0-9]{12}:key/.+$`)
	// regionRE is the form of an AWS region name.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	kmsKeyRE = regexp.MustCompile(`^((arn:aws[a-z-]*:kms:[a-z0-9-]*:[0-9]{12}:)?(key/)?(mrk-)?[a-f0-9][a-f0-9-]+|(arn:aws[a-z-]*:kms:[a-z0-9-]*:[0-9]{12}:)?alias/[a-zA-Z0-9:/_-]+)$`)
)

// unknown is how `packer validate` passes values it cannot know yet (data
// source outputs); names holding it are checked when the build runs.
const unknown = "<unknown>"

// validate checks the AMI fields as EC2 and the publisher will, returning
// every problem, each naming its field.
func (c *Config) validate() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if n := len(c.AMIName); n < 3 || n > 128 {
		add("ami_name: required, 3 to 128 characters (got %d)", n)
	} else if !strings.Contains(c.AMIName, unknown) && !amiNameRE.MatchString(c.AMIName) {
		add("ami_name %q: only letters, digits, spaces and ( ) [ ] . / - ' @ _ are allowed (the clean_resource_name template function removes the others)", c.AMIName)
	}
	if n := utf8.RuneCountInString(c.AMIDescription); n > 255 {
		add("ami_description: %d characters, at most 255", n)
	}
	oneOf := func(field, v string, allowed ...string) {
		if v != "" && !slices.Contains(allowed, v) {
			add("%s %q: want one of %v", field, v, allowed)
		}
	}
	oneOf("boot_mode", c.BootMode, "uefi", "uefi-preferred", "legacy-bios")
	oneOf("imds_support", c.IMDSSupport, "v2.0")
	oneOf("tpm_support", c.TPMSupport, "v2.0")
	rd := c.AMIRootDevice
	oneOf("ami_root_device.volume_type", rd.VolumeType, "standard", "gp2", "gp3", "io1", "io2", "sc1", "st1")
	if rd.DeviceName != "" && !deviceRE.MatchString(rd.DeviceName) {
		add("ami_root_device.device_name %q: want a device such as /dev/xvda or /dev/sda1", rd.DeviceName)
	}
	if rd.VolumeSize < 0 || rd.VolumeSize > 65536 {
		add("ami_root_device.volume_size: %d GiB is not between 1 and 65536", rd.VolumeSize)
	}
	oneOf("import_method", c.ImportMethod, publishaws.ImportEBSDirect, publishaws.ImportS3)
	if p := c.ParentSnapshotID; p != "" && !strings.HasPrefix(p, "snap-") && !strings.Contains(p, unknown) {
		add("parent_snapshot_id %q: want a snapshot id (snap-…)", p)
	}
	if c.ParentSnapshotID != "" && c.ImportMethod == publishaws.ImportS3 {
		add("parent_snapshot_id: needs import_method ebs-direct (ImportSnapshot has no parent)")
	}
	if c.TPMSupport != "" && c.BootMode != "" && c.BootMode != "uefi" {
		add("tpm_support: needs boot_mode uefi, not %s", c.BootMode)
	}
	if c.UEFIData != "" {
		if _, err := base64.StdEncoding.DecodeString(c.UEFIData); err != nil {
			add("uefi_data: not base64 (%v)", err)
		}
		if c.BootMode == "legacy-bios" {
			add("uefi_data: needs boot_mode uefi or uefi-preferred, not legacy-bios")
		}
	}
	if !c.SkipRegionValidation {
		if c.Region != "" && !regionRE.MatchString(c.Region) && !strings.Contains(c.Region, unknown) {
			add("region %q: not an AWS region name such as us-east-1 (skip_region_validation turns this check off)", c.Region)
		}
		for i, r := range c.AMIRegions {
			if !regionRE.MatchString(r) && !strings.Contains(r, unknown) {
				add("ami_regions[%d] %q: not an AWS region name such as eu-west-1 (skip_region_validation turns this check off)", i, r)
			}
		}
	}
	if c.AMISkipBuildRegion && len(c.AMIRegions) == 0 {
		add("skip_save_build_region: needs ami_regions to copy to")
	}
	if c.ImportMethod == publishaws.ImportS3 && c.S3Bucket == "" {
		add("s3_bucket: required with import_method = %q", publishaws.ImportS3)
	}
	if c.UploadConcurrency < 0 {
		add("upload_concurrency: %d is negative", c.UploadConcurrency)
	}
	if c.AMIForceDeleteSnapshot && !c.AMIForceDeregister && !c.PackerForce {
		add("force_delete_snapshot: needs force_deregister = true (or packer build -force)")
	}
	errs = append(errs, c.validateTimeouts()...)
	errs = append(errs, c.validateEncryption()...)
	return append(errs, c.validateSharing()...)
}

// validateEncryption checks kms_key_id and region_kms_key_ids.
func (c *Config) validateEncryption() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.KMSKeyID != "" {
		if !c.EncryptBoot {
			add("kms_key_id: needs encrypt_boot = true")
		}
		if !kmsKeyRE.MatchString(c.KMSKeyID) {
			add("kms_key_id %q: want a key ID, alias/NAME or a key or alias ARN", c.KMSKeyID)
		}
	}
	if k := c.buildRegionKey(); k != "" && c.ImportMethod != publishaws.ImportS3 && kmsKeyRE.MatchString(k) &&
		!kmsKeyARNRE.MatchString(k) && !strings.Contains(k, unknown) {
		field := "kms_key_id"
		if k != c.KMSKeyID {
			field = fmt.Sprintf("region_kms_key_ids[%q]", c.Region)
		}
		add("%s %q: the ebs-direct import (StartSnapshot) needs a key ARN, arn:aws:kms:REGION:ACCOUNT:key/ID", field, k)
	}
	for _, r := range sortedKeys(c.RegionKMSKeyIDs) {
		k := c.RegionKMSKeyIDs[r]
		if r != c.Region && !slices.Contains(c.AMIRegions, r) {
			add("region_kms_key_ids: %s is neither region nor in ami_regions", r)
		}
		if k == "" {
			continue
		}
		if !c.EncryptBoot {
			add("region_kms_key_ids[%q]: needs encrypt_boot = true", r)
		}
		if !kmsKeyRE.MatchString(k) {
			add("region_kms_key_ids[%q] %q: want a key ID, alias/NAME or a key or alias ARN", r, k)
		}
	}
	return errs
}

// validateSharing checks the account lists and groups, and that nothing
// encrypted with an account's default key (which cannot be shared) is
// shared.
func (c *Config) validateSharing() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, l := range []struct {
		field string
		ids   []string
	}{{"ami_users", c.AMIUsers}, {"snapshot_users", c.SnapshotUsers}} {
		for i, id := range l.ids {
			if !accountRE.MatchString(id) {
				add("%s[%d] %q: want a 12-digit AWS account ID", l.field, i, id)
			}
		}
	}
	for _, l := range []struct {
		field  string
		groups []string
	}{{"ami_groups", c.AMIGroups}, {"snapshot_groups", c.SnapshotGroups}} {
		for i, g := range l.groups {
			if g != "all" {
				add("%s[%d] %q: the only group is all", l.field, i, g)
			}
		}
	}
	shared := ""
	for _, f := range []struct {
		field string
		n     int
	}{{"ami_users", len(c.AMIUsers)}, {"ami_org_arns", len(c.AMIOrgArns)}, {"ami_ou_arns", len(c.AMIOuArns)}, {"snapshot_users", len(c.SnapshotUsers)}} {
		if f.n > 0 && shared == "" {
			shared = f.field
		}
	}
	if c.EncryptBoot && slices.Contains(c.AMIGroups, "all") {
		add("ami_groups: an encrypted AMI cannot be public (all)")
	}
	if c.EncryptBoot && slices.Contains(c.SnapshotGroups, "all") {
		add("snapshot_groups: an encrypted snapshot cannot be public (all)")
	}
	if shared == "" || !c.EncryptBoot {
		return errs
	}
	if c.buildRegionKey() == "" {
		add("%s: an AMI encrypted with the account's default KMS key cannot be shared; set kms_key_id", shared)
	}
	for _, r := range c.AMIRegions {
		if r != c.Region && c.RegionKMSKeyIDs[r] == "" {
			add("%s: the copy in %s would be encrypted with the default KMS key, which cannot be shared; set region_kms_key_ids[%q]", shared, r, r)
		}
	}
	return errs
}

// buildRegionKey is the KMS key of the build region's snapshot: as in
// packer-plugin-amazon, region_kms_key_ids wins over kms_key_id there.
func (c *Config) buildRegionKey() string {
	if k := c.RegionKMSKeyIDs[c.Region]; c.Region != "" && k != "" {
		return k
	}
	return c.KMSKeyID
}

// validateTimeouts checks request_timeout and snapshot_timeout as the
// publisher will: a positive deadline, and whole minutes from 10m to 72h
// for StartSnapshot's Timeout.
func (c *Config) validateTimeouts() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if v := c.RequestTimeout; v != "" && !strings.Contains(v, unknown) {
		if d, err := parseTimeout(v); err != nil {
			add("request_timeout %q: want a duration such as 5m", v)
		} else if d <= 0 {
			add("request_timeout %q: want a positive duration such as 5m", v)
		}
	}
	if v := c.SnapshotTimeout; v != "" && !strings.Contains(v, unknown) {
		if d, err := parseTimeout(v); err != nil {
			add("snapshot_timeout %q: want a duration such as 3h", v)
		} else if d%time.Minute != 0 || d < 10*time.Minute || d > 72*time.Hour {
			add("snapshot_timeout %q: want whole minutes from 10m to 72h", v)
		}
	}
	return errs
}

// parseTimeout parses a duration field; empty is zero (the default).
func parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	return time.ParseDuration(v)
}
