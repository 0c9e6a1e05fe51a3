package squashfs

import (
	"testing"
	"unsafe"
)

// TestNodeSize guards the per-entry memory: one node lives per entry for
// the whole build (issue 7).
func TestNodeSize(t *testing.T) {
	if got := unsafe.Sizeof(node{}); got > 96 {
		t.Errorf("node is %d bytes, want at most 96", got)
	}
}
