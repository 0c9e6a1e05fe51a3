package aws

import "github.com/elemental-suite/elemental/internal/buildinfo"

// BuildVersion is the suite's version in the running binary
// (buildinfo.Version); Spec.SuiteVersion defaults to it.
func BuildVersion() string { return buildinfo.Version() }
