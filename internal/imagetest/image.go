package imagetest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image builds an OCI image (linux/amd64, created at Epoch) whose layers,
// bottom first, are the gzip-compressed archives of layers.
func Image(layers ...Layer) (v1.Image, error) {
	blobs := make([][]byte, len(layers))
	for i, l := range layers {
		b, err := l.Blob()
		if err != nil {
			return nil, fmt.Errorf("building layer %d: %w", i, err)
		}
		blobs[i] = b
	}
	return ImageFromBlobs(blobs...)
}

// ImageFromBlobs builds an image from already compressed layer blobs. A
// blob that is not valid gzip gets the blob's own digest as its DiffID, so
// tests can package deliberately broken layers.
func ImageFromBlobs(blobs ...[]byte) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, len(blobs))
	for i, b := range blobs {
		adds[i] = mutate.Addendum{
			Layer:     NewLayer(b),
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: EpochTime()}, CreatedBy: fmt.Sprintf("imagetest layer %d", i)},
		}
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	return withPlatform(img, "linux/amd64")
}

// withPlatform sets the creation time and the os/arch/variant of img's
// config to platform ("os/arch[/variant]").
func withPlatform(img v1.Image, platform string) (v1.Image, error) {
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, fmt.Errorf("parsing platform %q: %w", platform, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Created = v1.Time{Time: EpochTime()}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return mutate.ConfigFile(img, cfg)
}

// Index builds an OCI image index with one manifest per entry of imgs,
// keyed by platform ("linux/arm64", "linux/arm/v7"); each image's config is
// rewritten to match its platform. Entries are ordered by platform.
func Index(imgs map[string]v1.Image) (v1.ImageIndex, error) {
	platforms := make([]string, 0, len(imgs))
	for p := range imgs {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, ps := range platforms {
		img, err := withPlatform(imgs[ps], ps)
		if err != nil {
			return nil, err
		}
		p, _ := v1.ParsePlatform(ps)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: p, MediaType: types.OCIManifestSchema1},
		})
	}
	return idx, nil
}

// WriteLayout writes img into an OCI image layout at dir (created if
// needed), annotated with tag as "org.opencontainers.image.ref.name" when
// tag is not empty.
func WriteLayout(dir string, img v1.Image, tag string) error {
	p, err := layoutPath(dir)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, refName(tag)...); err != nil {
		return fmt.Errorf("writing image to layout %s: %w", dir, err)
	}
	return nil
}

// WriteLayoutIndex writes idx into an OCI image layout at dir, like
// WriteLayout.
func WriteLayoutIndex(dir string, idx v1.ImageIndex, tag string) error {
	p, err := layoutPath(dir)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, refName(tag)...); err != nil {
		return fmt.Errorf("writing index to layout %s: %w", dir, err)
	}
	return nil
}

func layoutPath(dir string) (layout.Path, error) {
	if p, err := layout.FromPath(dir); err == nil {
		return p, nil
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", fmt.Errorf("creating layout %s: %w", dir, err)
	}
	return p, nil
}

func refName(tag string) []layout.Option {
	if tag == "" {
		return nil
	}
	return []layout.Option{layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})}
}

// WriteDockerArchive writes img as a "docker save" archive at path, tagged
// tag ("repo:tag"; a bare name gets ":latest").
func WriteDockerArchive(path string, img v1.Image, tag string) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("parsing tag %q: %w", tag, err)
	}
	if err := tarball.WriteToFile(path, t, img); err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	return nil
}

// NewLayer returns a v1.Layer (OCI gzip media type) holding the compressed
// blob b. Its DiffID is the digest of b's decompressed content, or of b
// itself when b does not decompress.
func NewLayer(b []byte) v1.Layer {
	l := &blobLayer{blob: b}
	l.digest, _, _ = v1.SHA256(bytes.NewReader(b))
	l.diffID = l.digest
	if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
		if h, _, err := v1.SHA256(zr); err == nil {
			l.diffID = h
		}
	}
	return l
}

type blobLayer struct {
	blob           []byte
	digest, diffID v1.Hash
}

var _ v1.Layer = (*blobLayer)(nil)

func (l *blobLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)     { return int64(len(l.blob)), nil }
func (l *blobLayer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	zr, err := gzip.NewReader(bytes.NewReader(l.blob))
	if err != nil {
		return nil, fmt.Errorf("decompressing layer %s: %w", l.digest, err)
	}
	return zr, nil
}
