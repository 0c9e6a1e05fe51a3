package fat_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/fat"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

const mib = 1 << 20

var epoch = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// file is a test entry: a directory when data is nil and dir is set.
type file struct {
	path string
	dir  bool
	data []byte
}

func dir(p string) file           { return file{path: p, dir: true} }
func reg(p string, s string) file { return file{path: p, data: []byte(s)} }
func blob(p string, n int) file   { return file{path: p, data: pattern(n)} }
func entries(fs ...file) []file   { return fs }
func opts(label string) fat.Options {
	return fat.Options{Label: label, VolumeID: 0x1234abcd, Time: epoch}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// build writes files into a new image of size bytes and returns its path.
func build(t *testing.T, size int64, o fat.Options, files []file) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fat.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	w, err := fat.New(f, size, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := addAll(w, files); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func addAll(w *fat.Writer, files []file) error {
	for _, fl := range files {
		e := &rootfs.Entry{Path: fl.path, Type: rootfs.TypeReg, Mode: 0o644, Size: int64(len(fl.data)), ModTime: epoch}
		if fl.dir {
			e.Type, e.Mode, e.Size = rootfs.TypeDir, 0o755, 0
		}
		wc, err := w.Add(e)
		if err != nil {
			return err
		}
		if wc == nil {
			continue
		}
		// Write in odd-sized chunks to exercise streaming.
		r := bytes.NewReader(fl.data)
		if _, err := io.CopyBuffer(struct{ io.Writer }{wc}, r, make([]byte, 4093)); err != nil {
			return err
		}
		if err := wc.Close(); err != nil {
			return err
		}
	}
	return nil
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("checking the filesystem needs %s (apt packages dosfstools, mtools): %v", name, err)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s%s", name, args, err, out, stderr)
	}
	return out
}

// fsck runs fsck.vfat -n -v, fails the test unless it exits 0, and returns
// its report.
func fsck(t *testing.T, img string) string {
	t.Helper()
	return string(runTool(t, "fsck.vfat", "-n", "-v", img))
}

// listing returns mdir -/ -b style paths: every file and directory below
// the root, with the exact names mtools shows.
func listing(t *testing.T, img string) []string {
	t.Helper()
	out := runTool(t, "mdir", "-/", "-b", "-i", img, "::")
	var paths []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		paths = append(paths, strings.TrimPrefix(strings.TrimSuffix(l, "/"), "::/"))
	}
	return paths
}

func slicesSort(s []string) { sort.Strings(s) }
