package derivative

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refNameAnnotation carries the tag inside the layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// buildVariant makes layers 2 and 3 and writes the layout to dir.
func (b *builder) buildVariant(ctx context.Context, v Variant, standin, dir string) (*Built, error) {
	start := time.Now()
	bs, err := b.ensureBase(ctx)
	if err != nil {
		return nil, err
	}
	client, host, err := b.sshKeys(ctx)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(b.cache, "work-")
	if err != nil {
		return nil, fmt.Errorf("creating work dir: %w", err)
	}
	defer os.RemoveAll(work)

	grubEFI, err := b.grubImage(ctx, bs.tree)
	if err != nil {
		return nil, err
	}
	initrd, mods, err := buildInitrd(initrdInput{tree: bs.tree, kernel: bs.kernel,
		generation: v.Generation, standin: standin, mtime: b.epoch.Unix()})
	if err != nil {
		return nil, err
	}
	b.logf("initrd: %d bytes, modules %v", len(initrd), mods)

	boot := &stage{dir: filepath.Join(work, "boot"), base: bs.tree}
	top := &stage{dir: filepath.Join(work, "top"), base: bs.tree}
	for _, s := range []*stage{boot, top} {
		if err := os.Mkdir(s.dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating stage: %w", err)
		}
	}
	err = stageBoot(boot, bootInput{base: bs, standin: standin, clientPub: client + ".pub",
		hostKey: host, generation: v.Generation, grubEFI: grubEFI, initrdData: initrd})
	if err != nil {
		return nil, fmt.Errorf("staging the boot layer: %w", err)
	}
	whiteouts, err := stageTop(top, v)
	if err != nil {
		return nil, fmt.Errorf("staging the top layer: %w", err)
	}
	layers := []string{bs.layer, filepath.Join(work, "boot.tar.gz"), filepath.Join(work, "top.tar.gz")}
	if err := writeLayer(ctx, layerSpec{root: boot.dir, epoch: b.epoch}, layers[1]); err != nil {
		return nil, err
	}
	if err := writeLayer(ctx, layerSpec{root: top.dir, whiteouts: whiteouts, epoch: b.epoch}, layers[2]); err != nil {
		return nil, err
	}
	hostPub, err := os.ReadFile(host + ".pub")
	if err != nil {
		return nil, fmt.Errorf("reading host key: %w", err)
	}
	built := &Built{Tag: v.String(), SSHKey: client, HostKey: strings.TrimSpace(string(hostPub)), Kernel: bs.kernel}
	if err := b.writeLayout(v, layers, dir, built); err != nil {
		return nil, err
	}
	b.logf("built %s in %s: %s", v, time.Since(start).Round(time.Second), built.Digest)
	pruneOld(dir, v)
	return built, nil
}

// pruneOld removes the variant's layouts from older recipes (and leftovers
// of interrupted builds), so the cache holds one layout per variant.
func pruneOld(keep string, v Variant) {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(keep), v.String()+"-*"))
	for _, o := range old {
		if o != keep {
			_ = os.RemoveAll(o)
		}
	}
}

// writeLayout assembles the OCI image from the layer files and writes it as
// a layout to a temporary directory renamed to dir, with built.json last,
// so a cache entry is either complete or absent.
func (b *builder) writeLayout(v Variant, layers []string, dir string, built *Built) error {
	img, err := assemble(v, layers, b.epoch)
	if err != nil {
		return err
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("removing stale %s: %w", tmp, err)
	}
	p, err := layout.Write(filepath.Join(tmp, "layout"), empty.Index)
	if err != nil {
		return fmt.Errorf("creating layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: v.String()})); err != nil {
		return fmt.Errorf("writing image %s to layout: %w", v, err)
	}
	if err := shareBaseBlob(filepath.Join(tmp, "layout"), layers[0]); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image digest of %s: %w", v, err)
	}
	built.Digest = d.String()
	built.LayoutDir = filepath.Join(dir, "layout")
	data, err := json.MarshalIndent(built, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", builtFile, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, builtFile), data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", builtFile, err)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("publishing %s: %w", dir, err)
	}
	return nil
}

// shareBaseBlob makes the layout readable by non-root consumers (the disk
// builder runs unprivileged; go-containerregistry writes blobs 0600) and
// hard-links the base layer's blob to the cached base layer, which every
// variant shares, instead of keeping a 150 MB copy per variant.
func shareBaseBlob(dir, baseLayer string) error {
	l, err := tarball.LayerFromFile(baseLayer)
	if err != nil {
		return fmt.Errorf("reading base layer: %w", err)
	}
	d, err := l.Digest()
	if err != nil {
		return fmt.Errorf("base layer digest: %w", err)
	}
	blob := filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
	if err := os.Remove(blob); err != nil {
		return fmt.Errorf("replacing base blob: %w", err)
	}
	if err := os.Link(baseLayer, blob); err != nil {
		return fmt.Errorf("linking base blob: %w", err)
	}
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		return os.Chmod(p, 0o644)
	})
}

// assemble builds the OCI image: three gzip layers, an OCI config with the
// fixed creation time and a history entry per layer.
func assemble(v Variant, layers []string, epoch time.Time) (v1.Image, error) {
	created := v1.Time{Time: epoch}
	cfg := &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      created,
		Config: v1.Config{
			Cmd: []string{"/sbin/init"},
			Labels: map[string]string{
				"io.elemental.test.generation": fmt.Sprint(v.Generation),
				"io.elemental.test.version":    v.Version,
			},
		},
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting image config: %w", err)
	}
	what := []string{"base rootfs (Debian 12 bookworm)", fmt.Sprintf("boot and toolkit parts, generation %d", v.Generation), "version " + v.Version}
	var adds []mutate.Addendum
	for i, l := range layers {
		layer, err := tarball.LayerFromFile(l, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", l, err)
		}
		adds = append(adds, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
			History: v1.History{Created: created, CreatedBy: "elemental test derivative: " + what[i]}})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	return img, nil
}

// Push writes the built image to a registry reference. Registries on a
// loopback address are spoken to over plain HTTP, as test registries are.
func Push(ctx context.Context, b *Built, ref string) error {
	if b == nil {
		return errors.New("pushing derivative: nothing built")
	}
	p, err := layout.FromPath(b.LayoutDir)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", b.LayoutDir, err)
	}
	h, err := v1.NewHash(b.Digest)
	if err != nil {
		return fmt.Errorf("parsing digest %q: %w", b.Digest, err)
	}
	img, err := p.Image(h)
	if err != nil {
		return fmt.Errorf("reading image %s from %s: %w", b.Digest, b.LayoutDir, err)
	}
	var opts []name.Option
	if isLoopbackRef(ref) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("pushing %s to %s: %w", b.Tag, ref, err)
	}
	return nil
}

// isLoopbackRef reports whether the reference's registry is localhost or a
// loopback IP.
func isLoopbackRef(ref string) bool {
	host, _, _ := strings.Cut(ref, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
