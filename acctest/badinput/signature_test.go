package badinput_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/elemental-suite/elemental/internal/cosign"
	"github.com/elemental-suite/elemental/internal/cosign/cosigntest"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/installer"
)

// TestSignatureRefusals covers source verification: images that are
// unsigned, signed by another key, signed for another digest or whose
// signed payload was altered are refused with the reference, the
// signature tag searched and the reason, and nothing is left behind.
func TestSignatureRefusals(t *testing.T) {
	key, other := cosigntest.NewKey(t), cosigntest.NewKey(t)
	img := image(t, derivativeWith()...)
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	tag := "sha256-" + digest.Hex + ".sig"
	elsewhere := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e1", 32)}
	tampered := key.SignDigest(t, "example.org/elemental", elsewhere)
	tampered.Payload = []byte(strings.Replace(string(tampered.Payload), elsewhere.String(), digest.String(), 1))
	cases := []struct {
		name string
		sigs []cosigntest.Signature // nil: unsigned
		want string
		is   error
	}{
		{"unsigned", nil, "", cosign.ErrNoSignature},
		{"signed by another key", []cosigntest.Signature{other.SignDigest(t, "example.org/elemental", digest)},
			": signature does not verify with the key (1 signature(s) tried): layer 0: invalid signature when validating ASN.1 encoded signature", cosign.ErrBadSignature},
		{"signature for another digest", []cosigntest.Signature{key.SignDigest(t, "example.org/elemental", elsewhere)},
			`: layer 0 signs "` + elsewhere.String() + `", not ` + digest.String() + ": signature is for another image", cosign.ErrDigestMismatch},
		{"tampered payload", []cosigntest.Signature{tampered},
			": signature does not verify with the key (1 signature(s) tried): layer 0: invalid signature when validating ASN.1 encoded signature", cosign.ErrBadSignature},
		{"signature layers from another key and for another digest", []cosigntest.Signature{other.SignDigest(t, "x", digest), key.SignDigest(t, "x", elsewhere)},
			`: layer 1 signs "` + elsewhere.String() + `"`, cosign.ErrDigestMismatch},
	}
	host := imagetest.Registry(t)
	for i, c := range cases {
		for _, kind := range []string{"registry", "layout"} {
			t.Run(kind+" "+c.name, func(t *testing.T) {
				var src, sigRef, none string
				if kind == "registry" {
					repo := host + "/signed" + string(rune('a'+i))
					src, sigRef = repo+":v1", repo+":"+tag
					imagetest.Push(t, src, img)
					if c.sigs != nil {
						cosigntest.Push(t, repo, digest, c.sigs...)
					}
					none = ": no signature (tag not found)"
				} else {
					src = layoutRef(t, img)
					dir := strings.TrimSuffix(strings.TrimPrefix(src, "oci-layout:"), ":test")
					sigRef = "oci-layout:" + dir + ":" + tag
					if c.sigs != nil {
						cosigntest.AddToLayout(t, dir, digest, c.sigs...)
					}
					none = ": no signature (no image tagged " + tag + " or saved by cosign as signatures in the layout)"
				}
				want := c.want
				if c.sigs == nil {
					want = none
				}
				spec := installer.Spec{Source: src, OutputDir: filepath.Join(t.TempDir(), "out"),
					Verify: &installer.Verification{PublicKey: key.PublicPEM, KeyOrigin: "cosign.pub"}}
				err := runFailingIn(t, spec, []string{"verifying cosign signature of " + src + " with key cosign.pub: " + sigRef + want})
				if !isAny(err, c.is) {
					t.Errorf("error is not %v", c.is)
				}
			})
		}
	}
}

// TestSignatureSpecRefusals covers verification settings refused before
// the source is opened.
func TestSignatureSpecRefusals(t *testing.T) {
	key := cosigntest.NewKey(t)
	archive := filepath.Join(t.TempDir(), "d.tar")
	if err := imagetest.WriteDockerArchive(archive, image(t, derivativeWith()...), "example.org/d:v1"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec installer.Spec
		want string
		is   error
	}{
		{"docker archive", installer.Spec{Source: "docker-archive:" + archive, Verify: &installer.Verification{PublicKey: key.PublicPEM, KeyOrigin: "cosign.pub"}},
			"source verification of docker-archive:" + archive + ": docker archives carry no registry manifest digest for a signature to name; use a registry reference or an oci-layout: source kind cannot be verified", cosign.ErrUnsupportedSource},
		{"key file empty", installer.Spec{Source: layoutRef(t, image(t, derivativeWith()...)), Verify: &installer.Verification{KeyOrigin: "cosign.pub"}},
			"source verification: public key cosign.pub: empty: unusable public key", cosign.ErrBadKey},
		{"private key given", installer.Spec{Source: layoutRef(t, image(t, derivativeWith()...)), Verify: &installer.Verification{KeyOrigin: "cosign.key",
			PublicKey: []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")}},
			"source verification: public key cosign.key: this is a private key; give the public key (cosign.pub): unusable public key", cosign.ErrBadKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.OutputDir = filepath.Join(t.TempDir(), "out")
			err := runFailingIn(t, c.spec, []string{c.want})
			if !isAny(err, c.is) {
				t.Errorf("error is not %v", c.is)
			}
		})
	}
}

// runFailingIn is runFailing for an output directory that does not exist
// yet: it must still not exist after the refusal, and TMPDIR must have
// gained nothing.
func runFailingIn(t *testing.T, spec installer.Spec, want []string) error {
	t.Helper()
	spec.SourceDateEpoch = imagetest.Epoch
	before := tmpListing(t)
	res, err := installer.Run(context.Background(), spec)
	if err == nil {
		t.Fatalf("Run succeeded (%v), want an error containing %q", res.Outputs, want)
	}
	t.Logf("error: %v", err)
	checkError(t, err, want)
	if _, serr := os.Stat(spec.OutputDir); !os.IsNotExist(serr) {
		t.Errorf("refused run left %s behind (%v)", spec.OutputDir, serr)
	}
	checkClean(t, filepath.Dir(spec.OutputDir), before)
	return err
}
