package provider

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/elemental-suite/elemental/internal/oci"
)

// providerData is what the provider hands to its data sources and
// resources: settings with environment fallbacks already applied.
type providerData struct {
	Registry registryCreds
	AWS      awsSettings
	GCP      gcpSettings
	SSH      sshDefaults
	CacheDir string
	// Version is the provider's version, recorded on published images.
	Version string

	// resolve turns a reference into a manifest digest; tests replace it.
	resolve func(ctx context.Context, source, platform string) (string, error)
}

type registryCreds struct {
	Username, Password string
	Insecure           bool
}

type sshDefaults struct {
	User, PrivateKey, KnownHostsFile string
	Port                             int64
	Agent                            bool
}

func newProviderData(m providerModel, getenv func(string) string) *providerData {
	d := &providerData{CacheDir: stringOr(m.CacheDir, getenv("ELEMENTAL_CACHE_DIR"))}
	r := m.Registry
	if r == nil {
		r = &registryModel{}
	}
	d.Registry = registryCreds{
		Username: stringOr(r.Username, getenv("ELEMENTAL_REGISTRY_USERNAME")),
		Password: stringOr(r.Password, getenv("ELEMENTAL_REGISTRY_PASSWORD")),
		Insecure: boolOr(r.Insecure, getenv("ELEMENTAL_REGISTRY_INSECURE")),
	}
	s := m.SSH
	if s == nil {
		s = &sshDefaultsModel{}
	}
	d.SSH = sshDefaults{
		User:           stringOr(s.User, getenv("ELEMENTAL_SSH_USER")),
		PrivateKey:     stringOr(s.PrivateKey, getenv("ELEMENTAL_SSH_PRIVATE_KEY")),
		KnownHostsFile: stringOr(s.KnownHostsFile, getenv("ELEMENTAL_SSH_KNOWN_HOSTS_FILE")),
		Agent:          boolOr(s.Agent, ""),
	}
	if !s.Port.IsNull() && !s.Port.IsUnknown() {
		d.SSH.Port = s.Port.ValueInt64()
	} else if p, err := strconv.ParseInt(getenv("ELEMENTAL_SSH_PORT"), 10, 64); err == nil {
		d.SSH.Port = p
	}
	d.AWS = awsFromModel(m.AWS, getenv)
	d.GCP = gcpFromModel(m.GCP, getenv)
	d.resolve = d.resolveDigest
	return d
}

func (d *providerData) validate() diag.Diagnostics {
	var diags diag.Diagnostics
	if d.Registry.Password != "" && d.Registry.Username == "" {
		diags.AddAttributeError(path.Root("registry").AtName("username"), "Missing registry username",
			"A registry password is set (attribute or ELEMENTAL_REGISTRY_PASSWORD) but no username.")
	}
	if d.SSH.Port < 0 || d.SSH.Port > 65535 {
		diags.AddAttributeError(path.Root("ssh").AtName("port"), "Invalid SSH port",
			fmt.Sprintf("Port %d is outside 1-65535.", d.SSH.Port))
	}
	return diags
}

// ociOptions are the registry options for platform.
func (d *providerData) ociOptions(platform string) oci.Options {
	return oci.Options{Platform: platform, Username: d.Registry.Username,
		Password: d.Registry.Password, Insecure: d.Registry.Insecure}
}

// resolveDigest reads the manifest (no layers) of source for platform.
func (d *providerData) resolveDigest(ctx context.Context, source, platform string) (string, error) {
	src, err := oci.Open(ctx, source, d.ociOptions(platform))
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", source, err)
	}
	return src.Digest.String(), nil
}
