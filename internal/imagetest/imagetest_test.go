package imagetest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// paths walks ref with oci and returns the delivered entries by path.
func paths(t *testing.T, ref string) map[string]rootfs.Entry {
	t.Helper()
	src, err := oci.Open(context.Background(), ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]rootfs.Entry{}
	err = src.Walk(context.Background(), rootfs.SinkFunc(func(e *rootfs.Entry) (io.WriteCloser, error) {
		got[e.Path] = *e
		if e.Type == rootfs.TypeReg {
			return rootfs.Discard(), nil
		}
		return nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDerivativeWalks(t *testing.T) {
	common := []string{
		"etc/os-release", "usr/lib/modules/6.1.0-test/kernel/x.ko", "boot/vmlinuz-6.1.0-test", "boot/initrd-6.1.0-test",
		"boot/vmlinuz", "boot/initrd", "usr/bin/elemental", "var/lib/cache/c",
		"usr/lib/grub/x86_64-efi/loopback.mod", "usr/lib/grub/x86_64-efi/squash4.mod", "usr/lib/grub/x86_64-efi/xzio.mod",
	}
	v1Only := []string{"etc/cos/grub.cfg", "etc/cos/bootargs.cfg", "usr/share/efi/x86_64/shim.efi",
		"usr/share/efi/x86_64/grub.efi", "usr/share/efi/x86_64/MokManager.efi"}
	v2Only := []string{"etc/elemental/grub.cfg", "etc/elemental/bootargs.cfg", "usr/lib/elemental/bootloader/shimx64.efi",
		"usr/lib/elemental/bootloader/grubx64.efi", "usr/lib/elemental/bootloader/mmx64.efi"}
	gone := []string{imagetest.WhitedOut, imagetest.OpaqueDir + "/a", imagetest.OpaqueDir + "/b"}
	tests := []struct {
		name          string
		gen           int
		want, notWant []string
	}{
		{name: "v1", gen: 1, want: append(append([]string{}, common...), v1Only...), notWant: append(append([]string{}, gone...), v2Only...)},
		{name: "v2", gen: 2, want: append(append([]string{}, common...), v2Only...), notWant: append(append([]string{}, gone...), v1Only...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := imagetest.Image(imagetest.Derivative(tc.gen, "9.9")...)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "layout")
			if err := imagetest.WriteLayout(dir, img, "v"); err != nil {
				t.Fatal(err)
			}
			got := paths(t, oci.LayoutPrefix+dir)
			for _, p := range tc.want {
				if _, ok := got[p]; !ok {
					t.Errorf("%s missing", p)
				}
			}
			for _, p := range tc.notWant {
				if _, ok := got[p]; ok {
					t.Errorf("%s present", p)
				}
			}
			if e := got["boot/vmlinuz"]; e.Type != rootfs.TypeSymlink || e.Linkname != "vmlinuz-6.1.0-test" {
				t.Errorf("boot/vmlinuz = %+v", e)
			}
		})
	}
}

func TestBootargsMarkers(t *testing.T) {
	tests := []struct {
		name         string
		gen          int
		file, marker string
	}{
		{name: "v1", gen: 1, file: "etc/cos/bootargs.cfg", marker: "cos-img/filename="},
		{name: "v2", gen: 2, file: "etc/elemental/bootargs.cfg", marker: "elemental.mode="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			found := false
			for _, l := range imagetest.Derivative(tc.gen, "1") {
				for _, f := range l {
					if f.Path == tc.file {
						found = strings.Contains(string(f.Data), tc.marker) && strings.Contains(string(f.Data), "set kernel=/boot/vmlinuz")
					}
				}
			}
			if !found {
				t.Errorf("%s with %q not found", tc.file, tc.marker)
			}
		})
	}
}

func TestImageDeterministic(t *testing.T) {
	digest := func() v1.Hash {
		img, err := imagetest.Image(append(imagetest.Derivative(2, "1"), imagetest.Torture("usr/bin/elemental"))...)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := img.ConfigFile()
		if cfg.OS != "linux" || cfg.Architecture != "amd64" || !cfg.Created.Time.Equal(imagetest.EpochTime()) {
			t.Errorf("config %s/%s created %v", cfg.OS, cfg.Architecture, cfg.Created)
		}
		return d
	}
	if a, b := digest(), digest(); a != b {
		t.Errorf("two builds differ: %s vs %s", a, b)
	}
}

// tarList reads a layer with archive/tar.
func tarList(t *testing.T, l imagetest.Layer) map[string]*tar.Header {
	t.Helper()
	b, err := l.Tar()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "torture/sparse" {
			head := make([]byte, 12)
			io.ReadFull(tr, head)
			if string(head) != "sparse head\n" {
				t.Errorf("sparse head = %q", head)
			}
			n, err := io.Copy(io.Discard, tr)
			if err != nil || n != imagetest.SparseSize-12 {
				t.Errorf("sparse rest: %d bytes, %v", n, err)
			}
		}
		out[h.Name] = h
	}
}

func TestTortureTar(t *testing.T) {
	hs := tarList(t, imagetest.Torture("usr/bin/elemental"))
	type hdr struct {
		Type         byte
		Mode         int64
		Size         int64
		Link         string
		Major, Minor int64
		Cap          string
	}
	tests := []struct {
		name string
		want hdr
	}{
		{"torture/sparse", hdr{Type: tar.TypeReg, Mode: 0o644, Size: imagetest.SparseSize}},
		{"torture/lowerlink", hdr{Type: tar.TypeLink, Mode: 0o644, Link: "usr/bin/elemental"}},
		{"torture/ping", hdr{Type: tar.TypeReg, Mode: 0o755, Size: 5, Cap: imagetest.Capability}},
		{"torture/setuid", hdr{Type: tar.TypeReg, Mode: 0o4755, Size: 3}},
		{"torture/sda", hdr{Type: tar.TypeBlock, Mode: 0o660, Major: 8}},
		{"dev/null", hdr{Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3}},
		{"torture/" + imagetest.LongName, hdr{Type: tar.TypeReg, Mode: 0o644, Size: 5}},
		{"dev/", hdr{Type: tar.TypeDir, Mode: 0o755}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := hs[tc.name]
			if !ok {
				t.Fatalf("%q not in archive", tc.name)
			}
			got := hdr{h.Typeflag, h.Mode, h.Size, h.Linkname, h.Devmajor, h.Devminor, h.PAXRecords["SCHILY.xattr.security.capability"]}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if len(imagetest.Capability) != 20 {
		t.Errorf("capability value has %d bytes, want 20 (VFS_CAP_REVISION_2)", len(imagetest.Capability))
	}
}

// TestTortureGNUTar checks the hand-encoded PAX sparse entry and the rest
// of the torture layer with GNU tar, an independent reader.
func TestTortureGNUTar(t *testing.T) {
	gtar, err := exec.LookPath("tar")
	if err != nil {
		t.Skipf("needs GNU tar: %v", err)
	}
	b, err := imagetest.Torture("usr/bin/elemental").Tar()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gtar, "--numeric-owner", "-tvf", f).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvf: %v\n%s", err, out)
	}
	list := string(out)
	for _, want := range []string{
		"-rw-r--r-- 0/0      1073741824 2024-01-02 03:04 torture/sparse",
		"hrw-r--r-- 0/0               0 2024-01-02 03:04 torture/lowerlink link to usr/bin/elemental",
		"crw-rw-rw- 0/0             1,3 2024-01-02 03:04 dev/null",
		"brw-rw---- 0/6             8,0 2024-01-02 03:04 torture/sda",
		"prw------- 0/0               0 2024-01-02 03:04 torture/fifo",
		"-rwsr-xr-x 0/0               3 2024-01-02 03:04 torture/setuid",
		"drwxrwxrwt 0/0               0 2024-01-02 03:04 torture/sticky/",
		"torture/ünïcødé-日本語.txt",
		"torture/" + imagetest.LongName + "\n",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("tar -tv lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "GNUSparseFile") {
		t.Errorf("GNU tar did not decode the sparse entry:\n%s", list)
	}
}

func TestWithParents(t *testing.T) {
	l := imagetest.Layer{
		{Path: "a/b/c", Type: rootfs.TypeReg},
		{Path: "a/d", Type: rootfs.TypeDir},
		{Path: "a/d/e", Type: rootfs.TypeReg},
		{Path: "x", Type: rootfs.TypeReg},
	}.WithParents()
	var got []string
	for _, f := range l {
		got = append(got, f.Path)
	}
	want := []string{"a", "a/b", "a/b/c", "a/d", "a/d/e", "x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestIndexAndRegistry(t *testing.T) {
	amd, _ := imagetest.Image(imagetest.Derivative(2, "a")...)
	arm, _ := imagetest.Image(imagetest.Derivative(2, "b")...)
	idx, err := imagetest.Index(map[string]v1.Image{"linux/arm64": arm, "linux/amd64": amd})
	if err != nil {
		t.Fatal(err)
	}
	host := imagetest.Registry(t)
	imagetest.PushIndex(t, host+"/multi:v1", idx)
	ref, _ := name.ParseReference(host + "/multi:v1")
	got, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := got.IndexManifest()
	var plats []string
	for _, d := range im.Manifests {
		img, _ := got.Image(d.Digest)
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		plats = append(plats, d.Platform.String()+"="+cfg.OS+"/"+cfg.Architecture)
	}
	if diff := cmp.Diff([]string{"linux/amd64=linux/amd64", "linux/arm64=linux/arm64"}, plats); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDockerArchive(t *testing.T) {
	img, _ := imagetest.Image(imagetest.Derivative(1, "1")...)
	f := filepath.Join(t.TempDir(), "img.tar")
	if err := imagetest.WriteDockerArchive(f, img, "elemental/os:v1"); err != nil {
		t.Fatal(err)
	}
	got := paths(t, oci.ArchivePrefix+f+":elemental/os:v1")
	if _, ok := got["etc/cos/grub.cfg"]; !ok {
		t.Errorf("etc/cos/grub.cfg missing from the archive's rootfs")
	}
}
