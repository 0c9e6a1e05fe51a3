package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/oci"
)

// buildID is the first 12 hex digits of a SHA-256 over the digest and
// every setting that changes what is built or published (not timeouts or
// retain_on_destroy). Artifact names end with it.
func buildID(m imageModel) string {
	h := sha256.New()
	gen := m.Generation
	if gen.IsUnknown() {
		gen = types.StringNull() // configured or detected later: the same build
	}
	for _, v := range []fmt.Stringer{m.Digest, m.Platform, gen, m.CloudConfig, m.DiskSize,
		m.RecoveryFS, m.GrubEntryName, m.NoGrow, m.SourceDateEpoch} {
		fmt.Fprintf(h, "%s\x00", v)
	}
	fmt.Fprintf(h, "%v\x00%v\x00%v\x00%v\x00", m.Sizes, m.Disk, m.AWS, m.GCP)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// artifactName is "<prefix or def>-<id>".
func artifactName(prefix types.String, def, id string) string {
	return valueOr(prefix, def) + "-" + id
}

// pinned returns the reference to build: a registry reference pinned to
// digest, so that what is built is what was planned. Local image forms are
// built as given and their digest checked afterwards.
func pinned(source, digest string, insecure bool) string {
	if strings.HasPrefix(source, oci.LayoutPrefix) || strings.HasPrefix(source, oci.ArchivePrefix) {
		return source
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(source, opts...)
	if err != nil {
		return source
	}
	return ref.Context().Name() + "@" + digest
}

// toSpec maps the plan to an installer spec writing into dir as name.
func toSpec(ctx context.Context, m imageModel, d *providerData, dir, name string, formats []diskformat.Format) (installer.Spec, error) {
	gen, err := inspect.ParseGeneration(m.Generation.ValueString())
	if m.Generation.IsUnknown() {
		gen, err = inspect.GenerationUnknown, nil
	}
	if err != nil {
		return installer.Spec{}, err
	}
	s := installer.Spec{
		Source:   pinned(m.Source.ValueString(), m.Digest.ValueString(), d.Registry.Insecure),
		Platform: valueOr(m.Platform, "linux/amd64"), Generation: gen,
		Username: d.Registry.Username, Password: d.Registry.Password, Insecure: d.Registry.Insecure,
		OutputDir: dir, Name: name, Formats: formats, Overwrite: true,
		RecoveryFS: m.RecoveryFS.ValueString(), GrubEntryName: m.GrubEntryName.ValueString(),
		NoGrow: m.NoGrow.ValueBool(), SourceDateEpoch: m.SourceDateEpoch.ValueInt64(), CacheDir: d.CacheDir,
	}
	if k := m.CosignPublicKey.ValueString(); k != "" {
		s.Verify = &installer.Verification{PublicKey: []byte(k), KeyOrigin: "cosign_public_key"}
	}
	var errs []error
	size := func(v types.String, what string) int64 {
		if v.IsNull() || v.ValueString() == "" {
			return 0
		}
		n, err := parseSize(v.ValueString())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
		return n
	}
	s.DiskSize = size(m.DiskSize, "disk_size")
	if z := m.Sizes; z != nil {
		s.Sizes = installer.Sizes{EFI: size(z.EFI, "efi"), OEM: size(z.OEM, "oem"), Recovery: size(z.Recovery, "recovery"),
			State: size(z.State, "state"), Persistent: size(z.Persistent, "persistent")}
	}
	var docs []string
	if !m.CloudConfig.IsNull() {
		errs = append(errs, diagErr(m.CloudConfig.ElementsAs(ctx, &docs, false)))
	}
	for i, doc := range docs {
		s.CloudConfigs = append(s.CloudConfigs, installer.CloudConfig{Origin: fmt.Sprintf("cloud_config[%d]", i), Data: []byte(doc)})
	}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// diskFormats lists the formats the disk block asks for (default raw).
func diskFormats(ctx context.Context, disk *diskModel) ([]diskformat.Format, error) {
	if disk == nil || disk.Formats.IsNull() {
		return []diskformat.Format{diskformat.Raw}, nil
	}
	var names []string
	if err := diagErr(disk.Formats.ElementsAs(ctx, &names, false)); err != nil {
		return nil, err
	}
	var out []diskformat.Format
	for _, n := range names {
		f, err := diskformat.ParseFormat(n)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		out = []diskformat.Format{diskformat.Raw}
	}
	return out, nil
}

// diskOutputs maps format name → path and format name → SHA-256 of the
// written files.
func diskOutputs(outs []installer.Output) (paths, sums map[string]string, err error) {
	paths, sums = map[string]string{}, map[string]string{}
	for _, o := range outs {
		sum, err := fileSHA256(o.Path)
		if err != nil {
			return nil, nil, err
		}
		paths[o.Format.String()], sums[o.Format.String()] = o.Path, sum
	}
	return paths, sums, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("hashing disk file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// expectedDiskFiles are the files a disk block produces for id.
func expectedDiskFiles(disk *diskModel, formats []diskformat.Format, id string) map[string]string {
	out := map[string]string{}
	base := artifactName(disk.Name, "elemental", id)
	for _, f := range formats {
		out[f.String()] = filepath.Join(disk.Directory.ValueString(), base+f.Ext())
	}
	return out
}

// removeFiles deletes the files, ignoring ones already gone.
func removeFiles(files map[string]string) error {
	var errs []error
	for _, p := range files {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing disk file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// missingFiles lists the files that no longer exist.
func missingFiles(files map[string]string) ([]string, error) {
	var gone []string
	for _, p := range files {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			gone = append(gone, p)
		} else if err != nil {
			return nil, fmt.Errorf("checking disk file: %w", err)
		}
	}
	return gone, nil
}

// diagErr turns diagnostics into an error (nil when there are none).
func diagErr(d diag.Diagnostics) error {
	var errs []error
	for _, e := range d.Errors() {
		errs = append(errs, fmt.Errorf("%s: %s", e.Summary(), e.Detail()))
	}
	return errors.Join(errs...)
}
