// Package cosigntest signs images in tests the way `cosign sign --key`
// does, so that the verifier is tested against the real layout: a
// signature image tagged sha256-<hex>.sig whose layers are simple signing
// payloads annotated with their base64 ECDSA P-256 signatures.
package cosigntest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Key is a signing key and its PEM public key (as cosign.pub holds it).
type Key struct {
	Signer    signature.SignerVerifier
	PublicPEM []byte
}

// NewKey makes a fresh ECDSA P-256 key, cosign's default.
func NewKey(t testing.TB) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pemData, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Signer: sv, PublicPEM: pemData}
}

// Signature is one signature layer: payload bytes and base64 signature.
type Signature struct {
	Payload   []byte
	Signature string
}

// Payload is the simple signing payload cosign signs for digest, claiming
// the identity ref ("registry/repo").
func Payload(t testing.TB, ref string, digest v1.Hash) []byte {
	t.Helper()
	d, err := name.NewDigest("example.org/unused@" + digest.String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := payload.Cosign{ClaimedIdentity: ref, Image: d}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sign signs payload bytes.
func (k *Key) Sign(t testing.TB, p []byte) Signature {
	t.Helper()
	sig, err := k.Signer.SignMessage(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	return Signature{Payload: p, Signature: base64.StdEncoding.EncodeToString(sig)}
}

// SignDigest signs the cosign payload for digest.
func (k *Key) SignDigest(t testing.TB, ref string, digest v1.Hash) Signature {
	t.Helper()
	return k.Sign(t, Payload(t, ref, digest))
}

// Image is the signature image holding sigs, one layer each, laid out as
// cosign does (OCI manifest and config, simple signing layers annotated
// with dev.cosignproject.cosign/signature).
func Image(t testing.TB, sigs ...Signature) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, s := range sigs {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:       static.NewLayer(s.Payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
			Annotations: map[string]string{"dev.cosignproject.cosign/signature": s.Signature},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// Tag is the tag cosign stores the signatures of digest under.
func Tag(digest v1.Hash) string { return digest.Algorithm + "-" + digest.Hex + ".sig" }

// Push pushes the signature image of sigs to repo ("host/repo") tagged for
// digest.
func Push(t testing.TB, repo string, digest v1.Hash, sigs ...Signature) {
	t.Helper()
	tag, err := name.NewTag(repo + ":" + Tag(digest))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, Image(t, sigs...)); err != nil {
		t.Fatalf("pushing %s: %v", tag, err)
	}
}

// AddToLayout appends the signature image of sigs to the OCI layout at dir
// tagged for digest (org.opencontainers.image.ref.name), as copying the
// signature tag into a layout does.
func AddToLayout(t testing.TB, dir string, digest v1.Hash, sigs ...Signature) {
	t.Helper()
	appendLayout(t, dir, Image(t, sigs...), map[string]string{"org.opencontainers.image.ref.name": Tag(digest)})
}

// SaveToLayout appends the signature image of sigs to the layout at dir
// the way `cosign save` does: untagged, annotated kind=…/sigs.
func SaveToLayout(t testing.TB, dir string, sigs ...Signature) {
	t.Helper()
	appendLayout(t, dir, Image(t, sigs...), map[string]string{"kind": "dev.cosignproject.cosign/sigs"})
}

func appendLayout(t testing.TB, dir string, img v1.Image, ann map[string]string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(ann)); err != nil {
		t.Fatal(err)
	}
}
