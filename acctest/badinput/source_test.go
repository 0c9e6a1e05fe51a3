package badinput_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
	"github.com/elemental-suite/elemental/internal/layout"
	"github.com/elemental-suite/elemental/internal/oci"
)

// TestBrokenSources covers broken blobs, manifests and references.
func TestBrokenSources(t *testing.T) {
	good := blob(t, imagetest.Layer{reg("srv/data", "some data that compresses\n")})
	cases := []struct {
		name string
		src  func(t *testing.T) string
		spec installer.Spec
		want []string
		is   error
	}{
		{name: "truncated gzip", src: func(t *testing.T) string { return blobsRef(t, good[:len(good)/2]) },
			want: []string{"reading tar: unexpected EOF"}},
		{name: "gzip checksum flipped", src: func(t *testing.T) string {
			b := bytes.Clone(good)
			b[len(b)-8] ^= 0xff // CRC-32 of the trailer
			return blobsRef(t, b)
		}, want: []string{"reading past the end of the archive: gzip: invalid checksum"}},
		{name: "garbage blob", src: func(t *testing.T) string { return blobsRef(t, bytes.Repeat([]byte("garbage!"), 200)) },
			want: []string{"reading tar: archive/tar: invalid tar header"}},
		{name: "layout blob altered after writing", src: alteredLayout, want: []string{"blob has digest sha256:", "digest mismatch"}, is: oci.ErrDigestMismatch},
		{name: "zero layers", src: func(t *testing.T) string {
			img, err := imagetest.ImageFromBlobs()
			if err != nil {
				t.Fatal(err)
			}
			return layoutRef(t, img)
		}, want: []string{"image has no layers"}, is: oci.ErrNoLayers},
		{name: "index without the platform", src: func(t *testing.T) string {
			idx, err := imagetest.Index(map[string]v1.Image{"linux/arm64": image(t, imagetest.Derivative(2, "A")...), "linux/s390x": image(t, imagetest.Derivative(2, "A")...)})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "layout")
			if err := imagetest.WriteLayoutIndex(dir, idx, "test"); err != nil {
				t.Fatal(err)
			}
			return "oci-layout:" + dir + ":test"
		}, want: []string{"no image for platform linux/amd64 in index (available: linux/arm64, linux/s390x): platform not found"}, is: oci.ErrPlatformNotFound},
		{name: "image of another platform", src: goodLayout, spec: installer.Spec{Platform: "linux/arm64"},
			want: []string{"image is for linux/amd64, not linux/arm64: platform not found"}, is: oci.ErrPlatformNotFound},
		{name: "layout tag absent", src: func(t *testing.T) string { return goodLayout(t)[:len(goodLayout(t))-len("test")] + "nope" },
			want: []string{`no manifest tagged "nope" in layout (tags: test)`}},
		{name: "layout directory absent", src: func(t *testing.T) string { return "oci-layout:" + filepath.Join(t.TempDir(), "none") },
			want: []string{"reading layout", "no such file or directory"}},
		{name: "docker archive truncated", src: truncatedArchive, want: []string{"reading docker archive", "unexpected EOF"}},
		{name: "unparsable registry reference", src: func(*testing.T) string { return "Registry.example/UPPER:tag" },
			want: []string{"parsing reference: could not parse reference: Registry.example/UPPER:tag"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec
			spec.Source = c.src(t)
			err := runFailing(t, spec, c.want)
			if !isAny(err, c.is) {
				t.Errorf("error is not %v: %v", c.is, err)
			}
		})
	}
}

func goodLayout(t *testing.T) string { return layoutRef(t, image(t, imagetest.Derivative(2, "A")...)) }

// alteredLayout flips one byte of the top layer's blob in the layout, in
// the gzip header's MTIME so that the blob still decodes to the same tar.
func alteredLayout(t *testing.T) string {
	img := image(t, imagetest.Derivative(2, "A")...)
	ref := layoutRef(t, img)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ls[len(ls)-1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	dir := ref[len("oci-layout:") : len(ref)-len(":test")]
	p := filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[4] ^= 0x01 // gzip MTIME: the layer still decodes, only the digest differs
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return ref
}

func truncatedArchive(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := imagetest.WriteDockerArchive(p, image(t, imagetest.Derivative(2, "A")...), "example.org/x:y"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	return "docker-archive:" + p
}

// TestBadSpecs covers sizes that cannot hold the image and invalid fields.
func TestBadSpecs(t *testing.T) {
	src := goodLayout(t)
	big := layoutRef(t, image(t, derivativeWith(imagetest.Layer{{Path: "srv/big", Type: 2, Data: noise(24 << 20)}})...))
	cases := []struct {
		name string
		spec installer.Spec
		want []string
	}{
		{"state partition smaller than the image", installer.Spec{Source: big, Sizes: installer.Sizes{State: 8 * layout.MiB}}, []string{"planning the disk", "partition state: content needs ", " MiB but its size is 8 MiB"}},
		{"recovery partition smaller than the image", installer.Spec{Source: big, Sizes: installer.Sizes{Recovery: 8 * layout.MiB}}, []string{"planning the disk", "partition recovery: content needs ", " MiB but its size is 8 MiB"}},
		{"disk smaller than the content", installer.Spec{Source: big, DiskSize: 64 * layout.MiB}, []string{"planning the disk", "disk size 64 MiB is smaller than the ", " MiB the partitions need"}},
		{"invalid cloud-config YAML", installer.Spec{Source: src, CloudConfigs: []installer.CloudConfig{{Origin: "bad.yaml", Data: []byte("users: [\n")}}},
			[]string{"cloud config 1 (bad.yaml): invalid YAML: yaml: line 1:"}},
		{"cloud-config not a mapping", installer.Spec{Source: src, CloudConfigs: []installer.CloudConfig{{Data: []byte("ok: 1\n")}, {Data: []byte("- a\n- b\n")}}},
			[]string{"cloud config 2 (#2): want a YAML mapping at the top level, got []interface {}"}},
		{"negative disk size", installer.Spec{Source: src, DiskSize: -1}, []string{"disk size: -1 is negative"}},
		{"unsupported platform", installer.Spec{Source: src, Platform: "windows/amd64"}, []string{`platform "windows/amd64": want linux/amd64 or linux/arm64`}},
		{"name escaping the output directory", installer.Spec{Source: src, Name: "../evil"}, []string{`name "../evil": must be a plain file name`}},
		{"unknown squashfs compression", installer.Spec{Source: src, SquashfsCompression: "lz4"}, []string{`squashfs compression "lz4": want gzip or xz`}},
		{"empty source", installer.Spec{}, []string{"source: required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runFailing(t, c.spec, c.want)
		})
	}
}

// TestExistingOutputKept checks that an existing output is neither
// replaced nor removed when overwrite is off.
func TestExistingOutputKept(t *testing.T) {
	out := t.TempDir()
	p := filepath.Join(out, "elemental.raw")
	if err := os.WriteFile(p, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	runFailing(t, installer.Spec{Source: goodLayout(t), OutputDir: out},
		[]string{"output " + p + " already exists (set overwrite to replace it)"}, "elemental.raw")
	if b, err := os.ReadFile(p); err != nil || string(b) != "precious" {
		t.Errorf("existing output changed: %q, %v", b, err)
	}
}

// noise returns n incompressible, deterministic bytes.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
