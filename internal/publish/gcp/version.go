package gcp

import "runtime/debug"

// modulePath is the suite's Go module.
const modulePath = "github.com/elemental-suite/elemental"

// BuildVersion is the version of the suite's module in the running
// binary, from its build info: the module version (or the VCS pseudo
// version Go stamps) when the suite is the main module or a dependency,
// else "devel". Spec.SuiteVersion defaults to it.
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
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
