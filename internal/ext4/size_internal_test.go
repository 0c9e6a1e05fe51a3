package ext4

import (
	"testing"
	"unsafe"
)

// TestInodeSize guards the per-entry memory: one inode lives per entry
// for the whole build (issue 7).
func TestInodeSize(t *testing.T) {
	if got := unsafe.Sizeof(inode{}); got > 144 {
		t.Errorf("inode is %d bytes, want at most 144", got)
	}
}
