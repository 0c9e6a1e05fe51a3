package gcp

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	compute "google.golang.org/api/compute/v1"
)

// ErrInvalidSpec marks a Spec that fails validation.
var ErrInvalidSpec = errors.New("invalid gcp publish spec")

// DefaultGuestOSFeatures returns the features set when
// Spec.GuestOSFeatures is nil: UEFI_COMPATIBLE, since Elemental disks boot
// with UEFI.
func DefaultGuestOSFeatures() []string { return []string{"UEFI_COMPATIBLE"} }

// Architectures accepted by Spec.Architecture ("" leaves it unset).
const (
	ArchX86_64 = "X86_64"
	ArchARM64  = "ARM64"
)

// Spec says what to publish and where.
type Spec struct {
	ProjectID string
	Bucket    string
	// ObjectName is the tar.gz object; "" means <ImageName>.tar.gz.
	ObjectName  string
	ImageName   string
	Family      string
	Description string
	Labels      map[string]string
	// GuestOSFeatures: nil means DefaultGuestOSFeatures(); an empty non-nil
	// slice sets none.
	GuestOSFeatures  []string
	StorageLocations []string
	Architecture     string
	Licenses         []string
	// ShieldedInitialState sets the image's Secure Boot variables.
	ShieldedInitialState *ShieldedState
	// DeprecateAt, ObsoleteAt, DeleteAt schedule the image's end of life
	// (zero: not set). See the package doc for how the state is chosen.
	DeprecateAt, ObsoleteAt, DeleteAt time.Time
	// SkipClean keeps the object, after success and after failure.
	SkipClean bool
	// Source, SourceDigest and SuiteVersion name where the disk came
	// from. They become the image labels elemental-source,
	// elemental-source-digest and elemental-suite-version (sanitized like
	// Provenance) and object metadata of the same names (as given).
	// SuiteVersion "" means BuildVersion().
	Source, SourceDigest, SuiteVersion string
	// Provenance is added to the image labels (sanitized: a digest
	// becomes sha256-<first 32 hex>) and, as given, to the object's
	// metadata. Typical keys: source-image, source-digest.
	Provenance map[string]string
	// ChunkSize is the resumable upload chunk; 0 means 16 MiB. It is also
	// the memory the upload buffers.
	ChunkSize int
	// GzipLevel and Workers tune the compressor (diskformat.Options).
	GzipLevel, Workers int
	// CleanupTimeout bounds the cleanup after a failure; 0 means 5 minutes.
	CleanupTimeout time.Duration
}

// ShieldedState holds Secure Boot variable contents: DER or PEM X.509
// certificates (sent as X509) or other binary data such as EFI signature
// lists (sent as BIN).
type ShieldedState struct {
	PK              []byte
	KEKs, DBs, DBXs [][]byte
}

var imageNameRe = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

const defaultChunkSize = 16 << 20

// withDefaults returns s with defaults applied.
func (s Spec) withDefaults() Spec {
	if s.ObjectName == "" && s.ImageName != "" {
		s.ObjectName = s.ImageName + ".tar.gz"
	}
	if s.GuestOSFeatures == nil {
		s.GuestOSFeatures = DefaultGuestOSFeatures()
	}
	if s.ChunkSize == 0 {
		s.ChunkSize = defaultChunkSize
	}
	if s.CleanupTimeout == 0 {
		s.CleanupTimeout = 5 * time.Minute
	}
	if s.SuiteVersion == "" {
		s.SuiteVersion = BuildVersion()
	}
	return s
}

// Provenance label keys (and object metadata keys).
const (
	LabelSource       = "elemental-source"
	LabelSourceDigest = "elemental-source-digest"
	LabelSuiteVersion = "elemental-suite-version"
)

// provenance is Provenance plus the provenance fields that are set, which
// win over the same keys in Provenance.
func (s Spec) provenance() map[string]string {
	out := make(map[string]string, len(s.Provenance)+3)
	for k, v := range s.Provenance {
		out[k] = v
	}
	for k, v := range map[string]string{LabelSource: s.Source, LabelSourceDigest: s.SourceDigest, LabelSuiteVersion: s.SuiteVersion} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// Validate reports every problem of s (after defaults) at once; errors
// wrap ErrInvalidSpec.
func (s Spec) Validate() error {
	s = s.withDefaults()
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.ProjectID == "" {
		add("project id is empty")
	}
	if s.Bucket == "" {
		add("bucket is empty")
	}
	if !imageNameRe.MatchString(s.ImageName) {
		add("image name %q: want 1-63 of [a-z0-9-], starting with a letter", s.ImageName)
	}
	if s.Family != "" && !imageNameRe.MatchString(s.Family) {
		add("image family %q: want 1-63 of [a-z0-9-], starting with a letter", s.Family)
	}
	if !slices.Contains([]string{"", ArchX86_64, ArchARM64}, s.Architecture) {
		add("architecture %q: want %s or %s", s.Architecture, ArchX86_64, ArchARM64)
	}
	if s.ChunkSize < 0 || s.ChunkSize%(256<<10) != 0 {
		add("chunk size %d: want a positive multiple of 256 KiB", s.ChunkSize)
	}
	if labels, err := mergeLabels(s.Labels, s.provenance()); err != nil {
		errs = append(errs, err)
	} else if err := checkLabels(labels); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkSchedule(s.DeprecateAt, s.ObsoleteAt, s.DeleteAt))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	return nil
}

// checkSchedule requires deprecate ≤ obsolete ≤ delete among set times.
func checkSchedule(times ...time.Time) error {
	names := []string{"deprecate", "obsolete", "delete"}
	last, lastName := time.Time{}, ""
	for i, t := range times {
		if t.IsZero() {
			continue
		}
		if !last.IsZero() && t.Before(last) {
			return fmt.Errorf("%s time %s is before %s time %s", names[i], t.Format(time.RFC3339), lastName, last.Format(time.RFC3339))
		}
		last, lastName = t, names[i]
	}
	return nil
}

// deprecation builds the DeprecationStatus for now, or nil when no time
// is set. The state is the latest stage whose time has come, else ACTIVE.
func (s Spec) deprecation(now time.Time) *compute.DeprecationStatus {
	if s.DeprecateAt.IsZero() && s.ObsoleteAt.IsZero() && s.DeleteAt.IsZero() {
		return nil
	}
	st := &compute.DeprecationStatus{State: "ACTIVE"}
	for _, stage := range []struct {
		at    time.Time
		field *string
		state string
	}{{s.DeprecateAt, &st.Deprecated, "DEPRECATED"}, {s.ObsoleteAt, &st.Obsolete, "OBSOLETE"}, {s.DeleteAt, &st.Deleted, "DELETED"}} {
		if stage.at.IsZero() {
			continue
		}
		*stage.field = stage.at.UTC().Format(time.RFC3339)
		if !stage.at.After(now) {
			st.State = stage.state
		}
	}
	return st
}

// initialState converts ShieldedState to the API's form.
func (st *ShieldedState) initialState() *compute.InitialStateConfig {
	if st == nil {
		return nil
	}
	conv := func(list [][]byte) []*compute.FileContentBuffer {
		var out []*compute.FileContentBuffer
		for _, b := range list {
			out = append(out, keyBuffer(b))
		}
		return out
	}
	cfg := &compute.InitialStateConfig{Keks: conv(st.KEKs), Dbs: conv(st.DBs), Dbxs: conv(st.DBXs)}
	if len(st.PK) > 0 {
		cfg.Pk = keyBuffer(st.PK)
	}
	return cfg
}

// keyBuffer sends a certificate as X509 (PEM is decoded to DER) and
// anything else as BIN.
func keyBuffer(b []byte) *compute.FileContentBuffer {
	der := b
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "CERTIFICATE" {
		der = blk.Bytes
	}
	if _, err := x509.ParseCertificate(der); err == nil {
		return &compute.FileContentBuffer{Content: base64.StdEncoding.EncodeToString(der), FileType: "X509"}
	}
	return &compute.FileContentBuffer{Content: base64.StdEncoding.EncodeToString(b), FileType: "BIN"}
}
