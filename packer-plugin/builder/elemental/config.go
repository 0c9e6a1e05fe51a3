//go:generate packer-sdc struct-markdown ../../.sdc/packer-plugin-elemental/builder/elemental/config.go
//go:generate packer-sdc mapstructure-to-hcl2 -type Config

package elemental

import (
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/common"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/packer-plugin/diskbuild"
)

// Config is the `elemental` builder's configuration: the shared derivative
// and layout fields plus where the disk files go.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	diskbuild.Config    `mapstructure:",squash"`

	// Disk formats to write, one file each: `raw`, `qcow2`, `vhd` (fixed,
	// Azure), `vmdk` (streamOptimized) and `gce` (`disk.raw` in a gzipped
	// tar). Default `["raw"]`.
	Formats []string `mapstructure:"formats" required:"false"`
	// Directory that receives the disk files. Default `output-<build name>`.
	// The build fails when it holds files already, unless Packer runs with
	// `-force`, which replaces them.
	OutputDirectory string `mapstructure:"output_directory" required:"false"`
	// Base name of the disk files; each format adds its extension
	// (`.raw`, `.qcow2`, `.vhd`, `.vmdk`, `.tar.gz`). Default `elemental`.
	OutputName string `mapstructure:"output_name" required:"false"`

	ctx interpolate.Context
}

// outputNames maps the core's messages about output fields to the
// template's names.
var outputNames = map[string]string{
	"output directory:": "output_directory:",
	"name ":             "output_name ",
	"formats:":          "formats:",
}

// prepare decodes raws, applies the defaults and returns the spec to build
// with every problem found.
func (c *Config) prepare(raws ...any) (installer.Spec, []string, error) {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType:         BuilderID,
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return installer.Spec{}, nil, err
	}
	c.FilterSecrets()
	if c.OutputDirectory == "" {
		c.OutputDirectory = "output-" + c.PackerBuildName
	}
	if c.OutputName == "" {
		c.OutputName = "elemental"
	}
	if len(c.Formats) == 0 {
		c.Formats = []string{"raw"}
	}
	spec, errs := c.Config.Spec()
	spec.OutputDir, spec.Name, spec.Overwrite = c.OutputDirectory, c.OutputName, c.PackerForce
	for i, name := range c.Formats {
		f, err := diskformat.ParseFormat(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("formats[%d]: %q is not a format (allowed: raw, qcow2, vhd, vmdk, gce)", i, name))
			continue
		}
		spec.Formats = append(spec.Formats, f)
	}
	errs = append(errs, diskbuild.Validate(spec, outputNames)...)
	warns := c.Config.Warnings()
	if c.CacheDir != "" && c.CacheDir == c.OutputDirectory {
		warns = append(warns, "cache_dir is the output directory: cached layers will end up next to the disk files")
	}
	return spec, warns, diskbuild.MultiError(errs)
}
