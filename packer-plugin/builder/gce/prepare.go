package gce

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
	publishgcp "github.com/elemental-suite/elemental/internal/publish/gcp"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// prepared is what Prepare hands to Run.
type prepared struct {
	disk    installer.Spec
	image   publishgcp.Spec
	clients publishgcp.ClientOptions
}

// gcpNames maps the publisher's field names to the template's.
var gcpNames = map[string]string{
	"project id ":     "project_id ",
	"bucket ":         "bucket ",
	"image name ":     "image_name ",
	"image family ":   "image_family ",
	"architecture ":   "image_architecture ",
	"deprecate time ": "deprecate_at ",
	"obsolete time ":  "obsolete_at ",
	"delete time ":    "delete_at ",
	"label ":          "image_labels: label ",
}

func (c *Config) prepare(raws ...any) (prepared, []string, error) {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType: BuilderID, Interpolate: true, InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return prepared{}, nil, err
	}
	c.Config.FilterSecrets()
	if c.CredentialsJSON != "" {
		packersdk.LogSecretFilter.Set(c.CredentialsJSON)
	}
	disk, errs := c.Config.Spec()
	disk.Formats, disk.Name = []diskformat.Format{diskformat.Raw}, "disk"
	disk.OutputDir = os.TempDir() // only to validate; Run uses a work directory
	errs = append(errs, diskbuild.Validate(disk, nil)...)
	disk.OutputDir = ""
	image, imgErrs := c.imageSpec()
	errs = append(errs, imgErrs...)
	if err := validatable(image).Validate(); err != nil {
		errs = append(errs, splitRenamed(err)...)
	}
	errs = append(errs, c.validateLists()...)
	clients, cErrs := c.clientOptions()
	errs = append(errs, cErrs...)
	return prepared{disk: disk, image: image, clients: clients}, c.Config.Warnings(), diskbuild.MultiError(errs)
}

func (c *Config) imageSpec() (publishgcp.Spec, []error) {
	var errs []error
	s := publishgcp.Spec{
		ProjectID: c.ProjectID, Bucket: c.Bucket, ObjectName: c.GCSObjectName, ImageName: c.ImageName,
		Family: c.ImageFamily, Description: c.ImageDescription, Labels: c.ImageLabels,
		GuestOSFeatures: c.ImageGuestOsFeatures, StorageLocations: c.ImageStorageLocations,
		Architecture: c.ImageArchitecture, Licenses: c.ImageLicenses, SkipClean: c.SkipClean,
	}
	if s.Architecture == "" {
		s.Architecture = publishgcp.ArchX86_64
		if c.Platform == "linux/arm64" {
			s.Architecture = publishgcp.ArchARM64
		}
	}
	for _, t := range []struct {
		field, v string
		dst      *time.Time
	}{{"deprecate_at", c.DeprecateAt, &s.DeprecateAt}, {"obsolete_at", c.ObsoleteAt, &s.ObsoleteAt}, {"delete_at", c.DeleteAt, &s.DeleteAt}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want an RFC 3339 time such as 2027-01-01T00:00:00Z", t.field, t.v))
		}
		*t.dst = v
	}
	s.GzipLevel = c.CompressionLevel
	if c.CompressionLevel < 0 || c.CompressionLevel > 9 {
		errs = append(errs, fmt.Errorf("compression_level: %d is not between 1 and 9", c.CompressionLevel))
	}
	if c.UploadChunkSize != "" {
		n, err := diskbuild.ParseSize(c.UploadChunkSize)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("upload_chunk_size: %w", err))
		case n <= 0 || n%(256<<10) != 0 || n > 1<<30:
			errs = append(errs, fmt.Errorf("upload_chunk_size %q: want a multiple of 256KiB up to 1GiB", c.UploadChunkSize))
		default:
			s.ChunkSize = int(n)
		}
	}
	shielded, err := c.shieldedState()
	errs = append(errs, err...)
	s.ShieldedInitialState = shielded
	return s, errs
}

// shieldedState reads the Secure Boot key files.
func (c *Config) shieldedState() (*publishgcp.ShieldedState, []error) {
	if c.ImagePlatformKey == "" && len(c.ImageKeyExchangeKey)+len(c.ImageSignaturesDB)+len(c.ImageForbiddenSignaturesDB) == 0 {
		return nil, nil
	}
	var errs []error
	read := func(field string, files []string) [][]byte {
		var out [][]byte
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", field, i, err))
				continue
			}
			out = append(out, b)
		}
		return out
	}
	st := &publishgcp.ShieldedState{
		KEKs: read("image_key_exchange_key", c.ImageKeyExchangeKey),
		DBs:  read("image_signatures_db", c.ImageSignaturesDB),
		DBXs: read("image_forbidden_signatures_db", c.ImageForbiddenSignaturesDB),
	}
	if c.ImagePlatformKey != "" {
		b, err := os.ReadFile(c.ImagePlatformKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("image_platform_key: %w", err))
		}
		st.PK = b
	}
	return st, errs
}

var (
	// guestOSFeatureRE is the form of a guest OS feature type; the list
	// of types grows, so it is not enumerated.
	guestOSFeatureRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	// licenseRE is a license name or URL: projects/P/global/licenses/L.
	licenseRE = regexp.MustCompile(`(^|/)projects/[^/]+/global/licenses/[^/]+$`)
)

// validateLists checks the elements of the list fields the publisher
// passes on as they are.
func (c *Config) validateLists() []error {
	var errs []error
	for i, f := range c.ImageGuestOsFeatures {
		if !guestOSFeatureRE.MatchString(f) {
			errs = append(errs, fmt.Errorf("image_guest_os_features[%d] %q: want a feature type such as UEFI_COMPATIBLE or GVNIC", i, f))
		}
	}
	for i, l := range c.ImageLicenses {
		if !licenseRE.MatchString(l) {
			errs = append(errs, fmt.Errorf("image_licenses[%d] %q: want projects/PROJECT/global/licenses/NAME", i, l))
		}
	}
	for i, l := range c.ImageStorageLocations {
		if l == "" || strings.ToLower(l) != l {
			errs = append(errs, fmt.Errorf("image_storage_locations[%d] %q: want a lower-case region or multi-region such as eu or us-central1", i, l))
		}
	}
	return errs
}

func (c *Config) clientOptions() (publishgcp.ClientOptions, []error) {
	var errs []error
	file := c.CredentialsFile
	if file == "" {
		file = c.AccountFile
	} else if c.AccountFile != "" {
		errs = append(errs, errors.New("account_file: set credentials_file or account_file, not both"))
	}
	if file != "" && c.CredentialsJSON != "" {
		errs = append(errs, errors.New("credentials_json: set credentials_file or credentials_json, not both"))
	}
	if c.CredentialsJSON != "" && !strings.Contains(c.CredentialsJSON, unknown) && !json.Valid([]byte(c.CredentialsJSON)) {
		errs = append(errs, errors.New("credentials_json: not valid JSON (its content is not shown: it is a secret)"))
	}
	if file != "" {
		if _, err := os.Stat(file); err != nil {
			errs = append(errs, fmt.Errorf("credentials_file: %w", err))
		}
	}
	compute := c.ComputeEndpoint
	if compute == "" {
		// The Go compute client reads no variable; this is the one
		// terraform-provider-google (and elemental's provider) reads, and
		// the one `make gcpemu` prints.
		compute = os.Getenv(EnvComputeEndpoint)
	}
	return publishgcp.ClientOptions{
		CredentialsFile: file, CredentialsJSON: []byte(c.CredentialsJSON),
		ImpersonateServiceAccount: c.ImpersonateServiceAccount,
		ComputeEndpoint:           compute, StorageEndpoint: c.StorageEndpoint,
		WithoutAuthentication: c.SkipAuthentication,
	}, errs
}

// splitRenamed splits the publisher's validation error ("invalid gcp
// publish spec: a\nb", where a problem may itself be a list) into its
// problems, under the template's names.
func splitRenamed(err error) []error {
	m, ok := err.(multi)
	if !ok {
		return []error{diskbuild.Rename(err, gcpNames)}
	}
	var out []error
	for _, e := range m.Unwrap() {
		if e == publishgcp.ErrInvalidSpec {
			continue
		}
		for _, x := range flattenJoined(e) {
			out = append(out, diskbuild.Rename(x, gcpNames))
		}
	}
	return out
}

// multi is an error wrapping several (errors.Join, fmt.Errorf with two %w).
type multi interface{ Unwrap() []error }

// flattenJoined splits what errors.Join made, at any depth: an error whose
// message is its parts' messages, one per line. Other errors stay whole,
// so that no message loses its prefix.
func flattenJoined(err error) []error {
	m, ok := err.(multi)
	if !ok {
		return []error{err}
	}
	parts := m.Unwrap()
	msgs := make([]string, len(parts))
	for i, p := range parts {
		msgs[i] = p.Error()
	}
	if strings.Join(msgs, "\n") != err.Error() {
		return []error{err}
	}
	var out []error
	for _, p := range parts {
		out = append(out, flattenJoined(p)...)
	}
	return out
}

// unknown is how `packer validate` passes values it cannot know yet (data
// source outputs); names holding it are checked when the build runs.
const unknown = "<unknown>"

func validatable(s publishgcp.Spec) publishgcp.Spec {
	for _, v := range []*string{&s.ImageName, &s.Family, &s.ObjectName} {
		if strings.Contains(*v, unknown) {
			*v = "unknown"
		}
	}
	return s
}
