package ext4

import (
	"testing"
	"unsafe"
)

// TestInodeSize guards the memory of what stays in memory until Close:
// one inode per directory (files' inodes go to the temporary file when
// their writer closes; see TestHeapPerFile).
func TestInodeSize(t *testing.T) {
	if got := unsafe.Sizeof(inode{}); got > 144 {
		t.Errorf("inode is %d bytes, want at most 144", got)
	}
}
