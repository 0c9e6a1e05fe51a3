package synth

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/elemental-suite/elemental/internal/imagetest"
)

// Version changes whenever the generator's output changes, so cached
// layouts of an older generator are not reused.
const Version = 1

// Tag is the ref.name of every generated image.
const Tag = "synth"

// SmallPer2GiB is the number of small files per 2 GiB of image.
const SmallPer2GiB = 100_000

// Image is a generated layout.
type Image struct {
	Dir  string // OCI image layout directory
	Size int64  // requested size: the regular-file bytes of the flattened tree, roughly
	// Files, Bytes, Hardlinks, Whiteouts describe what the layers hold.
	Files, Bytes, Hardlinks, Whiteouts int64
	Layers                             int
}

// Ref is the installer source reference of the image.
func (im *Image) Ref() string { return "oci-layout:" + im.Dir + ":" + Tag }

// Ensure returns the image of size bytes cached under cacheDir, generating
// it first when it is missing. Generation is deterministic in size.
func Ensure(cacheDir string, size int64) (*Image, error) {
	if size < 16<<20 {
		return nil, fmt.Errorf("synthetic image of %d bytes: want at least 16 MiB", size)
	}
	dir := filepath.Join(cacheDir, fmt.Sprintf("synth-v%d-%dMiB", Version, size>>20))
	meta := filepath.Join(dir, "synth.json")
	if b, err := os.ReadFile(meta); err == nil {
		im := &Image{}
		if err := json.Unmarshal(b, im); err == nil {
			im.Dir = dir
			return im, nil
		}
	}
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", tmp, err)
	}
	g := &gen{dir: tmp, im: &Image{Size: size}, pool: corpus(uint64(size))}
	if err := g.run(); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("generating the %d MiB synthetic image: %w", size>>20, err)
	}
	b, err := json.MarshalIndent(g.im, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "synth.json"), b, 0o644)
	}
	if err == nil {
		os.RemoveAll(dir)
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("storing the synthetic image: %w", err)
	}
	g.im.Dir = dir
	return g.im, nil
}

// gen carries one generation.
type gen struct {
	dir    string
	im     *Image
	pool   []byte
	layers []v1.Descriptor
	diffs  []v1.Hash
	small  []int64 // sizes of the small files
	large  []int64
}

func (g *gen) run() error {
	size := g.im.Size
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	n := max(int(size*SmallPer2GiB/(2<<30)), 100)
	var smallTotal int64
	for range n {
		var s int64
		switch r := rng.IntN(100); {
		case r < 60:
			s = int64(rng.IntN(1024))
		case r < 90:
			s = 1024 + int64(rng.IntN(7<<10))
		default:
			s = 8<<10 + int64(rng.IntN(56<<10))
		}
		g.small = append(g.small, s)
		smallTotal += s
	}
	rest := max(size-smallTotal, 8<<20)
	for _, pct := range []int64{35, 20, 15, 12, 10, 8} {
		g.large = append(g.large, rest*pct/100)
	}
	base, boot, top := splitDerivative()
	steps := []func(*layerWriter) error{
		rawLayer(base), g.largeLayer, g.smallLayer(0, n/2), g.smallLayer(n/2, n), g.changesLayer,
		rawLayer(boot), rawLayer(top),
	}
	for i, step := range steps {
		lw, err := newLayerWriter(g.dir)
		if err != nil {
			return err
		}
		if err := step(lw); err != nil {
			lw.f.Close()
			os.Remove(lw.f.Name())
			return fmt.Errorf("layer %d: %w", i, err)
		}
		d, diff, err := lw.close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		g.layers, g.diffs = append(g.layers, d), append(g.diffs, diff)
	}
	g.im.Layers = len(g.layers)
	return writeImage(g.dir, Tag, g.layers, g.diffs)
}

// splitDerivative returns the layers of the minimal generation 2
// derivative.
func splitDerivative() (base, boot, top imagetest.Layer) {
	l := imagetest.Derivative(2, "A")
	return l[0], l[1], l[2]
}

// rawLayer writes an imagetest layer's tar as is.
func rawLayer(l imagetest.Layer) func(*layerWriter) error {
	return func(lw *layerWriter) error {
		b, err := l.Tar()
		if err != nil {
			return err
		}
		lw.raw = true
		_, err = lw.rawW.Write(b)
		return err
	}
}

// dirs writes a directory header the first time a directory is seen.
type dirs map[string]bool

func (d dirs) ensure(tw *tar.Writer, p string) error {
	p = path.Dir(p)
	if p == "." || d[p] {
		return nil
	}
	if err := d.ensure(tw, p); err != nil {
		return err
	}
	d[p] = true
	return tw.WriteHeader(&tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: imagetest.EpochTime()})
}

// file writes a regular file of n bytes cut from the pool.
func (g *gen) file(lw *layerWriter, d dirs, rng *rand.Rand, p string, n int64) error {
	if err := d.ensure(lw.Writer, p); err != nil {
		return err
	}
	h := &tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o644, Size: n, ModTime: imagetest.EpochTime()}
	if err := lw.WriteHeader(h); err != nil {
		return err
	}
	g.im.Files++
	g.im.Bytes += n
	return content(g.pool, rng, n, func(b []byte) error { _, err := lw.Write(b); return err })
}

func (g *gen) link(lw *layerWriter, d dirs, p, target string, typ byte) error {
	if err := d.ensure(lw.Writer, p); err != nil {
		return err
	}
	if typ == tar.TypeLink {
		g.im.Hardlinks++
	}
	return lw.WriteHeader(&tar.Header{Name: p, Typeflag: typ, Linkname: target, Mode: 0o777, ModTime: imagetest.EpochTime()})
}

func (g *gen) whiteout(lw *layerWriter, d dirs, p string) error {
	if err := d.ensure(lw.Writer, p); err != nil {
		return err
	}
	g.im.Whiteouts++
	return lw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: imagetest.EpochTime()})
}

const (
	largeDir  = "usr/lib/synth/large"
	smallDir  = "usr/share/synth"
	opaqueDir = "var/lib/synth-opaque"
)

func smallPath(i int) string { return fmt.Sprintf("%s/d%03d/f%06d", smallDir, i/1000, i) }

// largeLayer: the large files, two files the changes layer deletes, and
// hardlinks to two large files.
func (g *gen) largeLayer(lw *layerWriter) error {
	rng := rand.New(rand.NewPCG(uint64(g.im.Size), 2))
	d := dirs{}
	for i, n := range g.large {
		if err := g.file(lw, d, rng, fmt.Sprintf("%s/blob%d.bin", largeDir, i), n); err != nil {
			return err
		}
	}
	for i := range 2 {
		if err := g.file(lw, d, rng, fmt.Sprintf("%s/old%d.bin", largeDir, i), g.im.Size/100); err != nil {
			return err
		}
		p := fmt.Sprintf("%s/blob%d.bin", largeDir, i)
		if err := g.link(lw, d, p+".link", p, tar.TypeLink); err != nil {
			return err
		}
	}
	return nil
}

// smallLayer writes small files from..to, the opaque directory's files
// (first layer), relative symlinks to every 100th file and, in the second
// layer, hardlinks to every 100th file that the changes layer leaves alone.
func (g *gen) smallLayer(from, to int) func(*layerWriter) error {
	return func(lw *layerWriter) error {
		rng := rand.New(rand.NewPCG(uint64(g.im.Size), uint64(3+from)))
		d := dirs{}
		for i := from; i < to; i++ {
			if err := g.file(lw, d, rng, smallPath(i), g.small[i]); err != nil {
				return err
			}
		}
		for i := from; i < to; i += 100 {
			p := fmt.Sprintf("%s/links/s%06d", smallDir, i)
			if err := g.link(lw, d, p, "../"+smallPath(i)[len(smallDir)+1:], tar.TypeSymlink); err != nil {
				return err
			}
			if from > 0 && i%53 != 0 {
				if err := g.link(lw, d, fmt.Sprintf("%s/hard/h%06d", smallDir, i), smallPath(i), tar.TypeLink); err != nil {
					return err
				}
			}
		}
		if from > 0 {
			return nil
		}
		for i := range max(10, len(g.small)/200) {
			if err := g.file(lw, d, rng, fmt.Sprintf("%s/o%05d", opaqueDir, i), 2048); err != nil {
				return err
			}
		}
		return nil
	}
}

// changesLayer deletes the two old large files and every 97th small file
// of the first small layer, replaces every 53rd of the second, and makes
// the opaque directory opaque with a few new files.
func (g *gen) changesLayer(lw *layerWriter) error {
	rng := rand.New(rand.NewPCG(uint64(g.im.Size), 4))
	d := dirs{}
	n := len(g.small)
	for i := range 2 {
		if err := g.whiteout(lw, d, fmt.Sprintf("%s/.wh.old%d.bin", largeDir, i)); err != nil {
			return err
		}
	}
	for i := 0; i < n/2; i += 97 {
		p := smallPath(i)
		if err := g.whiteout(lw, d, path.Dir(p)+"/.wh."+path.Base(p)); err != nil {
			return err
		}
	}
	for i := n/2 - n/2%53 + 53; i < n; i += 53 {
		if err := g.file(lw, d, rng, smallPath(i), g.small[i]/2+100); err != nil {
			return err
		}
	}
	if err := g.whiteout(lw, d, opaqueDir+"/.wh..wh..opq"); err != nil {
		return err
	}
	for i := range 20 {
		if err := g.file(lw, d, rng, fmt.Sprintf("%s/new%02d", opaqueDir, i), 4096); err != nil {
			return err
		}
	}
	return nil
}

var _ io.Writer = (*countWriter)(nil)
