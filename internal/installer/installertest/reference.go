package installertest

import (
	"context"
	"testing"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

// Reference builds spec with installer.Run and returns the result and the
// path of its first output, which must be a raw disk (the default format,
// or diskformat.Raw first in spec.Formats). An empty spec.OutputDir is a
// fresh t.TempDir. It fails t on any error. The disk stays in its file:
// a default-sized disk is GiBs of mostly holes, which a test reading it
// into memory (4x more under the race detector) cannot afford.
func Reference(t testing.TB, spec installer.Spec) (*installer.Result, string) {
	t.Helper()
	if spec.OutputDir == "" {
		spec.OutputDir = t.TempDir()
	}
	res, err := installer.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("reference build of %s: %v", spec.Source, err)
	}
	if len(res.Outputs) == 0 || res.Outputs[0].Format != diskformat.Raw {
		t.Fatalf("reference build of %s wrote %+v, want a raw disk first", spec.Source, res.Outputs)
	}
	return res, res.Outputs[0].Path
}
