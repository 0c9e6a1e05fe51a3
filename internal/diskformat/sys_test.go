package diskformat_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// diskUsage is the space path occupies on disk.
func diskUsage(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("skipping sparseness check: no block count on this OS")
	}
	return st.Blocks * 512
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
