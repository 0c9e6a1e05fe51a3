//go:generate packer-sdc struct-markdown ../.sdc/packer-plugin-elemental/diskbuild/generated_data.go

package diskbuild

// GeneratedData documents the data every builder shares with provisioners
// and post-processors, as `${build.SourceImageDigest}` in HCL2 and
// `{{ build `SourceImageDigest` }}` in JSON templates. Each field's
// mapstructure name is the key; the struct itself is never filled.
type GeneratedData struct {
	// The manifest digest of the derivative the disk was built from
	// (`sha256:…`), for the platform picked.
	SourceImageDigest string `mapstructure:"SourceImageDigest"`
	// The toolkit generation the disk follows: `v1` or `v2`.
	Generation string `mapstructure:"Generation"`
	// The version of the kernel the disk boots (its `/lib/modules`
	// directory name).
	KernelVersion string `mapstructure:"KernelVersion"`
	// The derivative's os-release `VERSION_ID`, else `VERSION`.
	OSVersion string `mapstructure:"OSVersion"`
}
