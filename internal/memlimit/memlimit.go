// Package memlimit gives the front-end binaries one soft memory limit.
//
// The core's live heap grows with the number of entries in a derivative
// (about 100 MiB at 2 GiB), and Go's default GC pacing lets RSS reach
// about twice the live heap. A soft limit makes the collector work harder
// near the limit instead, which kept a 2 GiB build at 187 MiB RSS instead
// of 245 MiB for the same CPU (docs/performance.md). It is a process
// setting, so only main packages call Apply; GOMEMLIMIT still wins.
package memlimit

import (
	"os"
	"runtime/debug"
)

// Default is the soft limit the binaries set when GOMEMLIMIT is unset.
const Default int64 = 192 << 20

// Apply sets Default as the soft memory limit unless GOMEMLIMIT is set,
// and reports whether it did.
func Apply() bool {
	if os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetMemoryLimit(Default)
	return true
}
