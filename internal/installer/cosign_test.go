package installer_test

import (
	"context"
	"errors"
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

// signedSource publishes a v2 derivative as kind ("registry" or "layout")
// and lets sign attach signatures; it returns the source reference.
func signedSource(t *testing.T, kind string, sign func(t *testing.T, attach func(...cosigntest.Signature), digest v1.Hash)) string {
	t.Helper()
	img, err := imagetest.Image(imagetest.Derivative(2, "A")...)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var ref string
	var attach func(...cosigntest.Signature)
	if kind == "registry" {
		repo := imagetest.Registry(t) + "/signed"
		ref = repo + ":v1"
		imagetest.Push(t, ref, img)
		attach = func(s ...cosigntest.Signature) { cosigntest.Push(t, repo, digest, s...) }
	} else {
		dir := filepath.Join(t.TempDir(), "layout")
		if err := imagetest.WriteLayout(dir, img, "v1"); err != nil {
			t.Fatal(err)
		}
		ref = "oci-layout:" + dir + ":v1"
		attach = func(s ...cosigntest.Signature) { cosigntest.AddToLayout(t, dir, digest, s...) }
	}
	if sign != nil {
		sign(t, attach, digest)
	}
	return ref
}

// TestSourceVerification builds a correctly signed derivative and refuses
// the others before anything is written: the output directory, which does
// not exist yet, must still not exist afterwards.
func TestSourceVerification(t *testing.T) {
	key, other := cosigntest.NewKey(t), cosigntest.NewKey(t)
	otherDigest := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	cases := []struct {
		name string
		sign func(t *testing.T, attach func(...cosigntest.Signature), d v1.Hash)
		is   error
	}{
		{"valid", func(t *testing.T, attach func(...cosigntest.Signature), d v1.Hash) { attach(key.SignDigest(t, "x", d)) }, nil},
		{"unsigned", nil, cosign.ErrNoSignature},
		{"another key", func(t *testing.T, attach func(...cosigntest.Signature), d v1.Hash) {
			attach(other.SignDigest(t, "x", d))
		}, cosign.ErrBadSignature},
		{"another digest", func(t *testing.T, attach func(...cosigntest.Signature), d v1.Hash) {
			attach(key.SignDigest(t, "x", otherDigest))
		}, cosign.ErrDigestMismatch},
		{"tampered payload", func(t *testing.T, attach func(...cosigntest.Signature), d v1.Hash) {
			s := key.SignDigest(t, "x", otherDigest)
			s.Payload = []byte(strings.Replace(string(s.Payload), otherDigest.String(), d.String(), 1))
			attach(s)
		}, cosign.ErrBadSignature},
	}
	for _, kind := range []string{"registry", "layout"} {
		for _, c := range cases {
			t.Run(kind+" "+c.name, func(t *testing.T) {
				src := signedSource(t, kind, c.sign)
				out := filepath.Join(t.TempDir(), "new", "out")
				var events []string
				spec := installer.Spec{Source: src, OutputDir: out, SourceDateEpoch: imagetest.Epoch,
					Verify: &installer.Verification{PublicKey: key.PublicPEM, KeyOrigin: "cosign.pub"}}
				res, err := installer.Run(context.Background(), spec, installer.WithProgress(func(e installer.Event) { events = append(events, e.Message) }))
				if c.is == nil {
					if err != nil {
						t.Fatalf("Run: %v", err)
					}
					if _, err := os.Stat(rawOf(t, res)); err != nil {
						t.Error(err)
					}
					if !strings.Contains(strings.Join(events, "\n"), ".sig verified with key cosign.pub") {
						t.Errorf("no verification event in %q", events)
					}
					return
				}
				if err == nil {
					t.Fatalf("Run built %v from a source that should be refused", res.Outputs)
				}
				t.Logf("error: %v", err)
				if !errors.Is(err, c.is) || !strings.Contains(err.Error(), "verifying cosign signature of "+src+" with key cosign.pub: ") {
					t.Errorf("error %v: want %v naming the source and key", err, c.is)
				}
				if _, serr := os.Stat(filepath.Dir(out)); !os.IsNotExist(serr) {
					t.Errorf("refused build left %s behind (%v)", filepath.Dir(out), serr)
				}
				if _, ierr := installer.Inspect(context.Background(), spec); !errors.Is(ierr, c.is) {
					t.Errorf("Inspect: %v, want %v", ierr, c.is)
				}
			})
		}
	}
}

func TestVerificationSpec(t *testing.T) {
	key := cosigntest.NewKey(t)
	cases := []struct {
		name string
		spec installer.Spec
		want string
	}{
		{"docker archive", installer.Spec{Source: "docker-archive:/d.tar", Verify: &installer.Verification{PublicKey: key.PublicPEM, KeyOrigin: "k.pub"}},
			"source verification of docker-archive:/d.tar: docker archives carry no registry manifest digest"},
		{"empty key", installer.Spec{Source: "r/x:v1", Verify: &installer.Verification{KeyOrigin: "k.pub"}},
			"source verification: public key k.pub: empty: unusable public key"},
		{"private key", installer.Spec{Source: "r/x:v1", Verify: &installer.Verification{KeyOrigin: "cosign.key",
			PublicKey: []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")}},
			"source verification: public key cosign.key: this is a private key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.OutputDir = t.TempDir()
			err := c.spec.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want %q", err, c.want)
			}
		})
	}
}

// TestVerificationOfIndex builds linux/amd64 from a multi-platform tag
// whose index, as `cosign sign` does for a tag, is what was signed.
func TestVerificationOfIndex(t *testing.T) {
	key := cosigntest.NewKey(t)
	idx, err := imagetest.Index(map[string]v1.Image{
		"linux/amd64": mustImage(t), "linux/arm64": mustImage(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	repo := imagetest.Registry(t) + "/multi"
	imagetest.PushIndex(t, repo+":v1", idx)
	spec := installer.Spec{Source: repo + ":v1", OutputDir: t.TempDir(), SourceDateEpoch: imagetest.Epoch,
		Verify: &installer.Verification{PublicKey: key.PublicPEM, KeyOrigin: "cosign.pub"}}
	if _, err := installer.Run(context.Background(), spec); !errors.Is(err, cosign.ErrNoSignature) {
		t.Fatalf("unsigned index: %v, want ErrNoSignature", err)
	}
	cosigntest.Push(t, repo, d, key.SignDigest(t, repo, d))
	res, err := installer.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Platform != "linux/amd64" {
		t.Errorf("built %s", res.Platform)
	}
}

func mustImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := imagetest.Image(imagetest.Derivative(2, "A")...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
