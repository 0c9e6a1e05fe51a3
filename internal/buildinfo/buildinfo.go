// Package buildinfo names the suite's version in the running binary, for
// the provenance the publishers record on cloud images. It reads Go's
// build info rather than a linker flag so that any binary embedding the
// suite (the Packer plugin, the Terraform provider, a user's program)
// reports the module version it was built from.
package buildinfo

import "runtime/debug"

// modulePath is the suite's Go module.
const modulePath = "github.com/elemental-suite/elemental"

// Version is the version of the suite's module in the running binary:
// the module version (or the VCS pseudo version Go stamps) when the suite
// is the main module or a dependency, else "devel".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return version(bi)
}

func version(bi *debug.BuildInfo) string {
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			v = d.Version
			if d.Replace != nil && d.Replace.Version != "" {
				v = d.Replace.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}
