package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const refNameAnnotation = "org.opencontainers.image.ref.name"

// remoteOptions turns Options into go-containerregistry options.
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

func (s *Source) openRemote(ctx context.Context, ref string, want v1.Platform) error {
	var nopts []name.Option
	if s.opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return fmt.Errorf("parsing reference: %w", err)
	}
	s.repo = r.Context()
	if s.puller, err = remote.NewPuller(remoteOptions(s.opts)...); err != nil {
		return fmt.Errorf("creating registry client: %w", err)
	}
	desc, err := s.puller.Get(ctx, r)
	if err != nil {
		return fmt.Errorf("fetching manifest: %w", err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return fmt.Errorf("reading index: %w", err)
		}
		s.IndexDigest = desc.Digest
		return s.pickPlatform(idx, want)
	}
	if s.img, err = desc.Image(); err != nil {
		return fmt.Errorf("reading image manifest: %w", err)
	}
	s.Digest = desc.Digest
	return nil
}

// pickPlatform selects the manifest for want from idx, preferring an exact
// variant match, and records its digest.
func (s *Source) pickPlatform(idx v1.ImageIndex, want v1.Platform) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index manifest: %w", err)
	}
	var pick *v1.Descriptor
	seen := map[string]bool{}
	var avail []string
	for i := range im.Manifests {
		d := &im.Manifests[i]
		if d.Platform == nil || !d.MediaType.IsImage() || d.Platform.OS == "unknown" {
			continue
		}
		if p := d.Platform.String(); !seen[p] {
			seen[p] = true
			avail = append(avail, p)
		}
		if platformMatches(*d.Platform, want) && (pick == nil || d.Platform.Variant == want.Variant) {
			pick = d
		}
	}
	if pick == nil {
		sort.Strings(avail)
		return fmt.Errorf("no image for platform %s in index (available: %s): %w",
			want.String(), strings.Join(avail, ", "), ErrPlatformNotFound)
	}
	if s.img, err = idx.Image(pick.Digest); err != nil {
		return fmt.Errorf("reading manifest %s for %s: %w", pick.Digest, want.String(), err)
	}
	s.Digest = pick.Digest
	return nil
}

// splitLayoutRef splits "dir[:tag|@sha256:…]".
func splitLayoutRef(spec string) (dir, tag, digest string) {
	if i := strings.LastIndex(spec, "@"); i >= 0 && strings.HasPrefix(spec[i+1:], "sha256:") {
		return spec[:i], "", spec[i+1:]
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		return spec, "", ""
	}
	if i := strings.LastIndex(spec, ":"); i >= 0 && !strings.Contains(spec[i+1:], "/") {
		return spec[:i], spec[i+1:], ""
	}
	return spec, "", ""
}

func (s *Source) openLayout(spec string, want v1.Platform) error {
	dir, tag, digest := splitLayoutRef(spec)
	p, err := layout.FromPath(dir)
	if err != nil {
		return fmt.Errorf("reading layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return fmt.Errorf("reading layout index: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading layout index: %w", err)
	}
	d, err := findLayoutManifest(im, tag, digest)
	if err != nil {
		return err
	}
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return fmt.Errorf("reading index %s: %w", d.Digest, err)
		}
		s.IndexDigest = d.Digest
		return s.pickPlatform(child, want)
	}
	if s.img, err = idx.Image(d.Digest); err != nil {
		return fmt.Errorf("reading manifest %s: %w", d.Digest, err)
	}
	s.Digest = d.Digest
	return nil
}

// findLayoutManifest picks the descriptor of index.json named by tag (the
// ref.name annotation, bare or after "repo:") or digest, or the only one.
func findLayoutManifest(im *v1.IndexManifest, tag, digest string) (v1.Descriptor, error) {
	var names []string
	for _, d := range im.Manifests {
		ann := d.Annotations[refNameAnnotation]
		switch {
		case digest != "" && d.Digest.String() == digest:
			return d, nil
		case tag != "" && (ann == tag || strings.HasSuffix(ann, ":"+tag)):
			return d, nil
		}
		if ann != "" {
			names = append(names, ann)
		}
	}
	switch {
	case digest != "":
		return v1.Descriptor{}, fmt.Errorf("no manifest %s in layout", digest)
	case tag != "":
		return v1.Descriptor{}, fmt.Errorf("no manifest tagged %q in layout (tags: %s)", tag, strings.Join(names, ", "))
	case len(im.Manifests) == 1:
		return im.Manifests[0], nil
	case len(im.Manifests) == 0:
		return v1.Descriptor{}, errors.New("layout holds no manifest")
	}
	return v1.Descriptor{}, fmt.Errorf("layout holds %d manifests, name one with :tag or @digest (tags: %s)",
		len(im.Manifests), strings.Join(names, ", "))
}

// splitArchiveRef splits "file[:repo:tag]", taking the longest prefix
// that names an existing file as the path.
func splitArchiveRef(spec string) (file, tag string) {
	for i := len(spec); i > 0; i = strings.LastIndex(spec[:i], ":") {
		if st, err := os.Stat(spec[:i]); err == nil && !st.IsDir() {
			if i == len(spec) {
				return spec, ""
			}
			return spec[:i], spec[i+1:]
		}
	}
	return spec, ""
}

func (s *Source) openArchive(spec string) error {
	file, tagStr := splitArchiveRef(spec)
	var tag *name.Tag
	if tagStr != "" {
		t, err := name.NewTag(tagStr)
		if err != nil {
			return fmt.Errorf("parsing tag %q: %w", tagStr, err)
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(file, tag)
	if err != nil {
		return fmt.Errorf("reading docker archive %s: %w", file, err)
	}
	s.img = img
	return nil
}
