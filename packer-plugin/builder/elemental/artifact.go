package elemental

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// Artifact is the set of disk files one build wrote.
type Artifact struct {
	result *installer.Result
	dir    string
	// StateData holds the build's generated data and disk facts.
	StateData map[string]any
}

var _ packersdk.Artifact = (*Artifact)(nil)

func newArtifact(res *installer.Result, dir string, generated any) *Artifact {
	var formats []string
	for _, o := range res.Outputs {
		formats = append(formats, o.Format.String())
	}
	return &Artifact{result: res, dir: dir, StateData: map[string]any{
		"generated_data":    generated,
		"SourceImage":       res.Source,
		"SourceImageDigest": res.Digest,
		"Generation":        res.Generation.String(),
		"KernelVersion":     res.KernelVersion,
		"OSVersion":         diskbuild.OSVersion(res.OSRelease),
		"Formats":           strings.Join(formats, ","),
		"DiskSizeMB":        res.DiskSize / diskbuild.MiB,
	}}
}

// BuilderId returns BuilderID.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files lists the disk files, one per format, in the order requested.
func (a *Artifact) Files() []string {
	files := make([]string, 0, len(a.result.Outputs))
	for _, o := range a.result.Outputs {
		files = append(files, o.Path)
	}
	return files
}

// Id is the manifest digest of the derivative the disk was built from.
func (a *Artifact) Id() string { return a.result.Digest }

// String describes the artifact for Packer's summary.
func (a *Artifact) String() string {
	return fmt.Sprintf("Elemental disk of %s (%s) in %s: %s",
		a.result.Source, a.result.Digest, a.dir, strings.Join(a.Files(), ", "))
}

// State returns generated data, disk facts and the HCP Packer registry
// metadata.
func (a *Artifact) State(name string) any {
	if name == registryimage.ArtifactStateURI {
		img, err := registryimage.FromArtifact(a,
			registryimage.WithProvider("elemental"),
			registryimage.WithRegion(a.dir),
			registryimage.WithSourceID(a.result.Source),
			registryimage.SetLabels(a.labels()))
		if err != nil {
			return nil
		}
		return img
	}
	return a.StateData[name]
}

func (a *Artifact) labels() map[string]any {
	l := map[string]any{
		"source_image": a.result.Source, "generation": a.result.Generation.String(),
		"kernel_version": a.result.KernelVersion, "platform": a.result.Platform,
		"disk_size_mb": fmt.Sprint(a.result.DiskSize / diskbuild.MiB), "formats": a.StateData["Formats"],
	}
	for _, k := range []string{"ID", "NAME", "VERSION", "VERSION_ID"} {
		if v := a.result.OSRelease[k]; v != "" {
			l["os_"+strings.ToLower(k)] = v
		}
	}
	return l
}

// Destroy removes the disk files, and the output directory when nothing
// else is left in it.
func (a *Artifact) Destroy() error {
	for _, f := range a.Files() {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing %s: %w", f, err)
		}
	}
	if entries, err := os.ReadDir(a.dir); err == nil && len(entries) == 0 {
		if err := os.Remove(filepath.Clean(a.dir)); err != nil {
			return fmt.Errorf("removing %s: %w", a.dir, err)
		}
	}
	return nil
}
