//go:generate packer-sdc struct-markdown ../../.sdc/packer-plugin-elemental/datasource/derivative/datasource.go
//go:generate packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

package derivative

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"

	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// Config says which derivative to look at.
type Config struct {
	// The derivative: a registry reference, `oci-layout:DIR[:TAG]` or
	// `docker-archive:FILE[:REF]`.
	SourceImage string `mapstructure:"source_image" required:"true"`
	// `linux/amd64` (default) or `linux/arm64`.
	Platform string `mapstructure:"platform" required:"false"`
	// User name for the registry (default: the Docker config).
	RegistryUsername string `mapstructure:"registry_username" required:"false"`
	// Password or token for the registry, kept out of the logs.
	RegistryPassword string `mapstructure:"registry_password" required:"false"`
	// Talk plain HTTP to the registry. Default false.
	RegistryInsecure bool `mapstructure:"registry_insecure" required:"false"`
	// Path to a cosign public key (PEM, `cosign.pub`). When set, the data
	// source fails unless the derivative carries a valid cosign signature
	// by this key (tag `sha256-<digest>.sig` beside the image).
	CosignPublicKeyFile string `mapstructure:"cosign_public_key_file" required:"false"`
	// Force the toolkit generation (`auto`, `v1`, `v2`); `auto` (default)
	// detects it.
	Generation string `mapstructure:"generation" required:"false"`
}

// DatasourceOutput is what the data source returns.
type DatasourceOutput struct {
	// Manifest digest of the image for the platform (`sha256:…`).
	Digest string `mapstructure:"digest"`
	// The reference pinned to that digest (`registry/repo@sha256:…`,
	// `oci-layout:DIR@sha256:…`); a docker archive is returned unchanged.
	PinnedImage string `mapstructure:"pinned_image"`
	// The platform read.
	Platform string `mapstructure:"platform"`
	// Toolkit generation detected (or forced): `v1` or `v2`.
	Generation string `mapstructure:"generation"`
	// Kernel version, the `/lib/modules` directory of the kernel booted.
	KernelVersion string `mapstructure:"kernel_version"`
	// os-release `ID`.
	OSID string `mapstructure:"os_id"`
	// os-release `NAME`.
	OSName string `mapstructure:"os_name"`
	// os-release `VERSION_ID`, else `VERSION`.
	OSVersion string `mapstructure:"os_version"`
	// os-release `PRETTY_NAME`.
	OSPrettyName string `mapstructure:"os_pretty_name"`
	// Every os-release field.
	OSRelease map[string]string `mapstructure:"os_release"`
	// Image creation time, RFC 3339 (empty when the image has none).
	Created string `mapstructure:"created"`
}

// Datasource is the `elemental-derivative` data source.
type Datasource struct {
	config Config
	spec   installer.Spec
}

var _ packersdk.Datasource = (*Datasource)(nil)

// ConfigSpec returns the HCL2 schema of Config.
func (d *Datasource) ConfigSpec() hcldec.ObjectSpec { return d.config.FlatMapstructure().HCL2Spec() }

// OutputSpec returns the HCL2 schema of DatasourceOutput.
func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes and checks the configuration.
func (d *Datasource) Configure(raws ...any) error {
	if err := config.Decode(&d.config, nil, raws...); err != nil {
		return err
	}
	if d.config.RegistryPassword != "" {
		packersdk.LogSecretFilter.Set(d.config.RegistryPassword)
	}
	var errs []error
	if d.config.SourceImage == "" {
		errs = append(errs, fmt.Errorf("source_image: required (a registry reference, oci-layout:DIR[:TAG] or docker-archive:FILE[:REF])"))
	}
	g, err := inspect.ParseGeneration(d.config.Generation)
	if err != nil {
		errs = append(errs, fmt.Errorf("generation %q: want auto, v1 or v2", d.config.Generation))
	}
	d.spec = installer.Spec{
		Source: d.config.SourceImage, Platform: d.config.Platform, Generation: g,
		Username: d.config.RegistryUsername, Password: d.config.RegistryPassword,
		Insecure: d.config.RegistryInsecure,
	}
	if f := d.config.CosignPublicKeyFile; f != "" {
		if key, err := os.ReadFile(f); err != nil {
			errs = append(errs, fmt.Errorf("cosign_public_key_file: %w", err))
		} else {
			d.spec.Verify = &installer.Verification{PublicKey: key, KeyOrigin: "cosign_public_key_file " + f}
		}
	}
	if d.config.Platform != "" && d.config.Platform != "linux/amd64" && d.config.Platform != "linux/arm64" {
		errs = append(errs, fmt.Errorf("platform %q: want linux/amd64 or linux/arm64", d.config.Platform))
	}
	return diskbuild.MultiError(errs)
}

// Execute inspects the derivative.
func (d *Datasource) Execute() (cty.Value, error) {
	in, err := installer.Inspect(context.Background(), d.spec)
	if err != nil {
		return cty.NullVal(cty.EmptyObject), fmt.Errorf("inspecting %s: %w", d.spec.Source, err)
	}
	return hcl2helper.HCL2ValueFromConfig(output(in), d.OutputSpec()), nil
}

func output(in *installer.Inspection) DatasourceOutput {
	r := in.Report
	out := DatasourceOutput{
		Digest: in.Digest, PinnedImage: pin(in.Source, in.Digest), Platform: in.Platform,
		Generation: r.Generation.String(), KernelVersion: r.KernelVersion,
		OSID: r.OSRelease["ID"], OSName: r.OSRelease["NAME"], OSVersion: diskbuild.OSVersion(r.OSRelease),
		OSPrettyName: r.OSRelease["PRETTY_NAME"], OSRelease: map[string]string{},
	}
	for k, v := range r.OSRelease {
		out.OSRelease[k] = v
	}
	if !in.Created.IsZero() {
		out.Created = in.Created.UTC().Format(time.RFC3339)
	}
	return out
}

// pin returns the reference src fixed to digest.
func pin(src, digest string) string {
	switch {
	case strings.HasPrefix(src, "docker-archive:"):
		return src
	case strings.HasPrefix(src, "oci-layout:"):
		dir := strings.TrimPrefix(src, "oci-layout:")
		if i := strings.IndexByte(dir, '@'); i >= 0 {
			dir = dir[:i]
		} else if i := strings.LastIndexByte(dir, ':'); i >= 0 && !strings.Contains(dir[i:], "/") {
			dir = dir[:i]
		}
		return "oci-layout:" + dir + "@" + digest
	}
	ref, err := name.ParseReference(src, name.WeakValidation)
	if err != nil {
		return src
	}
	return ref.Context().Name() + "@" + digest
}
