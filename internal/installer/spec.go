package installer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gopkg.in/yaml.v3"

	"github.com/elemental-suite/elemental/internal/cosign"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/oci"
)

// Sizes overrides partition sizes in bytes; zero means automatic.
type Sizes struct {
	EFI, OEM, Recovery, State, Persistent int64
}

// CloudConfig is a user cloud-config file copied into the OEM partition as
// 90_custom.yaml, 91_custom.yaml, … in the order given.
type CloudConfig struct {
	// Origin names the file or field it came from, for error messages.
	Origin string
	Data   []byte
}

// Verification asks that the source carry a cosign signature made with
// PublicKey before anything but its manifest is read (see package cosign).
type Verification struct {
	// PublicKey is the PEM public key, as cosign.pub holds it.
	PublicKey []byte
	// KeyOrigin names the key in errors: its file name or field.
	KeyOrigin string
}

// Spec says what to build.
type Spec struct {
	// Source is the derivative: a registry reference, "oci-layout:DIR[:TAG]"
	// or "docker-archive:FILE[:REF]".
	Source string
	// Platform is "linux/amd64" (default) or "linux/arm64".
	Platform string
	// Username and Password authenticate to the registry; when empty the
	// Docker config keychain is used.
	Username, Password string
	// Insecure allows plain-HTTP registries.
	Insecure bool
	// Generation forces the toolkit generation; GenerationUnknown detects it.
	Generation inspect.Generation
	// Verify, when set, refuses a source without a valid cosign signature
	// by the key, found beside it in its registry repository or layout.
	Verify *Verification

	// OutputDir receives the disk files, named Name + the format's extension.
	OutputDir string
	Name      string
	// Formats lists the disk formats to write (default raw).
	Formats []diskformat.Format
	// Overwrite replaces outputs that already exist (otherwise an error).
	Overwrite bool

	// DiskSize is the total disk size in bytes (0: just large enough).
	DiskSize int64
	Sizes    Sizes
	// RecoveryFS is "squashfs" (default) or "ext2".
	RecoveryFS string
	// SquashfsCompression is "gzip" or "xz". Empty picks the toolkit's own
	// default per generation: gzip for v2 (GRUB boots the kernel beside
	// recovery.img) and xz for v1, whose GRUB loop-mounts recovery.img and
	// whose 2.06 gzio refuses the incomplete Huffman codes Go's deflate
	// writes for some blocks.
	SquashfsCompression string

	CloudConfigs []CloudConfig
	// GrubEntryName is the boot menu name when the image's os-release has
	// no GRUB_ENTRY_NAME (default "Elemental").
	GrubEntryName string
	// NoGrow leaves out the OEM cloud-config that grows the last partition
	// to the real disk size on first boot.
	NoGrow bool

	// SourceDateEpoch, when non-zero, is the timestamp (Unix seconds) of
	// everything the build creates; otherwise SOURCE_DATE_EPOCH from the
	// environment, otherwise the image's creation time.
	SourceDateEpoch int64
	// CacheDir holds compressed layers of remote images between the two
	// passes (default: a temporary directory removed afterwards).
	CacheDir string
}

func (s *Spec) setDefaults() {
	if s.Platform == "" {
		s.Platform = "linux/amd64"
	}
	if s.Name == "" {
		s.Name = "elemental"
	}
	if len(s.Formats) == 0 {
		s.Formats = []diskformat.Format{diskformat.Raw}
	}
	if s.RecoveryFS == "" {
		s.RecoveryFS = "squashfs"
	}
	if s.GrubEntryName == "" {
		s.GrubEntryName = "Elemental"
	}
}

// Validate reports every problem of the spec at once, naming the field.
// OutputDir is not required: a build that only streams (Prepare, then
// Prepared.Stream) writes no file; Run and Prepared.Write check it.
func (s Spec) Validate() error {
	s.setDefaults()
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(s.Source) == "" {
		add("source: required (a registry reference, oci-layout:DIR or docker-archive:FILE)")
	}
	switch s.Platform {
	case "linux/amd64", "linux/arm64":
	default:
		add("platform %q: want linux/amd64 or linux/arm64", s.Platform)
	}
	if strings.ContainsAny(s.Name, "/\\") || s.Name == "." || s.Name == ".." {
		add("name %q: must be a plain file name", s.Name)
	}
	seen := map[diskformat.Format]bool{}
	for _, f := range s.Formats {
		if f.Ext() == "" { // FormatUnknown or out of range
			add("formats: unknown format (allowed: %s)", allowedFormats())
		}
		if seen[f] {
			add("formats: %s listed twice", f)
		}
		seen[f] = true
	}
	if s.RecoveryFS != "squashfs" && s.RecoveryFS != "ext2" {
		add("recovery filesystem %q: want squashfs or ext2", s.RecoveryFS)
	}
	if s.SquashfsCompression != "" && s.SquashfsCompression != "gzip" && s.SquashfsCompression != "xz" {
		add("squashfs compression %q: want gzip or xz (GRUB cannot read others)", s.SquashfsCompression)
	}
	for name, v := range map[string]int64{"disk size": s.DiskSize, "efi size": s.Sizes.EFI, "oem size": s.Sizes.OEM,
		"recovery size": s.Sizes.Recovery, "state size": s.Sizes.State, "persistent size": s.Sizes.Persistent} {
		if v < 0 {
			add("%s: %d is negative", name, v)
		}
	}
	if s.Verify != nil {
		if err := s.checkVerification(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.SourceDateEpoch < 0 {
		add("source date epoch: %d is negative", s.SourceDateEpoch)
	}
	for i, c := range s.CloudConfigs {
		if err := checkCloudConfig(c.Data); err != nil {
			add("cloud config %d (%s): %v", i+1, originOf(c, i), err)
		}
	}
	return errors.Join(errs...)
}

// errNoOutputDir is the problem of a file build without a directory.
var errNoOutputDir = errors.New("output directory: required")

// validateFiles is Validate for a build that writes files.
func (s Spec) validateFiles() error {
	err := s.Validate()
	if s.OutputDir == "" {
		err = errors.Join(err, errNoOutputDir)
	}
	return err
}

// checkVerification refuses an unusable key and a source kind that cannot
// be verified, before anything else happens.
func (s Spec) checkVerification() error {
	if _, err := cosign.ParsePublicKey(s.Verify.PublicKey, s.Verify.KeyOrigin); err != nil {
		return fmt.Errorf("source verification: %w", err)
	}
	if strings.HasPrefix(s.Source, oci.ArchivePrefix) {
		return fmt.Errorf("source verification of %s: docker archives carry no registry manifest digest for a "+
			"signature to name; use a registry reference or an oci-layout: %w", s.Source, cosign.ErrUnsupportedSource)
	}
	return nil
}

// verifySource checks the signature of the opened source when the spec
// asks for it; nothing has been written yet.
func verifySource(ctx context.Context, spec Spec, src *oci.Source, o *options) error {
	if spec.Verify == nil {
		return nil
	}
	key, err := cosign.ParsePublicKey(spec.Verify.PublicKey, spec.Verify.KeyOrigin)
	if err != nil {
		return fmt.Errorf("source verification: %w", err)
	}
	v, err := cosign.Verify(ctx, cosign.Subject{Ref: spec.Source, Digests: []v1.Hash{src.IndexDigest, src.Digest}}, key,
		cosign.Options{Username: spec.Username, Password: spec.Password, Insecure: spec.Insecure})
	if err != nil {
		return err
	}
	o.progress(Event{Phase: PhaseOpen, Message: fmt.Sprintf("cosign signature %s verified with key %s", v.SignatureRef, key.Origin)})
	return nil
}

func originOf(c CloudConfig, i int) string {
	if c.Origin != "" {
		return c.Origin
	}
	return fmt.Sprintf("#%d", i+1)
}

// checkCloudConfig makes sure the file is a YAML mapping, as yip expects.
func checkCloudConfig(data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("invalid YAML: %w", err)
	}
	if v == nil {
		return nil
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("want a YAML mapping at the top level, got %T", v)
	}
	return nil
}

func allowedFormats() string {
	var names []string
	for _, f := range diskformat.Formats() {
		names = append(names, f.String())
	}
	return strings.Join(names, ", ")
}
