package aws

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidSpec means a Spec field is missing or out of range.
var ErrInvalidSpec = errors.New("invalid AMI spec")

// kmsKeyARN is the KmsKeyArn pattern of StartSnapshot (EBS direct API
// reference): a key ARN; key ids and aliases are refused.
var kmsKeyARN = regexp.MustCompile(`^arn:aws[a-z\-]*:kms:.*:[0-9]{12}:key/.+$`)

// Import methods.
const (
	ImportEBSDirect = "ebs-direct"
	ImportS3        = "s3-import"
)

// RunTag is the tag key, set on every resource Publish creates, whose
// value identifies one Publish call; cleanup finds leftovers by it.
const RunTag = "elemental:publish-run"

// Spec says what AMI to make. Field names follow packer-plugin-amazon's
// AMIConfig (ami_name → Name, ami_users → LaunchUsers, …).
type Spec struct {
	Region       string // build region; empty means the aws.Config region
	Name         string // ami_name, required
	Description  string
	Architecture string // x86_64 (default) or arm64
	BootMode     string // uefi (default), uefi-preferred or legacy-bios (both need MBR boot code on the disk)

	ENASupport     *bool  // nil means true
	SriovSupport   *bool  // true sets SriovNetSupport "simple"
	IMDSSupport    string // "v2.0" or ""
	TPMSupport     string // "v2.0" or ""; needs BootMode uefi
	UEFIData       string // base64 UEFI variable store
	RootDeviceName string // /dev/xvda (default)

	VolumeType          string // gp3 (default)
	VolumeSizeGiB       int32  // 0 means the disk size rounded up to GiB
	DeleteOnTermination bool

	Encrypted           bool
	KMSKeyID            string            // needs Encrypted; empty means RegionKMSKeyIDs[Region], else the account's default EBS key; a key ARN for ImportEBSDirect
	Regions             []string          // ami_regions: copy targets besides the build region
	RegionKMSKeyIDs     map[string]string // region_kms_key_ids: each copy region's key, and the build region's when KMSKeyID is empty
	SkipSaveBuildRegion bool              // deregister the build-region AMI once copied

	LaunchUsers, LaunchGroups, OrgARNs, OUARNs []string
	SnapshotUsers, SnapshotGroups              []string

	Tags, SnapshotTags       map[string]string
	DeprecateAt              time.Time // zero: no deprecation
	DeregistrationProtection bool
	ProtectionCooldown       bool // deregistration_protection.with_cooldown

	ForceDeregister     bool // deregister an existing AMI of the same name first
	ForceDeleteSnapshot bool // and delete its snapshots

	ImportMethod string // ImportEBSDirect (default) or ImportS3
	// ParentSnapshotID makes the EBS direct upload incremental: the new
	// snapshot starts as a copy of this completed snapshot of the build
	// region, and only blocks that differ from it are written (see the
	// package doc). The snapshot's encryption then follows the parent's:
	// Encrypted must match it, and KMSKeyID (encrypted parents only)
	// re-encrypts under another key.
	ParentSnapshotID  string
	S3Bucket          string // for ImportS3
	UploadConcurrency int    // parallel block or part uploads; default 16
	// RequestTimeout is the deadline of each PutSnapshotBlock and
	// GetSnapshotBlock attempt (a stalled one is abandoned and retried);
	// default 2 minutes.
	RequestTimeout time.Duration
	// SnapshotTimeout is StartSnapshot's Timeout: how long the snapshot
	// may wait for its next block or its completion before EBS cancels
	// it. Whole minutes from 10 to 4320 (72 h); default 2 hours.
	SnapshotTimeout time.Duration

	// Provenance of the disk, set as the tags elemental:source,
	// elemental:source-digest and elemental:suite-version on every AMI,
	// snapshot (copies included) and S3 object. An empty field takes the
	// value of its key in Provenance; SuiteVersion then defaults to
	// BuildVersion(). Source is cut to 256 characters, the tag value
	// limit.
	Source, SourceDigest, SuiteVersion string
	// Provenance holds more tags of the same kind, set alongside; the
	// fields above win over the same keys here.
	Provenance map[string]string
}

// Provenance tag keys.
const (
	TagSource       = "elemental:source"
	TagSourceDigest = "elemental:source-digest"
	TagSuiteVersion = "elemental:suite-version"
)

// Result names what Publish made.
type Result struct {
	AMIs           map[string]string // region → AMI id
	Snapshots      map[string]string // region → root snapshot id
	BytesUploaded  int64             // block or object bytes accepted by AWS (retries not counted)
	BlocksUploaded int64             // EBS direct blocks written
	// With a parent snapshot: blocks the disk needed that were found
	// unchanged in the parent (checksum equal) and not written, and the
	// bytes that saved.
	BlocksInherited int64
	BytesSaved      int64
}

// Event reports progress. Stage is one of "snapshot", "upload",
// "import", "register", "copy", "share", "tag", "deprecate", "protect",
// "cleanup"; Done/Total count bytes for "upload" (Done: bytes written, or
// found unchanged in the parent snapshot) and are 0 otherwise.
type Event struct {
	Stage  string
	Region string
	ID     string
	Done   int64
	Total  int64
}

// normalize applies defaults and validates s.
func (s Spec) normalize(cfgRegion string) (Spec, error) {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&s.Region, cfgRegion)
	// region_kms_key_ids may name the build region too (packer-plugin-
	// amazon reads it so); KMSKeyID, when set, wins there.
	def(&s.KMSKeyID, s.RegionKMSKeyIDs[s.Region])
	def(&s.Architecture, "x86_64")
	def(&s.BootMode, "uefi")
	def(&s.RootDeviceName, "/dev/xvda")
	def(&s.VolumeType, "gp3")
	def(&s.ImportMethod, ImportEBSDirect)
	if s.ENASupport == nil {
		t := true
		s.ENASupport = &t
	}
	if s.UploadConcurrency <= 0 {
		s.UploadConcurrency = 16
	}
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = 2 * time.Minute
	}
	if s.SnapshotTimeout == 0 {
		s.SnapshotTimeout = 2 * time.Hour
	}
	def(&s.Source, s.Provenance[TagSource])
	def(&s.SourceDigest, s.Provenance[TagSourceDigest])
	def(&s.SuiteVersion, s.Provenance[TagSuiteVersion])
	def(&s.SuiteVersion, BuildVersion())
	var regions []string
	for _, r := range s.Regions {
		if r != s.Region && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	s.Regions = regions
	if err := s.validate(); err != nil {
		return s, fmt.Errorf("checking AMI spec %q: %w", s.Name, err)
	}
	return s, nil
}

func (s Spec) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf(format+": %w", append(args, ErrInvalidSpec)...)
	}
	switch {
	case s.Region == "":
		return bad("no region (set Spec.Region or the config's region)")
	case len(s.Name) < 3 || len(s.Name) > 128:
		return bad("name must have 3 to 128 characters")
	case utf8.RuneCountInString(s.Description) > 255:
		return bad("description has %d characters, more than 255", utf8.RuneCountInString(s.Description))
	case s.Architecture != "x86_64" && s.Architecture != "arm64":
		return bad("architecture %q is not x86_64 or arm64", s.Architecture)
	case s.BootMode != "uefi" && s.BootMode != "uefi-preferred" && s.BootMode != "legacy-bios":
		return bad("boot mode %q is not uefi, uefi-preferred or legacy-bios", s.BootMode)
	case s.IMDSSupport != "" && s.IMDSSupport != "v2.0":
		return bad("imds support %q is not v2.0", s.IMDSSupport)
	case s.TPMSupport != "" && s.TPMSupport != "v2.0":
		return bad("tpm support %q is not v2.0", s.TPMSupport)
	case s.TPMSupport != "" && s.BootMode != "uefi":
		return bad("tpm support needs boot mode uefi, not %s", s.BootMode)
	case s.UEFIData != "" && s.BootMode == "legacy-bios":
		return bad("uefi data needs boot mode uefi or uefi-preferred, not legacy-bios")
	case s.VolumeSizeGiB < 0:
		return bad("volume size %d GiB is negative", s.VolumeSizeGiB)
	case s.KMSKeyID != "" && !s.Encrypted:
		return bad("a KMS key needs encryption")
	case s.KMSKeyID != "" && s.ImportMethod == ImportEBSDirect && !kmsKeyARN.MatchString(s.KMSKeyID):
		return bad("KMS key %q is not a key ARN (arn:aws:kms:<region>:<account>:key/<id>), which StartSnapshot needs", s.KMSKeyID)
	case s.SnapshotTimeout%time.Minute != 0 || s.SnapshotTimeout < 10*time.Minute || s.SnapshotTimeout > 72*time.Hour:
		return bad("snapshot timeout %v is not whole minutes from 10m to 72h", s.SnapshotTimeout)
	case s.SkipSaveBuildRegion && len(s.Regions) == 0:
		return bad("skipping the build region needs another region to copy to")
	case s.ImportMethod != ImportEBSDirect && s.ImportMethod != ImportS3:
		return bad("import method %q is not %s or %s", s.ImportMethod, ImportEBSDirect, ImportS3)
	case s.ImportMethod == ImportS3 && s.S3Bucket == "":
		return bad("%s needs an S3 bucket", ImportS3)
	case s.ParentSnapshotID != "" && s.ImportMethod != ImportEBSDirect:
		return bad("a parent snapshot needs import method %s", ImportEBSDirect)
	case s.ParentSnapshotID != "" && !strings.HasPrefix(s.ParentSnapshotID, "snap-"):
		return bad("parent snapshot %q is not a snapshot id", s.ParentSnapshotID)
	case len(s.imageTags("x")) > 50 || len(s.snapshotTags("x")) > 50:
		return bad("more than 50 tags")
	}
	for r := range s.RegionKMSKeyIDs {
		if r != s.Region && !slices.Contains(s.Regions, r) {
			return bad("region_kms_key_ids names %s, which is not a target region", r)
		}
	}
	return nil
}

// imageTags are the tags of every AMI: Tags, the provenance and the run
// tag.
func (s Spec) imageTags(run string) map[string]string {
	return mergeTags(s.Tags, s.provenance(), map[string]string{RunTag: run})
}

// snapshotTags are the tags of every snapshot and S3 object.
func (s Spec) snapshotTags(run string) map[string]string {
	return mergeTags(s.SnapshotTags, s.provenance(), map[string]string{RunTag: run})
}

// maxObjectTags is the S3 limit of tags per object.
const maxObjectTags = 10

// objectTags are the tags of the S3 object: the run tag and the
// provenance, cut to the S3 limit of 10 (the three provenance fields
// first, then the other Provenance keys in order). The snapshot tags are
// not among them: they go on the imported snapshot, which takes 50.
func (s Spec) objectTags(run string) map[string]string {
	out := map[string]string{RunTag: run}
	prov := s.provenance()
	for _, k := range []string{TagSource, TagSourceDigest, TagSuiteVersion} {
		if v, ok := prov[k]; ok {
			out[k] = v
			delete(prov, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(prov)) {
		if len(out) == maxObjectTags {
			break
		}
		out[k] = prov[k]
	}
	return out
}

// provenance is Provenance plus the tags of the provenance fields that
// are set.
func (s Spec) provenance() map[string]string {
	out := mergeTags(s.Provenance)
	for k, v := range map[string]string{TagSource: s.Source, TagSourceDigest: s.SourceDigest, TagSuiteVersion: s.SuiteVersion} {
		if v != "" {
			out[k] = truncate(v, 256)
		}
	}
	return out
}

// truncate cuts s to n characters.
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func mergeTags(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// targetRegions is the build region followed by the copy regions.
func (s Spec) targetRegions() []string {
	return append([]string{s.Region}, s.Regions...)
}
