package synth

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"

	"github.com/elemental-suite/elemental/internal/imagetest"
)

// layerWriter streams one layer: tar → hashed (diff id) → gzip → hashed
// (digest) → a temporary blob file, renamed to its digest by close.
type layerWriter struct {
	*tar.Writer
	dir          string
	f            *os.File
	zw           *pgzip.Writer
	diff, digest hash.Hash
	size         countWriter
	// rawW takes an already encoded tar archive; raw records that it was
	// used, so close does not add a second end-of-archive marker.
	rawW io.Writer
	raw  bool
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func newLayerWriter(dir string) (*layerWriter, error) {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", blobs, err)
	}
	f, err := os.CreateTemp(blobs, ".layer-")
	if err != nil {
		return nil, fmt.Errorf("creating a layer blob in %s: %w", blobs, err)
	}
	lw := &layerWriter{dir: blobs, f: f, diff: sha256.New(), digest: sha256.New()}
	zw, err := pgzip.NewWriterLevel(io.MultiWriter(f, lw.digest, &lw.size), pgzip.DefaultCompression)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("starting gzip: %w", err)
	}
	lw.zw = zw
	lw.rawW = io.MultiWriter(zw, lw.diff)
	lw.Writer = tar.NewWriter(lw.rawW)
	return lw, nil
}

// close finishes the blob and returns its descriptor and diff id.
func (lw *layerWriter) close() (v1.Descriptor, v1.Hash, error) {
	var d v1.Descriptor
	var err error
	if !lw.raw {
		err = lw.Writer.Close()
	}
	if err == nil {
		err = lw.zw.Close()
	}
	if cerr := lw.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(lw.f.Name())
		return d, v1.Hash{}, fmt.Errorf("writing layer blob: %w", err)
	}
	d = v1.Descriptor{MediaType: types.OCILayer, Size: lw.size.n, Digest: sum(lw.digest)}
	if err := os.Rename(lw.f.Name(), filepath.Join(lw.dir, d.Digest.Hex)); err != nil {
		return d, v1.Hash{}, fmt.Errorf("naming layer blob: %w", err)
	}
	return d, sum(lw.diff), nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// writeBlob stores data as a blob and returns its descriptor.
func writeBlob(dir string, mt types.MediaType, data []byte) (v1.Descriptor, error) {
	h := sha256.Sum256(data)
	d := v1.Descriptor{MediaType: mt, Size: int64(len(data)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])}}
	p := filepath.Join(dir, "blobs", "sha256", d.Digest.Hex)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return d, fmt.Errorf("writing blob %s: %w", d.Digest, err)
	}
	return d, nil
}

// writeImage writes config, manifest, index.json and oci-layout for the
// layers already stored in dir.
func writeImage(dir, tag string, layers []v1.Descriptor, diffs []v1.Hash) error {
	created := v1.Time{Time: imagetest.EpochTime()}
	cfg := v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: created,
		Config: v1.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: diffs},
	}
	for i := range layers {
		cfg.History = append(cfg.History, v1.History{Created: created, CreatedBy: fmt.Sprintf("synth layer %d", i)})
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding config: %w", err)
	}
	cd, err := writeBlob(dir, types.OCIConfigJSON, cfgJSON)
	if err != nil {
		return err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cd, Layers: layers}
	mJSON, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	md, err := writeBlob(dir, types.OCIManifestSchema1, mJSON)
	if err != nil {
		return err
	}
	md.Annotations = map[string]string{"org.opencontainers.image.ref.name": tag}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{md}}
	iJSON, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encoding index: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), iJSON, 0o644); err != nil {
		return fmt.Errorf("writing index.json: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}
