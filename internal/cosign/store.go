package cosign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/elemental-suite/elemental/internal/oci"
)

// Annotations of OCI layouts: the tag, and the kind `cosign save` gives
// the signature image.
const (
	refNameAnnotation = "org.opencontainers.image.ref.name"
	kindAnnotation    = "kind"
	kindSignatures    = "dev.cosignproject.cosign/sigs"
)

// store is where signature images are looked up.
type store interface {
	// location names where the signatures tagged tag would be.
	location(tag string) string
	// signatures returns the simple signing layers of the image(s) tagged
	// tag, or an error wrapping ErrNoSignature when there are none.
	signatures(ctx context.Context, tag string) ([]sigLayer, error)
}

func newStore(ref string, opts Options) (store, error) {
	switch {
	case strings.HasPrefix(ref, oci.ArchivePrefix):
		return nil, fmt.Errorf("docker archives carry no registry manifest digest for a signature to name; "+
			"verify a registry reference or an oci-layout instead: %w", ErrUnsupportedSource)
	case strings.HasPrefix(ref, oci.LayoutPrefix):
		return &layoutStore{dir: layoutDir(strings.TrimPrefix(ref, oci.LayoutPrefix))}, nil
	}
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("parsing reference: %w", err)
	}
	p, err := remote.NewPuller(remoteOptions(opts)...)
	if err != nil {
		return nil, fmt.Errorf("creating registry client: %w", err)
	}
	return &remoteStore{repo: r.Context(), puller: p}, nil
}

// remoteOptions gives the same authentication and retries as oci.Open.
func remoteOptions(o Options) []remote.Option {
	auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	if o.Username != "" {
		auth = remote.WithAuth(&authn.Basic{Username: o.Username, Password: o.Password})
	}
	attempts := o.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	return []remote.Option{auth, remote.WithRetryBackoff(remote.Backoff{
		Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: attempts,
	})}
}

type remoteStore struct {
	repo   name.Repository
	puller *remote.Puller
}

func (s *remoteStore) location(tag string) string { return s.repo.Tag(tag).String() }

func (s *remoteStore) signatures(ctx context.Context, tag string) ([]sigLayer, error) {
	desc, err := s.puller.Get(ctx, s.repo.Tag(tag))
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w (tag not found)", ErrNoSignature)
		}
		return nil, fmt.Errorf("fetching signature manifest: %w", err)
	}
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("tag holds a %s, not a signature image: %w", desc.MediaType, ErrNoSignature)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading signature manifest: %w", err)
	}
	return readLayers(img, func(d v1.Hash) (v1.Layer, error) {
		return s.puller.Layer(ctx, s.repo.Digest(d.String()))
	})
}

type layoutStore struct{ dir string }

func (s *layoutStore) location(tag string) string { return oci.LayoutPrefix + s.dir + ":" + tag }

// signatures reads the images of the layout tagged tag (bare or after
// "repo:") and those `cosign save` marked as signatures; the payload digest
// check tells which of the latter belong to the image.
func (s *layoutStore) signatures(_ context.Context, tag string) ([]sigLayer, error) {
	p, err := layout.FromPath(s.dir)
	if err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", s.dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading layout index: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading layout index: %w", err)
	}
	var out []sigLayer
	found := false
	for _, d := range im.Manifests {
		ref := d.Annotations[refNameAnnotation]
		if !(ref == tag || strings.HasSuffix(ref, ":"+tag) || d.Annotations[kindAnnotation] == kindSignatures) || !d.MediaType.IsImage() {
			continue
		}
		found = true
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading signature manifest %s: %w", d.Digest, err)
		}
		layers, err := readLayers(img, img.LayerByDigest)
		if err != nil && !errors.Is(err, ErrNoSignature) {
			return nil, err
		}
		out = append(out, layers...)
	}
	if !found {
		return nil, fmt.Errorf("%w (no image tagged %s or saved by cosign as signatures in the layout)", ErrNoSignature, tag)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w (signature images hold no %s layer with a %s annotation)", ErrNoSignature, PayloadMediaType, SignatureAnnotation)
	}
	return out, nil
}

// readLayers reads the payload and signature of each simple signing layer
// of img, fetching blobs with layer.
func readLayers(img v1.Image, layer func(v1.Hash) (v1.Layer, error)) ([]sigLayer, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading signature manifest: %w", err)
	}
	if len(m.Layers) > maxLayers {
		return nil, fmt.Errorf("signature image has %d layers, more than %d", len(m.Layers), maxLayers)
	}
	var out []sigLayer
	for i, d := range m.Layers {
		sig, ok := d.Annotations[SignatureAnnotation]
		if d.MediaType != PayloadMediaType || !ok {
			continue
		}
		l, err := layer(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("signature layer %d: %w", i, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("signature layer %d: %w", i, err)
		}
		payload, err := readPayload(rc, d.Size)
		if err != nil {
			return nil, fmt.Errorf("signature layer %d: %w", i, err)
		}
		out = append(out, sigLayer{payload: payload, signature: sig})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w (signature image holds no %s layer with a %s annotation)", ErrNoSignature, PayloadMediaType, SignatureAnnotation)
	}
	return out, nil
}

// layoutDir takes the directory out of "DIR[:TAG|@sha256:…]" the way
// oci.Open does.
func layoutDir(spec string) string {
	if i := strings.LastIndex(spec, "@"); i >= 0 && strings.HasPrefix(spec[i+1:], "sha256:") {
		return spec[:i]
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		return spec
	}
	if i := strings.LastIndex(spec, ":"); i >= 0 && !strings.Contains(spec[i+1:], "/") {
		return spec[:i]
	}
	return spec
}
