package elemental

import "github.com/elemental-suite/elemental/internal/installer"

// Spec exposes the prepared spec to the tests.
func (b *Builder) Spec() installer.Spec { return b.spec }
