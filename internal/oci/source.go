package oci

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Reference prefixes of the local image forms accepted by Open.
const (
	LayoutPrefix  = "oci-layout:"
	ArchivePrefix = "docker-archive:"
)

// DefaultPlatform is the platform picked when Options.Platform is empty.
const DefaultPlatform = "linux/amd64"

// Errors callers can test with errors.Is.
var (
	ErrPlatformNotFound = errors.New("platform not found")
	ErrNoLayers         = errors.New("image has no layers")
	ErrDigestMismatch   = errors.New("digest mismatch")
	ErrUnsafePath       = errors.New("path escapes the root")
	ErrNameTooLong      = errors.New("name longer than 255 bytes")
	ErrDuplicate        = errors.New("duplicate entry")
	ErrBadWhiteout      = errors.New("invalid whiteout")
	ErrBadHardlink      = errors.New("invalid hardlink")
	ErrBadEntry         = errors.New("invalid entry")
)

// Options configures Open.
type Options struct {
	// Platform is "os/arch[/variant]"; empty means DefaultPlatform.
	Platform string
	// Username and Password authenticate to the registry; when Username is
	// empty, credentials come from authn.DefaultKeychain (docker config,
	// credential helpers).
	Username, Password string
	// Insecure allows plain-http registries.
	Insecure bool
	// CacheDir, when set, keeps verified compressed layer blobs of remote
	// images (named like go-containerregistry's filesystem cache,
	// "sha256:<hex>") so that several Walks download each blob once.
	CacheDir string
	// Attempts is how many times a registry request failing with a
	// transient error (429, 5xx) is tried, with exponential backoff from
	// one second; zero means 3.
	Attempts int
	// SpillDir, when set, is a private directory where a Walk keeps each
	// layer it decompressed (S2-compressed, about 40% of the tar) so that
	// later Walks read it instead of inflating the blob again (see
	// spill.go). The caller removes the directory.
	SpillDir string
	// Progress, when set, is called as compressed layer bytes are read (a
	// layer read from its spill reports once, whole, at its end).
	Progress func(Progress)
}

// Progress reports how much of a layer has been read during Walk.
type Progress struct {
	// Layer is the index of the layer in the manifest (0 is the base);
	// Layers is the number of layers.
	Layer, Layers int
	Digest        v1.Hash
	// Complete counts the layer bytes read so far (compressed bytes, or
	// uncompressed ones for docker archives); Total is the layer size or -1
	// when unknown.
	Complete, Total int64
}

// LayerInfo describes one layer, for progress and reporting.
type LayerInfo struct {
	// Digest is the blob digest; for docker archives, which may store
	// layers uncompressed, it is the DiffID.
	Digest v1.Hash
	DiffID v1.Hash
	// Size is the blob size, or -1 when unknown (docker archives).
	Size      int64
	MediaType types.MediaType
}

type sourceKind int

const (
	kindUnknown sourceKind = iota
	kindRemote
	kindLayout
	kindArchive
)

// Source is an opened image whose root filesystem can be walked.
type Source struct {
	// Ref is the reference as given to Open.
	Ref string
	// Digest is the digest of the image manifest that was picked (for
	// docker archives, which carry no registry manifest, the config
	// digest, i.e. the Docker image ID).
	Digest v1.Hash
	// IndexDigest is the digest of the index the manifest was picked from,
	// zero when the reference named a manifest directly.
	IndexDigest v1.Hash
	Config      *v1.ConfigFile
	Created     time.Time
	// Platform is the picked image's "os/arch[/variant]".
	Platform string

	kind   sourceKind
	img    v1.Image
	repo   name.Repository
	puller *remote.Puller
	layers []LayerInfo
	opts   Options
}

// Open resolves ref and reads the manifest and config of the image for
// opts.Platform. ref is "registry/repo:tag" or "registry/repo@sha256:…"
// (remote), "oci-layout:/dir[:tag|@sha256:…]" or
// "docker-archive:/file.tar[:repo:tag]".
func Open(ctx context.Context, ref string, opts Options) (*Source, error) {
	if opts.Platform == "" {
		opts.Platform = DefaultPlatform
	}
	want, err := v1.ParsePlatform(opts.Platform)
	if err == nil && (want.OS == "" || want.Architecture == "") {
		err = errors.New("want os/arch[/variant]")
	}
	if err != nil {
		return nil, fmt.Errorf("parsing platform %q: %w", opts.Platform, err)
	}
	s := &Source{Ref: ref, opts: opts}
	switch {
	case strings.HasPrefix(ref, LayoutPrefix):
		s.kind = kindLayout
		err = s.openLayout(strings.TrimPrefix(ref, LayoutPrefix), *want)
	case strings.HasPrefix(ref, ArchivePrefix):
		s.kind = kindArchive
		err = s.openArchive(strings.TrimPrefix(ref, ArchivePrefix))
	default:
		s.kind = kindRemote
		err = s.openRemote(ctx, ref, *want)
	}
	if err != nil {
		return nil, fmt.Errorf("opening image %s: %w", ref, err)
	}
	if err := s.readImage(*want); err != nil {
		return nil, fmt.Errorf("opening image %s: %w", ref, err)
	}
	return s, nil
}

// readImage fills Config, Created, Platform and the layer list from s.img
// and checks the platform of a manifest that was named directly.
func (s *Source) readImage(want v1.Platform) error {
	cfg, err := s.img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	s.Config, s.Created = cfg, cfg.Created.Time
	got := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	s.Platform = got.String()
	if cfg.OS != "" && cfg.Architecture != "" && !platformMatches(got, want) {
		return fmt.Errorf("image is for %s, not %s: %w", got.String(), want.String(), ErrPlatformNotFound)
	}
	if s.kind == kindArchive {
		if s.Digest, err = s.img.ConfigName(); err != nil {
			return fmt.Errorf("reading config digest: %w", err)
		}
		s.layers = make([]LayerInfo, len(cfg.RootFS.DiffIDs))
		for i, d := range cfg.RootFS.DiffIDs {
			s.layers[i] = LayerInfo{Digest: d, DiffID: d, Size: -1, MediaType: types.DockerLayer}
		}
	} else if err := s.readManifest(cfg); err != nil {
		return err
	}
	if len(s.layers) == 0 {
		return ErrNoLayers
	}
	return nil
}

func (s *Source) readManifest(cfg *v1.ConfigFile) error {
	m, err := s.img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	if s.Digest.Hex == "" {
		if s.Digest, err = s.img.Digest(); err != nil {
			return fmt.Errorf("computing manifest digest: %w", err)
		}
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return fmt.Errorf("manifest lists %d layers but config %d diff ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	s.layers = make([]LayerInfo, len(m.Layers))
	for i, d := range m.Layers {
		s.layers[i] = LayerInfo{Digest: d.Digest, DiffID: cfg.RootFS.DiffIDs[i], Size: d.Size, MediaType: d.MediaType}
	}
	return nil
}

// Layers returns the image's layers, base first.
func (s *Source) Layers() []LayerInfo {
	return append([]LayerInfo(nil), s.layers...)
}

// platformMatches reports whether got satisfies want: same OS and
// architecture, and the same variant when want names one.
func platformMatches(got, want v1.Platform) bool {
	return got.OS == want.OS && got.Architecture == want.Architecture &&
		(want.Variant == "" || got.Variant == want.Variant)
}
